"""`sweep` and `warn`: one curfew pass or one round of warnings, now, from the command line.

A manual sweep is an operator's explicit action: it runs at once, is audited, and does not claim
the scheduled-run ledger (DECISIONS.md, rule 4).
"""

from __future__ import annotations

import argparse

from cli.passes import operator
from cli.tables import render_table
from config.settings import Settings
from runtime import open_runtime
from scheduler.service import CurfewScheduler
from scheduler.sweep import Sweeper
from scheduler.warnings import Warner
from wiring import open_notifying


def _targets(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dry-run", action="store_true", help="decide and print; no write call, nothing sent"
    )
    parser.add_argument(
        "--workspace", action="append", metavar="ALIAS", help="only this workspace (repeatable)"
    )


class Sweep:
    help = "run one curfew pass now, whatever the hour, and print each instance's decision and outcome"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        _targets(parser)

    async def run(self, settings: Settings, args: argparse.Namespace) -> int:
        async with open_runtime(settings) as rt:
            unknown = set(args.workspace or ()) - {w.alias for w in rt.fleet.workspaces}
            if unknown:
                print(
                    f"unknown workspace {', '.join(sorted(unknown))}; known: "
                    f"{', '.join(w.alias for w in rt.fleet.workspaces)}"
                )
                return 2
            report = await Sweeper(rt).curfew(
                forced=True, dry_run=args.dry_run, workspaces=args.workspace, run_id=None, actor=operator()
            )
        rows = [
            [
                o.instance.workspace,
                o.instance.name,
                o.decision.action.value,
                o.decision.reason,
                o.kind.value + (f": {o.detail}" if o.detail else ""),
            ]
            for o in report.outcomes
        ]
        print(render_table(["WORKSPACE", "INSTANCE", "DECISION", "REASON", "OUTCOME"], rows))
        print(report.summary())
        return 0 if report.ok else 1


class Warn:
    help = "send now the warnings for the coming curfew"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        _targets(parser)

    async def run(self, settings: Settings, args: argparse.Namespace) -> int:
        async with open_notifying(settings) as (rt, notifier, _):
            report = await Warner(rt, notifier).warn(
                dry_run=args.dry_run, workspaces=args.workspace, actor=operator()
            )
        rows = []
        for index, w in enumerate(report.warnings):
            delivery = (
                report.deliveries[index].delivery.value if index < len(report.deliveries) else "not sent"
            )
            for d in w.decisions:
                rows.append(
                    [w.owner_object_id or "(admins)", d.instance.name, d.action.value, d.reason, delivery]
                )
        print(render_table(["OWNER", "INSTANCE", "DECISION", "REASON", "DELIVERY"], rows))
        for failure in report.failures:
            print(f"could not read {failure}")
        return 0 if report.ok else 1


class Scheduled:
    help = "run a scheduled job now as the scheduler would: claimed once across processes and restarts"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("kind", choices=["curfew", "warning", "morning", "digest", "idle", "lifecycle"])
        parser.add_argument("--zone", help="only this time zone (default: every zone with a workspace)")

    async def run(self, settings: Settings, args: argparse.Namespace) -> int:
        async with open_notifying(settings) as (rt, notifier, pending):
            scheduler = CurfewScheduler(rt, notifier, pending=pending)
            zones = [args.zone] if args.zone else list(scheduler.zones())
            failed = False
            for zone in zones:
                claim = await scheduler.run(args.kind, zone)
                if claim is None:
                    print(f"{args.kind} in {zone}: nothing due, or already claimed by another process")
                    continue
                record = await rt.store.call(rt.store.runs.get, claim.schedule_id, claim.scheduled_for)
                state = record.state.value if record else "unknown"
                failed |= state != "done" or " failed" in ((record.summary or "") if record else "")
                print(
                    f"{claim.run_id}: {state}{' (resumed)' if claim.resumed else ''}: "
                    f"{record.summary if record else ''}"
                )
        return 1 if failed else 0
