"""The Teams app package: manifest.json (from manifest.template.json), color.png and outline.png in one zip.

The template holds `${...}` variables in its string values: the app id (the bot's Microsoft App ID, also
used as the Teams app id), the version and the developer's name and URLs, which an operator sets to their
own organisation's pages. The command menu comes from BOT_COMMANDS, one list per bot scope.
Limits come from the v1.22 schema and Teams' documentation; they are checked here so that a mistake reads
as one clear line instead of a rejected upload.
"""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

from manifest.make_icons import ACCENT

FOLDER = Path(__file__).parent
TEMPLATE = FOLDER / "manifest.template.json"
ICONS = ("color.png", "outline.png")
DEFAULT_VERSION = "1.0.0"

BOT_COMMANDS: tuple[tuple[str, str], ...] = (
    ("help", "What I can do, with examples"),
    ("status", "Your compute instances and what happens to each of them tonight"),
    ("keep", "keep NAME until WHEN [because WHY]: skip the curfew, e.g. keep gpu-ci until Friday"),
    ("release", "release NAME: end a keep-on, so the curfew applies again"),
    ("stop", "stop NAME: stop an instance now; I tell you when it is done"),
    ("start", "start NAME: start an instance now; I tell you when it is done"),
    ("morning start", "morning start on NAME [at 07:30]: start it on weekday mornings (or: off NAME)"),
    ("history", "history NAME: the last ten things that happened to an instance"),
    ("request an instance", "Ask for a new compute instance, e.g. request an instance Standard_DS3_v2"),
    ("my requests", "Your requests for new instances and where each one stands"),
)

MAX_SHORT_NAME = 30
MAX_SHORT_DESCRIPTION = 80
MAX_DEVELOPER_NAME = 32
MAX_COMMANDS = 10  # per command list, manifest v1.22
MAX_COMMAND_TITLE = 32  # Teams' documented limits; the schema allows more than Teams shows
MAX_COMMAND_DESCRIPTION = 128

_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_SEMVER = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$")
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the same bytes for the same inputs


class ManifestError(ValueError):
    """An input or a template value that Teams would refuse; the message names it."""


@dataclass(frozen=True, slots=True)
class Developer:
    """Shown on the app's page in Teams; the defaults are placeholders to replace with your own."""

    name: str = "Curfew"
    website_url: str = "https://curfew.example.com"
    privacy_url: str = "https://curfew.example.com/privacy"
    terms_url: str = "https://curfew.example.com/terms"


def build_manifest(
    app_id: str, *, version: str = DEFAULT_VERSION, developer: Developer | None = None
) -> dict[str, Any]:
    """manifest.json's content for the bot whose Microsoft App ID is `app_id`."""
    developer = developer or Developer()
    if not _GUID.match(app_id):
        raise ManifestError(
            f"app id: expected the bot's Microsoft App ID, a GUID such as "
            f"00000000-0000-0000-0000-000000000000, got {app_id!r}"
        )
    if not _SEMVER.match(version):
        raise ManifestError(f"version: expected MAJOR.MINOR.PATCH such as 1.0.0, got {version!r}")
    for field in ("website_url", "privacy_url", "terms_url"):
        url = getattr(developer, field)
        if not url.startswith("https://") or len(url) > 2048:
            raise ManifestError(f"developer {field}: expected an https:// URL, got {url!r}")
    values = {
        "app_id": app_id.lower(),
        "version": version,
        "developer_name": developer.name,
        "website_url": developer.website_url,
        "privacy_url": developer.privacy_url,
        "terms_url": developer.terms_url,
        "accent_color": ACCENT,
    }
    manifest: dict[str, Any] = _substitute(json.loads(TEMPLATE.read_text(encoding="utf-8")), values)
    for bot in manifest["bots"]:
        bot["commandLists"] = [
            {"scopes": [scope], "commands": [{"title": t, "description": d} for t, d in BOT_COMMANDS]}
            for scope in bot["scopes"]
        ]
    problems = limit_problems(manifest)
    if problems:
        raise ManifestError("; ".join(problems))
    return manifest


def limit_problems(manifest: dict[str, Any]) -> list[str]:
    """Lengths and counts over Teams' limits, one line each."""
    checks = [
        ("name.short", manifest["name"]["short"], MAX_SHORT_NAME),
        ("description.short", manifest["description"]["short"], MAX_SHORT_DESCRIPTION),
        ("developer.name", manifest["developer"]["name"], MAX_DEVELOPER_NAME),
    ]
    problems = [
        f"{key}: at most {limit} characters, got {len(s)}" for key, s, limit in checks if len(s) > limit
    ]
    if not manifest["developer"]["name"].strip():
        problems.append("developer.name: must not be empty")
    for bot in manifest.get("bots", []):
        for entry in bot.get("commandLists", []):
            if len(entry["commands"]) > MAX_COMMANDS:
                problems.append(f"commandLists{entry['scopes']}: at most {MAX_COMMANDS} commands")
            for command in entry["commands"]:
                if len(command["title"]) > MAX_COMMAND_TITLE:
                    problems.append(
                        f"command {command['title']!r}: title over {MAX_COMMAND_TITLE} characters"
                    )
                if len(command["description"]) > MAX_COMMAND_DESCRIPTION:
                    problems.append(
                        f"command {command['title']!r}: description over {MAX_COMMAND_DESCRIPTION} characters"
                    )
    return problems


def write_package(
    app_id: str, out: Path, *, version: str = DEFAULT_VERSION, developer: Developer | None = None
) -> Path:
    """Write the zip Teams uploads: manifest.json, color.png and outline.png at its root."""
    manifest = build_manifest(app_id, version=version, developer=developer)
    out.parent.mkdir(parents=True, exist_ok=True)
    files = {"manifest.json": (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8")}
    files.update({name: (FOLDER / name).read_bytes() for name in ICONS})
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files.items():
            entry = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            archive.writestr(entry, data)
    return out


def _substitute(node: Any, values: dict[str, str]) -> Any:
    """Replace `${name}` in every string of the parsed template; an unknown name is a KeyError."""
    if isinstance(node, str):
        return Template(node).substitute(values)
    if isinstance(node, list):
        return [_substitute(item, values) for item in node]
    if isinstance(node, dict):
        return {key: _substitute(item, values) for key, item in node.items()}
    return node
