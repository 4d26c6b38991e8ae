"""The daily lifecycle pass: reminders before an instance's end, the stop of an ended one still
running, the deletion after the grace (admins' card, last notice and deletion, or only listed), and
the monthly question about a stale instance.

Scheduled once a day (`lifecycle:ZONE` at `lifecycle.at`), claimed in the run ledger like the curfew
(scheduler/service.py), so replicas run it once; `python app.py lifecycle` runs it now. Each card is
sent once per instance, kind and day (the notifier claims it in the notice ledger). One instance
failing never stops the others.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from compute.port import ActionResult, FleetError
from domain.lifecycle import LifeAction, LifeDecision, plan_lifecycle
from runtime import Runtime
from scheduler.notify import Delivery
from scheduler.ports import Notifier
from storage.repositories import AuditEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LifeOutcome:
    workspace: str
    name: str
    end: date | None
    action: str
    outcome: str
    """sent, already sent, stopped, deleted, listed, would ...; failed: why; unreadable: why."""

    @property
    def ok(self) -> bool:
        return not self.outcome.startswith(("failed", "unreadable"))


@dataclass(frozen=True, slots=True)
class LifeReport:
    run_id: str
    dry_run: bool
    outcomes: list[LifeOutcome] = field(default_factory=list)

    def summary(self) -> str:
        failed = sum(not o.ok for o in self.outcomes)
        return f"lifecycle: {len(self.outcomes)} action(s), {failed} failed"


_NOTICE_KIND = {
    LifeAction.REMIND: "remind",
    LifeAction.PROPOSE_DELETE: "propose",
    LifeAction.DELETE_NOTICE: "last notice",
    LifeAction.STALE: "stale",
}


_PASSIVE = (LifeAction.LISTED, LifeAction.END)


class LifePass:
    def __init__(self, rt: Runtime, notifier: Notifier) -> None:
        self._rt = rt
        self._notifier = notifier

    async def run(
        self, now: datetime, *, workspaces: Collection[str] | None = None, dry_run: bool = False, run_id: str
    ) -> LifeReport:
        report = LifeReport(run_id, dry_run)
        aliases = [w.alias for w in self._rt.fleet.workspaces if workspaces is None or w.alias in workspaces]
        life = self._rt.settings.lifecycle.policy()
        for alias in aliases:
            try:
                instances = await self._rt.fleet.list_instances(alias)
            except FleetError as error:
                report.outcomes.append(
                    LifeOutcome(alias, "(workspace)", None, "read", f"unreadable: {error}")
                )
                continue
            keys = [i.key for i in instances]
            ends = await self._rt.store.call(self._rt.store.life.ends, keys)
            keep_ons = await self._rt.store.call(self._rt.store.keep_ons.in_force, now, keys)
            stops = await self._rt.store.call(self._rt.store.start_times.last_stops, keys)
            decisions = plan_lifecycle(instances, ends, keep_ons, self._rt.policies(), life, now, stops)
            for d in decisions:
                outcome = await self._apply(d, now, run_id, dry_run)
                report.outcomes.append(LifeOutcome(alias, d.instance.name, d.end, d.action.value, outcome))
        log.info("%s: %s", run_id, report.summary())
        return report

    async def _apply(self, d: LifeDecision, now: datetime, run_id: str, dry_run: bool) -> str:
        try:
            if dry_run:
                return f"would {d.action.value}" if d.action not in _PASSIVE else _passive(d)
            return await self._act(d, now, run_id)
        except FleetError as error:
            await self._audit(d, now, run_id, "failed", str(error))
            return f"failed: {error}"
        except Exception as error:  # one instance never stops the pass
            log.exception("lifecycle %s of %s failed", d.action.value, d.instance.key)
            return f"failed: unexpected {type(error).__name__}; see Curfew's log"

    async def _act(self, d: LifeDecision, now: datetime, run_id: str) -> str:
        i = d.instance
        if d.action in _NOTICE_KIND:
            kind = _NOTICE_KIND[d.action] + (f" {d.remind_before}" if d.remind_before is not None else "")
            day = _notice_day(d, now, self._rt.policies()[i.workspace].zone)
            sent = await self._notifier.lifecycle(d, kind, day, now)
            if sent.delivery is Delivery.SKIPPED and sent.detail == "already sent":
                return "already sent"
            if sent.delivery is Delivery.UNREACHABLE and kind == "propose":
                return f"listed: {sent.detail}"
            if sent.delivery is Delivery.UNREACHABLE:
                return f"failed: {sent.detail}"
            await self._audit(d, now, run_id, kind, d.reason)
            return "sent" if sent.delivery is Delivery.SENT else sent.detail
        if d.action is LifeAction.STOP:
            result = await self._rt.fleet.stop(i.workspace, i.name)
            outcome = "already stopped" if result is ActionResult.ALREADY else "stopped"
            await self._audit(d, now, run_id, outcome, d.reason)
            return outcome
        if d.action is LifeAction.DELETE:
            await self._rt.fleet.delete(i.workspace, i.name)
            key = i.key
            await self._rt.store.call(self._rt.store.life.deleted, key, now)
            await self._audit(d, now, run_id, "deleted", d.reason)
            if i.owner_object_id:
                said = f"{i.name} ({i.workspace}) was deleted: {d.reason}."
                await self._notifier.tell(i.owner_object_id, i.owner_tenant_id, said)
            return "deleted"
        return _passive(d)

    async def _audit(self, d: LifeDecision, now: datetime, run_id: str, outcome: str, reason: str) -> None:
        i = d.instance
        event = AuditEvent(
            now, "curfew", f"lifecycle {d.action.value}", outcome, reason, i.workspace, i.name, run_id
        )
        await self._rt.store.call(self._rt.store.audit.record, event)


def _passive(d: LifeDecision) -> str:
    return "the curfew stops it tonight" if d.action is LifeAction.END else "listed"


def _notice_day(d: LifeDecision, now: datetime, zone: ZoneInfo) -> date:
    """The ledger's day: the end date for a reminder (each of `remind_days` once), today for the
    last notice, the month's first day for the stale question (one a month), the end of the grace
    for the admins' card (once for that end)."""
    today = now.astimezone(zone).date()
    if d.action is LifeAction.STALE:
        return today.replace(day=1)
    if d.action is LifeAction.PROPOSE_DELETE and d.delete_after is not None:
        return d.delete_after
    if d.action is LifeAction.REMIND and d.end is not None:
        return d.end
    return today
