"""The Teams app package: zip layout, the official schema (offline, through node), icons, the command."""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import struct
import subprocess
import zipfile
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import app
from cli.commands import COMMANDS
from cli.manifest_cmd import Manifest
from config.settings import Settings
from domain.grammar import ParseError, parse_command
from manifest import make_icons
from manifest.package import BOT_COMMANDS, ManifestError, build_manifest, limit_problems, write_package
from tests.conftest import require

ROOT = Path(__file__).resolve().parent.parent
VALIDATOR = ROOT / "tests" / "validate_manifest.mjs"
APP_ID = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"


@pytest.fixture
def package(tmp_path: Path) -> Path:
    return write_package(APP_ID, tmp_path / "out" / "curfew-teams.zip")


def _read_manifest(package: Path) -> dict[str, Any]:
    with zipfile.ZipFile(package) as archive:
        return dict(json.loads(archive.read("manifest.json")))


# -- the package ------------------------------------------------------------------------------


def test_zip_holds_exactly_the_manifest_and_two_icons_at_its_root(package: Path) -> None:
    with zipfile.ZipFile(package) as archive:
        assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
        assert archive.testzip() is None
        assert archive.read("color.png") == (ROOT / "manifest" / "color.png").read_bytes()


def test_manifest_names_the_bot_and_lists_its_commands_in_every_scope(package: Path) -> None:
    manifest = _read_manifest(package)
    assert manifest["id"] == APP_ID
    (bot,) = manifest["bots"]
    assert bot["botId"] == APP_ID
    assert bot["scopes"] == ["personal", "team", "groupChat"]
    assert [entry["scopes"] for entry in bot["commandLists"]] == [["personal"], ["team"], ["groupChat"]]
    for entry in bot["commandLists"]:
        assert [c["title"] for c in entry["commands"]] == [title for title, _ in BOT_COMMANDS]
    assert manifest["icons"] == {"color": "color.png", "outline": "outline.png"}
    assert manifest["manifestVersion"] == "1.22"
    assert "${" not in json.dumps(manifest)
    assert limit_problems(manifest) == []


def test_same_inputs_give_the_same_zip_bytes(tmp_path: Path) -> None:
    first = write_package(APP_ID, tmp_path / "a.zip", version="2.3.4").read_bytes()
    assert write_package(APP_ID, tmp_path / "b.zip", version="2.3.4").read_bytes() == first


def test_every_menu_command_is_understood_by_the_chat_grammar() -> None:
    """Picking a command from the Teams menu sends its title: it must not read as gibberish."""
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    for title, _ in BOT_COMMANDS:
        parsed = parse_command(title, now, ZoneInfo("UTC"))
        if isinstance(parsed, ParseError):
            assert "did not understand" not in parsed.message, title
            assert parsed.hint, title


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"app_id": "not-a-guid"}, "expected the bot's Microsoft App ID, a GUID"),
        ({"app_id": "3f2504e0-4f89-41d3-9a0c-0305e82c330"}, "a GUID"),
        ({"version": "1.0"}, "version: expected MAJOR.MINOR.PATCH"),
        ({"version": "01.0.0"}, "version: expected MAJOR.MINOR.PATCH"),
    ],
)
def test_build_manifest_refuses_what_teams_would(kwargs: dict[str, str], message: str) -> None:
    arguments = {"app_id": APP_ID, **kwargs}
    with pytest.raises(ManifestError, match=message):
        build_manifest(arguments.pop("app_id"), **arguments)


def test_limits_catch_an_over_long_short_name_and_command() -> None:
    manifest = build_manifest(APP_ID)
    manifest["name"]["short"] = "C" * 31
    manifest["bots"][0]["commandLists"][0]["commands"].append({"title": "t" * 33, "description": "d"})
    assert limit_problems(manifest) == [
        "name.short: at most 30 characters, got 31",
        "commandLists['personal']: at most 10 commands",
        f"command {'t' * 33!r}: title over 32 characters",
    ]


# -- the official schema, offline -------------------------------------------------------------


def _validate(manifest: dict[str, Any], tmp_path: Path) -> tuple[int, dict[str, Any]]:
    node = shutil.which("node")
    require(node is not None, "Node.js is not installed: the manifest schema check needs it")
    for package in ("@microsoft/app-manifest", "fs-extra"):
        require(
            (ROOT / "node_modules" / package / "package.json").exists(),
            f"node_modules/{package} is missing: run `npm ci` (make test does)",
        )
    assert node is not None
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest), encoding="utf-8")
    done = subprocess.run(
        [node, str(VALIDATOR), str(path)], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode in (0, 1), done.stdout + done.stderr
    return done.returncode, dict(json.loads(done.stdout))


def test_generated_manifest_passes_the_official_schema(package: Path, tmp_path: Path) -> None:
    returncode, result = _validate(_read_manifest(package), tmp_path)
    assert result["errors"] == []
    assert returncode == 0
    assert result["schema"].endswith("json-schemas/teams/v1.22/MicrosoftTeams.schema.json")


def test_the_schema_check_reports_errors(package: Path, tmp_path: Path) -> None:
    manifest = _read_manifest(package)
    manifest["name"]["short"] = "Curfew for Azure Machine Learning"  # 33 characters
    del manifest["developer"]
    manifest["bots"][0]["commandLists"][0]["commands"] *= 2  # 20 commands
    returncode, result = _validate(manifest, tmp_path)
    assert returncode == 1
    errors = "\n".join(result["errors"])
    assert "/name/short must NOT have more than 30 characters" in errors
    assert "must have required property 'developer'" in errors
    assert "/bots/0/commandLists/0/commands must NOT have more than 10 items" in errors


# -- the icons --------------------------------------------------------------------------------


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    chunks, at = [], 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length : at + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind!r}"
        chunks.append((kind, body))
        at += 12 + length
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND"
    return chunks


