"""`idle [--dry-run] [--workspace ALIAS]`: the daily idle-shutdown pass now, like `sweep`.

An operator's explicit action: audited, run at once, outside the scheduled-run ledger; the owners get
their card as from the scheduled pass. `--dry-run` changes nothing and sends nothing.
"""

from __future__ import annotations

import argparse
import getpass

from cli.tables import render_table
from config.settings import Settings
from domain.idle import minutes_text
from scheduler.idle import IdlePass
from wiring import open_notifying


class Idle:
    help = "set Azure's idle shutdown now on every instance without one or over the bound"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="print what would change; change nothing")
        parser.add_argument(
            "--workspace", action="append", metavar="ALIAS", help="only this workspace (repeatable)"
        )

    async def run(self, settings: Settings, args: argparse.Namespace) -> int:
        async with open_notifying(settings) as (rt, notifier, _):
            known = {w.alias for w in rt.fleet.workspaces}
            unknown = set(args.workspace or ()) - known
            if unknown:
                print(f"unknown workspace {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
                return 2
            run_id = f"idle:manual:{_operator()}@{rt.clock().isoformat(timespec='seconds')}"
            report = await IdlePass(rt, notifier).run(
                rt.clock(), workspaces=args.workspace, dry_run=args.dry_run, run_id=run_id
            )
        rows = [
            [o.workspace, o.name, minutes_text(o.before), minutes_text(o.after), o.outcome]
            for o in report.outcomes
        ]
        print(render_table(["WORKSPACE", "INSTANCE", "IDLE BEFORE", "IDLE AFTER", "OUTCOME"], rows))
        print(report.summary())
        return 0 if all(o.ok for o in report.outcomes) else 1


def _operator() -> str:
    try:
        return f"operator:{getpass.getuser()}"
    except (KeyError, OSError):
        return "operator"
