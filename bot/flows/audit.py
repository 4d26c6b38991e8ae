"""One line in the audit trail for something a person asked, about an instance or a request."""

from __future__ import annotations

from datetime import datetime

from domain.model import Instance
from storage.repositories import AuditEvent, Store
from storage.requests_repo import ComputeRequest


def audit_event(
    at: datetime,
    actor: str,
    action: str,
    outcome: str,
    reason: str,
    subject: Instance | ComputeRequest | None,
) -> AuditEvent:
    """`action` as the trail names it ("chat keep", "warning keep_1h", "request approve")."""
    if isinstance(subject, ComputeRequest):
        what = f"#{subject.id} {reason}".strip()
        return AuditEvent(at, actor, action, outcome, what, subject.workspace or None, subject.name or None)
    if isinstance(subject, Instance):
        return AuditEvent(at, actor, action, outcome, reason, subject.workspace, subject.name)
    return AuditEvent(at, actor, action, outcome, reason)


async def record(store: Store, event: AuditEvent) -> None:
    await store.call(store.audit.record, event)