def _size(data: bytes) -> tuple[int, int]:
    width, height = struct.unpack(">II", _chunks(data)[0][1][:8])
    return width, height


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def _pixels(data: bytes) -> list[tuple[int, int, int, int]]:
    """Decode an 8-bit RGBA non-interlaced PNG: inflate the IDAT data, undo each scanline's filter."""
    chunks = _chunks(data)
    width, height, depth, color_type, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (depth, color_type, interlace) == (8, 6, 0), "expected 8-bit RGBA, not interlaced"
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    stride, bpp = width * 4, 4
    assert len(raw) == height * (stride + 1)
    previous, out = bytearray(stride), bytearray()
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = previous[i], previous[i - bpp] if i >= bpp else 0
            predictor = {0: 0, 1: a, 2: b, 3: (a + b) // 2, 4: _paeth(a, b, c)}[kind]
            line[i] = (line[i] + predictor) & 0xFF
        out += line
        previous = line
    return [(out[i], out[i + 1], out[i + 2], out[i + 3]) for i in range(0, len(out), 4)]


def test_icon_sizes_are_what_teams_requires() -> None:
    assert _size((ROOT / "manifest" / "color.png").read_bytes()) == (192, 192)
    assert _size((ROOT / "manifest" / "outline.png").read_bytes()) == (32, 32)


def test_outline_icon_is_white_on_transparent() -> None:
    pixels = _pixels((ROOT / "manifest" / "outline.png").read_bytes())
    assert len(pixels) == 32 * 32
    assert all(p[3] == 0 or p[:3] == (255, 255, 255) for p in pixels)
    assert any(p[3] == 255 for p in pixels) and any(p[3] == 0 for p in pixels)


def test_color_icon_is_opaque_and_in_colour() -> None:
    pixels = _pixels((ROOT / "manifest" / "color.png").read_bytes())
    assert all(p[3] == 255 for p in pixels)
    assert len({p[:3] for p in pixels}) > 10
    assert any(p[0] != p[1] or p[1] != p[2] for p in pixels)


def test_the_decoder_undoes_every_png_filter() -> None:
    """The checker itself: a PNG whose rows use filters 1 to 4 decodes to the pixels written."""
    rows = [[(x * 9 % 256, y * 31 % 256, (x + y) * 7 % 256, 255 - x) for x in range(5)] for y in range(4)]
    raw = bytearray()
    previous = bytes(20)
    for kind, row in zip((1, 2, 3, 4), rows, strict=True):
        line = bytes(channel for pixel in row for channel in pixel)
        filtered = bytearray()
        for i in range(20):
            a, b, c = (line[i - 4] if i >= 4 else 0), previous[i], (previous[i - 4] if i >= 4 else 0)
            filtered.append((line[i] - {1: a, 2: b, 3: (a + b) // 2, 4: _paeth(a, b, c)}[kind]) & 0xFF)
        raw += bytes([kind]) + filtered
        previous = line
    png = make_icons.png_bytes(rows)
    header = png[: png.index(b"IDAT") - 4]
    idat = zlib.compress(bytes(raw))
    crafted = header + struct.pack(">I", len(idat)) + b"IDAT" + idat
    crafted += struct.pack(">I", zlib.crc32(b"IDAT" + idat)) + png[-12:]
    assert _pixels(crafted) == [pixel for row in rows for pixel in row]


def test_checked_in_icons_are_what_the_script_draws(tmp_path: Path) -> None:
    color, outline = make_icons.write_icons(tmp_path)
    assert _pixels(color.read_bytes()) == _pixels((ROOT / "manifest" / "color.png").read_bytes())
    assert _pixels(outline.read_bytes()) == _pixels((ROOT / "manifest" / "outline.png").read_bytes())


# -- the command ------------------------------------------------------------------------------


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    command = Manifest()
    command.configure(parser)
    return asyncio.run(command.run(Settings(), parser.parse_args(argv)))


def test_command_writes_the_package(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "build" / "teams.zip"
    assert _run(["--app-id", APP_ID.upper(), "--out", str(out), "--version", "1.2.3"]) == 0
    assert _read_manifest(out)["id"] == APP_ID
    assert _read_manifest(out)["version"] == "1.2.3"
    assert f"wrote {out}" in capsys.readouterr().out


def test_command_refuses_a_non_guid_app_id(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "teams.zip"
    assert _run(["--app-id", "curfew-bot", "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert "manifest error: app id: expected the bot's Microsoft App ID, a GUID" in error
    assert "'curfew-bot'" in error
    assert not out.exists()


def test_command_refuses_a_plain_http_developer_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--app-id", APP_ID, "--out", str(tmp_path / "t.zip"), "--privacy-url", "http://x.example"]
    assert _run(args) == 2
    assert "developer privacy_url: expected an https:// URL" in capsys.readouterr().err


def test_python_app_py_manifest_runs_with_no_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Through app.main as the command line runs it: settings load from defaults, no curfew.yaml."""
    monkeypatch.chdir(tmp_path)
    for name in ("CURFEW_CONFIG", "DATABASE_URL", "MicrosoftAppId"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setitem(COMMANDS, "manifest", Manifest())
    assert app.main(["manifest", "--app-id", APP_ID]) == 0
    assert (tmp_path / "build" / "curfew-teams.zip").exists()
    assert app.main(["manifest", "--app-id", "nope"]) == 2
    assert "manifest error: app id" in capsys.readouterr().err
    assert app.main(["manifest"]) == 2
    assert "give --app-id" in capsys.readouterr().err
