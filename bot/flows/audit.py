"""One line in the audit trail for something a person asked, about an instance or a request; or, for
an attempt refused because it was not theirs to make, one line in the security log (never the
instance's history)."""

from __future__ import annotations

from datetime import datetime

from domain.model import Instance
from storage.repositories import AuditEvent, Store
from storage.requests_repo import ComputeRequest
from storage.security_log import Refused


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


async def record_refusal(
    store: Store,
    at: datetime,
    actor: str | None,
    tenant_id: str | None,
    action: str,
    reason: str,
    subject: Instance | ComputeRequest | None = None,
    *,
    kind: str = "not authorized",
) -> None:
    """A refused attempt to the security log (rate-limited there per sender)."""
    workspace = subject.workspace or None if subject is not None else None
    name = subject.name or None if subject is not None else None
    if isinstance(subject, ComputeRequest):
        reason = f"#{subject.id} {reason}".strip()
    event = Refused(at, actor, tenant_id, kind, action, reason, workspace, name)
    await store.call(store.security.record, event)
