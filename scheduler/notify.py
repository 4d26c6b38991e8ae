"""What the scheduler tells people, as values, and a notifier that only logs it.

The port is `scheduler.ports.Notifier`; the Teams notifier (bot/flows/notifier.py) sends cards, the
logging one here serves the command line and deployments without Teams.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from domain.decide import Action, Decision
from domain.idle import IdleNotice
from domain.lifecycle import LifeDecision

if TYPE_CHECKING:
    from domain.money_report import MoneyView

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OwnerWarning:
    """What one owner (None: instances without an owner, for the admins) learns before a curfew."""

    owner_object_id: str | None
    tenant_id: str | None
    curfew_at: datetime
    decisions: tuple[Decision, ...]
    warning_id: str | None = None
    """The opaque id Curfew stored the warning under (storage/warnings_repo.py): its card's clicks name
    it, never the curfew's instant. None in a dry run."""

    @property
    def to_stop(self) -> tuple[Decision, ...]:
        return tuple(d for d in self.decisions if d.action is Action.WARN)


class Delivery(StrEnum):
    SENT = "sent"
    UNREACHABLE = "unreachable"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    owner_object_id: str | None
    delivery: Delivery
    detail: str = ""


class LoggingNotifier:
    """Writes each warning to the log; used when Teams is not wired in (command line, tests)."""

    async def warn(self, warnings: Sequence[OwnerWarning]) -> list[DeliveryResult]:
        results = []
        for w in warnings:
            names = ", ".join(f"{d.instance.name} ({d.reason})" for d in w.to_stop) or "nothing"
            log.info("warning for %s: %s", w.owner_object_id or "workspace admins", names)
            results.append(DeliveryResult(w.owner_object_id, Delivery.SENT, "logged"))
        return results

    async def tell(self, aad_object_id: str, tenant_id: str | None, text: str) -> DeliveryResult:
        log.info("message for %s: %s", aad_object_id, text)
        return DeliveryResult(aad_object_id, Delivery.SENT, "logged")

    async def money(self, aad_object_id: str, tenant_id: str | None, view: MoneyView) -> DeliveryResult:
        log.info("money view for %s: %s", aad_object_id, view.title)
        return DeliveryResult(aad_object_id, Delivery.SKIPPED, "logged")

    async def idle_changed(
        self, aad_object_id: str, tenant_id: str | None, notices: Sequence[IdleNotice]
    ) -> DeliveryResult:
        names = ", ".join(f"{n.name} {n.before} -> {n.after}" for n in notices)
        log.info("idle shutdown changed for %s: %s", aad_object_id, names)
        return DeliveryResult(aad_object_id, Delivery.SKIPPED, "logged")

    async def lifecycle(self, decision: LifeDecision, kind: str, day: date, now: datetime) -> DeliveryResult:
        i = decision.instance
        log.info("lifecycle %s for %s@%s: %s", kind, i.name, i.workspace, decision.reason)
        return DeliveryResult(i.owner_object_id, Delivery.SKIPPED, "logged")
