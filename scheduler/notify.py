"""How Curfew tells people things: the notifier port, and a notifier that only logs.

The Teams notifier (bot/notifier.py) sends cards; the logging one serves the command line and
deployments without Teams.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from domain.decide import Action, Decision

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OwnerWarning:
    """What one owner (None: instances without an owner, for the admins) learns before a curfew."""

    owner_object_id: str | None
    tenant_id: str | None
    curfew_at: datetime
    decisions: tuple[Decision, ...]

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


class Notifier(Protocol):
    async def warn(self, warnings: Sequence[OwnerWarning]) -> list[DeliveryResult]: ...

    async def tell(self, aad_object_id: str, tenant_id: str | None, text: str) -> DeliveryResult: ...


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
