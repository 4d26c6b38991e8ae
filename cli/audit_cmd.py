"""`audit`: the audit trail as a table (who, when, what, outcome, reason), or with --refusals the
security log, so an admin can answer "who kept this on?" or "who tried?" without SQL.

Times are in the default zone (`timezone`), people by the name Teams gave Curfew, else their object
id. --since is a date (midnight in the default zone); the default is the last 30 days.
"""

from __future__ import annotations

import argparse
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from cli.report_cmd import _date
from cli.tables import render_table
from config.settings import Settings
from domain.schedule import local_instant
from storage.repositories import AuditEvent, Store
from storage.security_log import SecurityEvent

DEFAULT_DAYS = 30


class Audit:
    help = "the audit trail as a table (who, when, what, outcome, reason); --refusals: the security log"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--instance", metavar="NAME", help="only this compute instance")
        parser.add_argument("--since", type=_date, metavar="DATE", help="from this date (YYYY-MM-DD)")
        parser.add_argument(
            "--refusals", action="store_true", help="refused attempts (the security log) instead"
        )

    async def run(self, settings: Settings, args: argparse.Namespace) -> int:
        zone = ZoneInfo(settings.timezone)
        now = datetime.now(zone)
        since = local_instant(zone, args.since, time(0)) if args.since else now - timedelta(days=DEFAULT_DAYS)
        store = Store.open(settings.database_url, max_connections=settings.database_pool_size)
        try:
            if args.refusals:
                refused = await store.call(store.security.since, since, instance=args.instance)
                names = await store.call(store.conversations.names, [e.actor for e in refused])
                print(refusals_table(refused, names, zone))
                found = len(refused)
            else:
                events = await store.call(store.audit.since, since, instance=args.instance)
                names = await store.call(store.conversations.names, [e.actor for e in events])
                print(trail_table(events, names, zone))
                found = len(events)
        finally:
            store.close()
        what = "refused attempt row(s)" if args.refusals else "event(s)"
        scope = f" of {args.instance}" if args.instance else ""
        print(f"{found} {what}{scope} since {since:%Y-%m-%d %H:%M} {zone.key}")
        return 0


def _who(actor: str, names: dict[str, str]) -> str:
    name = names.get(actor.lower())
    return f"{name} ({actor})" if name else actor


def _instance(workspace: str | None, instance: str | None) -> str:
    return f"{instance}@{workspace}" if instance and workspace else instance or workspace or ""


def trail_table(events: list[AuditEvent], names: dict[str, str], zone: ZoneInfo) -> str:
    rows = [
        [
            f"{e.at.astimezone(zone):%Y-%m-%d %H:%M}",
            _who(e.actor, names),
            e.action,
            _instance(e.workspace, e.instance),
            e.outcome,
            e.reason,
        ]
        for e in events
    ]
    return render_table(["WHEN", "WHO", "WHAT", "INSTANCE", "OUTCOME", "REASON"], rows)


def refusals_table(events: list[SecurityEvent], names: dict[str, str], zone: ZoneInfo) -> str:
    rows = [
        [
            f"{e.first_at.astimezone(zone):%Y-%m-%d %H:%M}",
            f"{e.last_at.astimezone(zone):%H:%M}" if e.count > 1 else "",
            str(e.count),
            _who(e.actor, names),
            e.tenant_id or "(none)",
            e.kind,
            e.action,
            _instance(e.workspace, e.instance),
            e.reason,
        ]
        for e in events
    ]
    header = ["WHEN", "UNTIL", "TIMES", "WHO", "TENANT", "KIND", "WHAT", "INSTANCE", "REASON"]
    return render_table(header, rows)
