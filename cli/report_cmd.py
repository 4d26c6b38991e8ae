"""`report`: what the curfew saved and what keep-ons cost, on the command line (as `report` in chat).

The operator sees every workspace (or one, with --workspace), from --since (a date, midnight in the
default zone; default: seven days ago) up to now.
"""

from __future__ import annotations

import argparse
from datetime import date, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from bot.cards.money import SIMULATED_MARK, day_label
from cli.tables import render_table
from config.settings import Settings
from domain.money import format_total
from domain.money_report import MoneyView, Period
from domain.schedule import local_instant
from domain.timefmt import format_local
from runtime import open_runtime
from scheduler.digest import Audience, MoneyReports


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date such as 2026-12-01, got {value!r}")


class Report:
    help = "what the curfew saved and what keep-ons cost since a date (default: the last 7 days)"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--since", type=_date, metavar="DATE", help="from this date (YYYY-MM-DD)")
        parser.add_argument("--workspace", metavar="ALIAS", help="only this workspace")

    async def run(self, settings: Settings, args: argparse.Namespace) -> int:
        zone = ZoneInfo(settings.timezone)
        async with open_runtime(settings) as rt:
            known = [w.alias for w in rt.fleet.workspaces]
            if args.workspace and args.workspace not in known:
                print(f"unknown workspace {args.workspace}; known: {', '.join(known)}")
                return 2
            now = rt.clock()
            since = local_instant(zone, args.since, time(0)) if args.since else now - timedelta(days=7)
            if since >= now:
                print(f"--since {args.since} is not in the past")
                return 2
            label = f"since {format_local(since, zone)}"
            reports = MoneyReports(rt)
            await reports.ledger.refresh(now)
            audience = Audience(frozenset([args.workspace] if args.workspace else known))
            view = await reports.view(
                f"Curfew's money {label}", Period(since, now, zone, label), now, audience
            )
        print(render_report(view))
        return 0


def render_report(view: MoneyView) -> str:
    r = view.report
    lines = [f"{view.title} (to {format_local(r.period.until, view.zone)})"]
    if r.simulated:
        lines.append(f"({SIMULATED_MARK})")
    stops = sum(n for _, n in r.stops_by_night)
    lines += [
        f"saved by the curfew: {format_total(r.saved, r.currency)} ({_h(r.saved_hours)} stopped)",
        f"spent on keep-ons:   {format_total(r.kept, r.currency)} ({_h(r.kept_hours)} kept on)",
        f"instances stopped:   {stops} over {len(r.stops_by_night)} night(s)",
    ]
    if r.unpriced_hours:
        lines.append(f"without a known price: {_h(r.unpriced_hours)} (not counted)")
    days = [[day_label(d), format_total(s, r.currency)] for d, s in r.saved_by_day]
    lines += ["", render_table(["DAY", "SAVED"], days)]
    rows = [
        [
            i.workspace,
            i.instance,
            i.size,
            format_total(i.saved, r.currency),
            _h(i.saved_hours),
            format_total(i.kept, r.currency),
            format_total(i.ran, r.currency),
        ]
        for i in r.instances
    ]
    header = ["WORKSPACE", "INSTANCE", "SIZE", "SAVED", "STOPPED", "KEEP-ONS", "RAN (ESTIMATED)"]
    lines += ["", render_table(header, rows) if rows else "no instance was stopped, kept or seen running"]
    if view.keep_ons:
        lines += ["", "keep-ons in force:", *(f"  {k.replace('**', '')}" for k in view.keep_ons)]
    return "\n".join(lines)


def _h(hours: Decimal) -> str:
    return f"{hours.quantize(Decimal('0.1'))} h"
