"""What Curfew itself knows of when instances started: its own starts in the audit trail, and since
when it has seen them running (the usage spans of the savings ledger).

Azure's `lastOperation` says when an instance started only when its last operation was a Start or
Restart that succeeded; after a Resize, a failed Stop, or on an old instance with no last operation,
this is what is left (scheduler/snapshot.py fills the gap with it).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from domain.model import InstanceKey
from storage.models import AuditRow, UsageSpanRow

_STARTS = {("morning", "started"), ("morning start", "started"), ("chat start", "running")}
"""Audit (action, outcome) pairs of a start Curfew made and Azure confirmed or accepted."""
_STOPS = {("curfew", "stopped"), ("chat stop", "stopped")}


@dataclass(frozen=True, slots=True)
class KnownStart:
    started_at: datetime | None
    """Curfew's own last start, when no stop of Curfew's came after it."""
    seen_running_since: datetime | None
    """The start of the open usage span: it was running then at the latest."""


class StartTimeRepository:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def known_starts(self, keys: Collection[InstanceKey]) -> dict[InstanceKey, KnownStart]:
        wanted = {(k.workspace, k.name.lower()): k for k in keys}
        if not wanted:
            return {}
        workspaces = {w for w, _ in wanted}
        names = {n for _, n in wanted}
        actions = {a for a, _ in _STARTS | _STOPS}
        events = select(AuditRow).where(
            AuditRow.workspace.in_(workspaces), AuditRow.instance.in_(names), AuditRow.action.in_(actions)
        )
        spans = select(UsageSpanRow).where(
            UsageSpanRow.workspace.in_(workspaces),
            UsageSpanRow.instance.in_(names),
            UsageSpanRow.stopped_at.is_(None),
        )
        started: dict[tuple[str, str], datetime | None] = {}
        seen: dict[tuple[str, str], datetime] = {}
        with self._sessions() as session:
            for row in session.scalars(events.order_by(AuditRow.at, AuditRow.id)):
                key = (row.workspace or "", row.instance or "")
                if (row.action, row.outcome) in _STARTS:
                    started[key] = row.at
                elif (row.action, row.outcome) in _STOPS:
                    started[key] = None
            for span in session.scalars(spans):
                key = (span.workspace, span.instance.lower())
                seen[key] = min(seen.get(key, span.started_at), span.started_at)
        return {
            key: KnownStart(started.get(pair), seen.get(pair))
            for pair, key in wanted.items()
            if started.get(pair) or pair in seen
        }

    def last_stops(self, keys: Collection[InstanceKey]) -> dict[InstanceKey, datetime]:
        """When Curfew itself last stopped each instance (its audit trail), keyed (workspace, lower-case
        name): how long a stopped instance has not run when Azure gives no last operation."""
        wanted = {(k.workspace, k.name.lower()) for k in keys}
        if not wanted:
            return {}
        query = select(AuditRow).where(
            AuditRow.workspace.in_({w for w, _ in wanted}),
            AuditRow.instance.in_({n for _, n in wanted}),
            AuditRow.action.in_({a for a, _ in _STOPS}),
        )
        found: dict[InstanceKey, datetime] = {}
        with self._sessions() as session:
            for row in session.scalars(query.order_by(AuditRow.at)):
                pair = (row.workspace or "", (row.instance or "").lower())
                if pair in wanted and (row.action, row.outcome) in _STOPS:
                    found[InstanceKey(*pair)] = row.at
        return found
