"""What the command line's daily passes (`idle`, `lifecycle`) share: their options, the check of
`--workspace`, and the operator a manual run is audited as."""

from __future__ import annotations

import argparse
import getpass

from runtime import Runtime


def configure_pass(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="print what would happen; change nothing")
    parser.add_argument(
        "--workspace", action="append", metavar="ALIAS", help="only this workspace (repeatable)"
    )


def unknown_workspaces(rt: Runtime, wanted: list[str] | None) -> str | None:
    """The line to print when `--workspace` names a workspace that is not configured, else None."""
    known = {w.alias for w in rt.fleet.workspaces}
    unknown = set(wanted or ()) - known
    if not unknown:
        return None
    return f"unknown workspace {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}"


def manual_run_id(kind: str, rt: Runtime) -> str:
    return f"{kind}:manual:{operator()}@{rt.clock().isoformat(timespec='seconds')}"


def operator() -> str:
    try:
        return f"operator:{getpass.getuser()}"
    except (KeyError, OSError):
        return "operator"
