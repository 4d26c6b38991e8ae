"""The security log: refused attempts, kept apart from the audit trail that `history` shows.

A refusal (someone else's instance, another tenant, not an approver, a forged or unknown click) is
one row here, never an `audit_event`, so an owner's history shows what happened to the instance and
not who tried. The log is rate-limited per sender: the same attempt (sender, tenant, kind, action,
instance) within `WINDOW` of its row's first one only counts on that row, and one sender writes at
most `ROWS_PER_WINDOW` rows in a window (the rest count on their latest row), so a flood costs a
few rows, not one per request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from storage.models import SecurityEventRow

WINDOW = timedelta(minutes=10)
ROWS_PER_WINDOW = 20
UNKNOWN_SENDER = "(no aadObjectId)"


@dataclass(frozen=True, slots=True)
class Refused:
    """One refused attempt, as it happened."""

    at: datetime
    actor: str | None
    tenant_id: str | None
    kind: str
    """"other tenant", "not authorized", "forged"."""
    action: str
    reason: str = ""
    workspace: str | None = None
    instance: str | None = None


@dataclass(frozen=True, slots=True)
class SecurityEvent:
    """A row of the log: `count` attempts from `first_at` to `last_at`."""

    first_at: datetime
    last_at: datetime
    count: int
    actor: str
    tenant_id: str | None
    kind: str
    action: str
    reason: str
    workspace: str | None
    instance: str | None


def _clip(value: str | None, size: int) -> str | None:
    return value[:size] if value else value


class SecurityLog:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def record(self, event: Refused) -> None:
        actor = _clip((event.actor or UNKNOWN_SENDER).lower(), 64) or UNKNOWN_SENDER
        fields = {
            "tenant_id": _clip(event.tenant_id, 64),
            "kind": event.kind[:32],
            "action": event.action[:64],
            "workspace": _clip(event.workspace, 64),
            "instance": _clip(event.instance.lower() if event.instance else None, 64),
        }
        with self._sessions.begin() as session:
            recent = list(
                session.scalars(
                    select(SecurityEventRow)
                    .where(SecurityEventRow.actor == actor, SecurityEventRow.first_at > event.at - WINDOW)
                    .order_by(SecurityEventRow.last_at.desc(), SecurityEventRow.id.desc())
                    .with_for_update()
                )
            )
            same = next((r for r in recent if all(getattr(r, k) == v for k, v in fields.items())), None)
            row = same or (recent[0] if len(recent) >= ROWS_PER_WINDOW else None)
            if row is not None:
                row.count += 1
                row.last_at = max(row.last_at, event.at)
                return
            session.add(
                SecurityEventRow(
                    first_at=event.at, last_at=event.at, count=1, actor=actor, reason=event.reason, **fields
                )
            )

    def since(self, start: datetime | None = None, *, instance: str | None = None) -> list[SecurityEvent]:
        query = select(SecurityEventRow)
        if start is not None:
            query = query.where(SecurityEventRow.last_at >= start)
        if instance:
            query = query.where(SecurityEventRow.instance == instance.lower())
        with self._sessions() as session:
            rows = session.scalars(query.order_by(SecurityEventRow.first_at, SecurityEventRow.id))
            return [_event(r) for r in rows]


def _event(row: SecurityEventRow) -> SecurityEvent:
    return SecurityEvent(
        row.first_at,
        row.last_at,
        row.count,
        row.actor,
        row.tenant_id,
        row.kind,
        row.action,
        row.reason,
        row.workspace,
        row.instance,
    )
