"""The pre-curfew warning: who is about to lose which instance, told through the notifier.

An instance without an owner is reported to its workspace's admins (DECISIONS.md, rule 3).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import datetime

from domain.decide import Action, Decision, RunKind, decide, group_warnings
from ops.metrics import curfew_metrics
from runtime import Runtime
from scheduler.notify import Delivery, DeliveryResult, OwnerWarning
from scheduler.ports import Notifier
from scheduler.snapshot import read_fleet
from storage.repositories import AuditEvent
from storage.warnings_repo import NewWarning

log = logging.getLogger(__name__)


@dataclass
class WarnReport:
    run_id: str
    warnings: list[OwnerWarning] = field(default_factory=list)
    deliveries: list[DeliveryResult] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.failures and all(d.delivery is not Delivery.FAILED for d in self.deliveries)


class Warner:
    def __init__(self, rt: Runtime, notifier: Notifier) -> None:
        self._rt = rt
        self._notifier = notifier

    async def warn(
        self,
        *,
        now: datetime | None = None,
        dry_run: bool = False,
        workspaces: Collection[str] | None = None,
        run_id: str | None = None,
        actor: str = "curfew",
    ) -> WarnReport:
        now = now or self._rt.clock()
        report = WarnReport(run_id or f"warning@{now.isoformat()}", dry_run=dry_run)
        snap = await read_fleet(self._rt, workspaces, now)
        report.failures = [f"{o.instance.workspace}: {o.detail}" for o in snap.failures]
        decisions = decide(
            RunKind.WARNING, now, snap.instances, snap.keep_ons, snap.jobs, self._rt.policies()
        )
        report.warnings = self.address(decisions)
        if not dry_run and report.warnings:
            report.warnings = await self._recorded(report.warnings, now)
            report.deliveries = await self._notifier.warn(report.warnings)
            curfew_metrics().warned(d.delivery.value for d in report.deliveries)
            await self._rt.store.call(self._rt.store.audit.record, *self._audit(report, actor, now))
        log.info(
            "warning run %s%s: %d owner(s), %d instance(s) to stop",
            report.run_id,
            " (dry run)" if dry_run else "",
            len(report.warnings),
            sum(len(w.to_stop) for w in report.warnings),
        )
        return report

    def address(self, decisions: list[Decision]) -> list[OwnerWarning]:
        """One warning per owner with something to stop; unowned instances go to the admins."""
        warnings = []
        for owner, owned in group_warnings(decisions).items():
            if not any(d.action is Action.WARN for d in owned):
                continue
            for recipient, tenant in self._recipients(owner, owned):
                instant = next(d.instant for d in owned if d.instant is not None)
                warnings.append(OwnerWarning(recipient, tenant, instant, tuple(owned)))
        return warnings

    async def _recorded(self, warnings: list[OwnerWarning], now: datetime) -> list[OwnerWarning]:
        """Each warning stored before it is sent, so that its card's clicks can name it by id."""
        new = [
            NewWarning(w.owner_object_id, w.curfew_at, tuple(d.instance.key for d in w.decisions))
            for w in warnings
        ]
        sent = await self._rt.store.call(self._rt.store.warnings.add, new, now)
        return [replace(w, warning_id=s.id) for w, s in zip(warnings, sent, strict=True)]

    def _recipients(self, owner: str | None, owned: list[Decision]) -> list[tuple[str | None, str | None]]:
        default_tenant = self._rt.settings.teams.tenant_id
        if owner is not None:
            return [(owner, owned[0].instance.owner_tenant_id or default_tenant)]
        admins = self._rt.settings.admins_of(owned[0].instance.workspace)
        return [(admin, default_tenant) for admin in admins] or [(None, default_tenant)]

    @staticmethod
    def _audit(report: WarnReport, actor: str, now: datetime) -> list[AuditEvent]:
        events = []
        for warning, delivery in zip(report.warnings, report.deliveries, strict=True):
            for d in warning.to_stop:
                events.append(
                    AuditEvent(
                        at=now,
                        actor=actor,
                        action="warning",
                        outcome=delivery.delivery.value,
                        reason=f"to {warning.owner_object_id or 'nobody (no owner, no admin)'}: {d.reason}"
                        + (f" ({delivery.detail})" if delivery.detail else ""),
                        workspace=d.instance.workspace,
                        instance=d.instance.name,
                        run_id=report.run_id,
                    )
                )
        return events
