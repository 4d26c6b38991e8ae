"""Money reports: the weekly digest to workspace admins, and the views behind `report` in chat and CLI.

The digest goes out at `report.weekly_at` (default Monday 09:00) in each workspace zone, as a
scheduled run claimed in the run ledger like the curfew (`digest:ZONE`), so two replicas send it
once. It covers the seven days up to its scheduled instant: saved, spent on keep-ons, instances
stopped per night, the five most expensive instances, keep-ons in force, owners the warning could not
reach (audit: warning/unreachable) and stops that failed (audit: curfew/failed). Each admin gets one
view of the workspaces they administer (in demo mode, `demo_admins`), through the notifier port,
which turns it into a card (bot/flows/notifier.py).
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from compute.port import FleetError
from domain.lifecycle import stale_reason
from domain.model import WEEKDAYS, Instance, InstanceKey, KeepOn
from domain.money import format_total
from domain.money_report import MoneyView, Period, Priced
from domain.people import person
from domain.schedule import local_instant
from domain.timefmt import format_local
from runtime import Runtime
from scheduler.notify import Delivery, LoggingNotifier
from scheduler.ports import Notifier
from scheduler.savings import SavingsLedger
from storage.repositories import AuditEvent

log = logging.getLogger(__name__)
_TO = re.compile(r"^to (\S+): ")


@dataclass(frozen=True, slots=True)
class Audience:
    """Whose money a reader sees: some workspaces (an admin), or one owner's instances."""

    workspaces: frozenset[str] | None = None
    owner: str | None = None

    def admits(self, workspace: str | None, owner: str | None) -> bool:
        if self.workspaces is not None and workspace not in self.workspaces:
            return False
        return self.owner is None or (owner or "").lower() == self.owner.lower()

    def sees(self, item: Priced) -> bool:
        return self.admits(item.workspace, item.owner_object_id)


def period_for(kind: Literal["week", "month"], now: datetime, zone: ZoneInfo) -> Period:
    days = 7 if kind == "week" else 30
    return Period(now - timedelta(days=days), now, zone, f"the last {days} days")


def last_digest(zone: ZoneInfo, weekday: str, at: time, now: datetime) -> datetime:
    """The most recent weekly digest instant at or before `now`."""
    today = now.astimezone(zone).date()
    for back in range(8):
        day = today - timedelta(days=back)
        instant = local_instant(zone, day, at)
        if WEEKDAYS[day.weekday()] == weekday and instant <= now:
            return instant
    raise AssertionError("a weekday recurs every week")


