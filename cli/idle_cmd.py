"""`idle [--dry-run] [--workspace ALIAS]`: the daily idle-shutdown pass now, like `sweep`.

An operator's explicit action: audited, run at once, outside the scheduled-run ledger; the owners get
their card as from the scheduled pass. `--dry-run` changes nothing and sends nothing.
"""

from __future__ import annotations

import argparse

from cli.passes import configure_pass, manual_run_id, unknown_workspaces
from cli.tables import render_table
from config.settings import Settings
from domain.idle import minutes_text
from scheduler.idle import IdlePass
from wiring import open_notifying


class Idle:
    help = "set Azure's idle shutdown now on every instance without one or over the bound"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        configure_pass(parser)

    async def run(self, settings: Settings, args: argparse.Namespace) -> int:
        async with open_notifying(settings) as (rt, notifier, _):
            if problem := unknown_workspaces(rt, args.workspace):
                print(problem)
                return 2
            report = await IdlePass(rt, notifier).run(
                rt.clock(), workspaces=args.workspace, dry_run=args.dry_run, run_id=manual_run_id("idle", rt)
            )
        rows = [
            [o.workspace, o.name, minutes_text(o.before), minutes_text(o.after), o.outcome]
            for o in report.outcomes
        ]
        print(render_table(["WORKSPACE", "INSTANCE", "IDLE BEFORE", "IDLE AFTER", "OUTCOME"], rows))
        print(report.summary())
        return 0 if all(o.ok for o in report.outcomes) else 1
