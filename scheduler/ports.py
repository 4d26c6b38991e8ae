"""What the scheduler needs from the layers above it, declared here so that scheduler/ never imports
bot/: someone to tell people things, and the pending work of the conversation to expire.

The composition root (wiring.py) plugs in the Teams implementations from bot/flows/; the command
line and tests may plug in the logging ones from scheduler/notify.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Protocol

from domain.idle import IdleNotice
from domain.lifecycle import LifeDecision
from domain.money_report import MoneyView
from scheduler.notify import DeliveryResult, OwnerWarning


class Notifier(Protocol):
    """Tells people what the scheduler did or is about to do."""

    async def warn(self, warnings: Sequence[OwnerWarning]) -> list[DeliveryResult]:
        """One warning per owner before a curfew; the admins hear of owners who could not be reached."""
        ...

    async def tell(self, aad_object_id: str, tenant_id: str | None, text: str) -> DeliveryResult: ...

    async def money(self, aad_object_id: str, tenant_id: str | None, view: MoneyView) -> DeliveryResult:
        """The weekly digest (or any money view) to one admin."""
        ...

    async def idle_changed(
        self, aad_object_id: str, tenant_id: str | None, notices: Sequence[IdleNotice]
    ) -> DeliveryResult:
        """One card to an owner: the idle shutdown Curfew set on their instances."""
        ...

    async def lifecycle(self, decision: LifeDecision, kind: str, day: date, now: datetime) -> DeliveryResult:
        """One lifecycle card (kind: remind, propose, last notice, stale) to the owner or, for
        propose, the workspace's admins; sent once per instance, kind and `day` (SKIPPED: already)."""
        ...


class PendingWork(Protocol):
    """Work the conversation started that waits on people: requests to expire. (What must follow a
    state change is in the outbox, done by its worker on every replica, not by the scheduler.)"""

    async def expire(self, now: datetime) -> int:
        """Expire what waited too long for a decision; how many."""
        ...


class NoPendingWork:
    """For a scheduler without a conversation (the command line)."""

    async def expire(self, now: datetime) -> int:
        return 0