class MoneyReports:
    def __init__(self, rt: Runtime, notifier: Notifier | None = None) -> None:
        """`notifier` sends the digest; without one (a report read in chat or CLI) nothing is sent."""
        self._rt = rt
        self._notifier: Notifier = notifier or LoggingNotifier()
        self.ledger = SavingsLedger(rt)

    async def view(
        self, title: str, period: Period, now: datetime, audience: Audience, *, digest: bool = False
    ) -> MoneyView:
        """The money card's content for `audience`; call `ledger.refresh(now)` first."""
        store = self._rt.store
        report = await self.ledger.report(period, now, audience.sees, refresh=False)
        keeps = await store.call(store.keep_ons.in_force, now)
        lines = [_keep_line(k, period.zone) for k in keeps if audience.admits(k.workspace, k.owner_object_id)]
        unreachable: list[str] = []
        failed: list[str] = []
        seen: list[AuditEvent] = []
        if digest:
            events = [e for e in await store.call(store.audit.since, period.since) if e.at < period.until]
            seen = [e for e in events if audience.admits(e.workspace, None)]
            failed = [
                f"**{e.instance}** ({e.workspace}) at {format_local(e.at, period.zone)}: {e.reason}"
                for e in seen
                if e.action == "curfew" and e.outcome == "failed"
            ]
        people = {i.owner_object_id for i in report.most_expensive if i.owner_object_id}
        people |= {m.group(1) for e in seen if (m := _TO.match(e.reason))}
        names = await self._names(people)
        sprawl: list[str] = []
        if digest:
            unreachable = _unreachable(seen, period.zone, names)
            sprawl = await self._sprawl(audience, now)
        return MoneyView(
            title,
            report,
            period.zone,
            lines,
            unreachable,
            failed,
            audience.owner is not None,
            digest,
            names,
            sprawl,
        )

    async def _sprawl(self, audience: Audience, now: datetime) -> list[str]:
        """The digest's sprawl section: stale instances, then per owner the instances without an end date."""
        life, store = self._rt.settings.lifecycle.policy(), self._rt.store
        stale: list[tuple[Instance, str]] = []
        no_end: dict[str | None, list[Instance]] = defaultdict(list)
        unread: list[str] = []
        for ws in self._rt.fleet.workspaces:
            if not audience.admits(ws.alias, None):
                continue
            try:
                instances = await self._rt.fleet.list_instances(ws.alias)
            except FleetError:
                unread.append(f"workspace {ws.alias} could not be read just now")
                continue
            ends = await store.call(store.life.ends, [i.key for i in instances])
            for i in sorted(instances, key=lambda i: i.name):
                if (why := stale_reason(i, life, now)) is not None:
                    stale.append((i, why))
                if InstanceKey(i.workspace, i.name.lower()) not in ends:
                    no_end[i.owner_object_id].append(i)
        names = await self._names(
            {i.owner_object_id for i, _ in stale if i.owner_object_id} | {o for o in no_end if o}
        )
        lines = [
            f"**{i.name}** ({i.workspace}), owner {person(i.owner_object_id, names)}: {why}"
            for i, why in stale
        ]
        for owner, found in sorted(no_end.items(), key=lambda kv: person(kv[0], names)):
            listed = ", ".join(f"{i.name} ({i.workspace})" for i in found)
            lines.append(f"{person(owner, names)}: no end date on {listed}")
        return lines + unread

    async def _names(self, people: Collection[str]) -> dict[str, str]:
        """Display names, by object id in lower case: Teams' (conversation references), else Azure's."""
        store = self._rt.store
        names = {p.lower(): self.ledger.names[p.lower()] for p in people if p.lower() in self.ledger.names}
        names.update(await store.call(store.conversations.names, sorted(people)))
        return names

    async def send_digest(self, aliases: Sequence[str], instant: datetime, now: datetime, run_id: str) -> str:
        """One card per admin of these workspaces, covering the week up to `instant`."""
        settings = self._rt.settings
        admins: dict[str, list[str]] = {}
        for alias in aliases:
            for admin in settings.admins_of(alias):
                admins.setdefault(admin.lower(), []).append(alias)
        if not admins:
            return f"no admin to send the digest of {', '.join(aliases) or 'no workspace'} to"
        zone = settings.policy(aliases[0]).zone
        period = Period(instant - timedelta(days=7), instant, zone, "the last 7 days")
        await self.ledger.refresh(now, aliases)
        outcomes = []
        for admin, theirs in sorted(admins.items()):
            view = await self.view(
                f"Curfew's week: {', '.join(theirs)}", period, now, Audience(frozenset(theirs)), digest=True
            )
            delivered = await self._notifier.money(admin, settings.teams.tenant_id, view)
            outcome = delivered.delivery.value
            outcomes.append(outcome)
            r = view.report
            reason = f"to {admin}: saved {format_total(r.saved)}, keep-ons {format_total(r.kept)}"
            event = AuditEvent(now, "curfew", "digest", outcome, reason, ",".join(theirs), None, run_id)
            await self._rt.store.call(self._rt.store.audit.record, event)
        sent = outcomes.count(Delivery.SENT.value)
        return f"digest to {len(outcomes)} admin(s): {sent} sent, {len(outcomes) - sent} not"


def _keep_line(k: KeepOn, zone: ZoneInfo) -> str:
    why = f": {k.reason}" if k.reason else ""
    pending = " (pending approval)" if k.state.value == "pending_approval" else ""
    until = format_local(k.until, zone)
    return f"**{k.instance}** ({k.workspace}) until {until} by {k.created_by}{pending}{why}"


def _unreachable(events: Collection[AuditEvent], zone: ZoneInfo, names: Mapping[str, str]) -> list[str]:
    lines = []
    for e in events:
        if e.action == "warning" and e.outcome == "unreachable":
            owner = _TO.match(e.reason)
            who = person(owner.group(1), names) if owner else "unknown"
            lines.append(f"**{e.instance}** ({e.workspace}): owner {who}, {format_local(e.at, zone)}")
    return lines
