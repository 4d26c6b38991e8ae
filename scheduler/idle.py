"""The daily idle-shutdown pass: every instance without Azure's idle shutdown, or with one longer than
the workspace's `idle_shutdown.max_minutes`, is set to `idle_shutdown.minutes`; each owner gets one card
listing what changed. With `enforce: false` the pass only reports.

Scheduled once a day (`idle:ZONE` at `idle_shutdown.at`), claimed in the run ledger like the curfew
(scheduler/service.py), so replicas run it once; `python app.py idle` runs it now. One instance
failing never stops the others.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from compute.port import FleetError
from domain.idle import IdleChange, IdleNotice, plan_idle
from domain.model import Instance
from domain.schedule import local_instant
from runtime import Runtime
from scheduler.ports import Notifier
from storage.repositories import AuditEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class IdleOutcome:
    workspace: str
    name: str
    before: int | None
    after: int | None
    outcome: str
    """set, would set, not enforced, failed: why; for an unreadable workspace: unreadable: why."""
    owner_object_id: str | None = None
    owner_tenant_id: str | None = None

    @property
    def ok(self) -> bool:
        return not self.outcome.startswith(("failed", "unreadable"))


@dataclass(frozen=True, slots=True)
class IdleReport:
    run_id: str
    dry_run: bool
    outcomes: list[IdleOutcome] = field(default_factory=list)

    def summary(self) -> str:
        changed = sum(o.outcome == "set" for o in self.outcomes)
        failed = sum(not o.ok for o in self.outcomes)
        return f"idle shutdown set on {changed} instance(s), {failed} failed"


class IdlePass:
    def __init__(self, rt: Runtime, notifier: Notifier) -> None:
        self._rt = rt
        self._notifier = notifier

    async def run(
        self, now: datetime, *, workspaces: Collection[str] | None = None, dry_run: bool = False, run_id: str
    ) -> IdleReport:
        report = IdleReport(run_id, dry_run)
        aliases = [w.alias for w in self._rt.fleet.workspaces if workspaces is None or w.alias in workspaces]
        for alias in aliases:
            try:
                instances = await self._rt.fleet.list_instances(alias)
            except FleetError as error:
                report.outcomes.append(IdleOutcome(alias, "(workspace)", None, None, f"unreadable: {error}"))
                continue
            policy = self._rt.settings.idle_policy(alias)
            for change in plan_idle(instances, policy):
                outcome = "would set" if dry_run else "set" if policy.enforce else "not enforced"
                if outcome == "set":
                    outcome = await self._apply(change, now, run_id)
                report.outcomes.append(_outcome(change, outcome))
        if not dry_run:
            await self._tell_owners(report)
        log.info("%s: %s", run_id, report.summary())
        return report

    async def _apply(self, change: IdleChange, now: datetime, run_id: str) -> str:
        i = change.instance
        try:
            await self._rt.fleet.set_idle_shutdown(i.workspace, i.name, change.after)
            outcome, reason = "set", f"{change.reason}; now {change.after} minutes"
        except FleetError as error:
            outcome, reason = f"failed: {error}", str(error)
        except Exception as error:  # one instance never stops the pass
            log.exception("idle shutdown of %s failed", i.key)
            outcome, reason = (
                f"failed: unexpected {type(error).__name__}; see Curfew's log",
                type(error).__name__,
            )
        kind = outcome.partition(":")[0]
        event = AuditEvent(now, "curfew", "idle shutdown", kind, reason, i.workspace, i.name, run_id)
        await self._rt.store.call(self._rt.store.audit.record, event)
        return outcome

    async def _tell_owners(self, report: IdleReport) -> None:
        by_owner: dict[tuple[str, str | None], list[IdleNotice]] = defaultdict(list)
        for o in report.outcomes:
            if o.outcome == "set" and o.owner_object_id:
                bound = self._rt.settings.idle_policy(o.workspace).max_minutes
                notice = IdleNotice(o.workspace, o.name, o.before, o.after, bound)
                by_owner[(o.owner_object_id, o.owner_tenant_id)].append(notice)
        for (owner, tenant), notices in by_owner.items():
            result = await self._notifier.idle_changed(owner, tenant, notices)
            log.info("idle shutdown card to %s: %s", owner, result.delivery.value)


def _outcome(change: IdleChange, outcome: str) -> IdleOutcome:
    i: Instance = change.instance
    return IdleOutcome(
        i.workspace, i.name, change.before, change.after, outcome, i.owner_object_id, i.owner_tenant_id
    )


def notices_text(notices: Sequence[IdleNotice]) -> str:
    return "; ".join(f"{n.name}: {n.before or 'off'} -> {n.after} minutes" for n in notices)


def last_daily(zone: ZoneInfo, at: time, now: datetime) -> datetime:
    """The most recent daily instant `at` (local time in `zone`) at or before `now`."""
    today = now.astimezone(zone).date()
    instant = local_instant(zone, today, at)
    return instant if instant <= now else local_instant(zone, today - timedelta(days=1), at)
