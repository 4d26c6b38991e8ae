"""`manifest`: write the Teams app package (manifest.json, color.png, outline.png) to upload to Teams."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from config.settings import Settings
from manifest.package import DEFAULT_VERSION, Developer, ManifestError, write_package

_DEFAULTS = Developer()


class Manifest:
    help = "write the Teams app package (a zip to upload in Teams or the Teams admin center)"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--app-id",
            help="the bot's Microsoft App ID (with a managed identity: its client id); "
            "default: MicrosoftAppId from the environment",
        )
        parser.add_argument(
            "--out", type=Path, default=Path("build/curfew-teams.zip"), help="the zip to write"
        )
        parser.add_argument(
            "--version", default=DEFAULT_VERSION, help="the app version; raise it for every update you upload"
        )
        parser.add_argument("--developer-name", default=_DEFAULTS.name, help="your organisation's name")
        parser.add_argument("--website-url", default=_DEFAULTS.website_url, help="https:// support page")
        parser.add_argument("--privacy-url", default=_DEFAULTS.privacy_url, help="https:// privacy statement")
        parser.add_argument("--terms-url", default=_DEFAULTS.terms_url, help="https:// terms of use")

    async def run(self, settings: Settings, args: argparse.Namespace) -> int:
        app_id = args.app_id or settings.bot.app_id
        if not app_id:
            print("manifest error: give --app-id (the bot's Microsoft App ID)", file=sys.stderr)
            return 2
        developer = Developer(args.developer_name, args.website_url, args.privacy_url, args.terms_url)
        try:
            out = write_package(app_id, args.out, version=args.version, developer=developer)
        except ManifestError as error:
            print(f"manifest error: {error}", file=sys.stderr)
            return 2
        except OSError as error:
            print(f"manifest error: cannot write {args.out}: {error.strerror or error}", file=sys.stderr)
            return 1
        print(f"wrote {out} (Teams app {app_id.lower()}, version {args.version})")
        if developer == _DEFAULTS:
            print(
                "note: the developer name and URLs are placeholders;"
                " set --developer-name, --website-url, --privacy-url and --terms-url",
                file=sys.stderr,
            )
        return 0
