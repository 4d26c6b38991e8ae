"""`lifecycle [--dry-run] [--workspace ALIAS]`: the daily lifecycle pass now, like `sweep`.

An operator's explicit action: audited, run at once, outside the scheduled-run ledger. Its cards go to
the outbox for the service's workers, each claimed once per instance, kind and day like the
scheduled pass's; `--dry-run` changes nothing and sends nothing.
"""

from __future__ import annotations

import argparse

from cli.passes import configure_pass, manual_run_id, unknown_workspaces
from cli.tables import render_table
from config.settings import Settings
from domain.lifecycle import day_text
from scheduler.lifecycle import LifePass
from wiring import open_notifying


class Lifecycle:
    help = "run the daily lifecycle pass now: reminders, ends, deletions after the grace, stale instances"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        configure_pass(parser)

    async def run(self, settings: Settings, args: argparse.Namespace) -> int:
        async with open_notifying(settings) as (rt, notifier, _):
            if problem := unknown_workspaces(rt, args.workspace):
                print(problem)
                return 2
            run_id = manual_run_id("lifecycle", rt)
            report = await LifePass(rt, notifier).run(
                rt.clock(), workspaces=args.workspace, dry_run=args.dry_run, run_id=run_id
            )
        rows = [
            [o.workspace, o.name, day_text(o.end) if o.end else "no end date", o.action, o.outcome]
            for o in report.outcomes
        ]
        print(render_table(["WORKSPACE", "INSTANCE", "END DATE", "ACTION", "OUTCOME"], rows))
        print(report.summary())
        return 0 if all(o.ok for o in report.outcomes) else 1
