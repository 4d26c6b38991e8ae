"""Compute-instance requests: who asked for what, and where the request stands."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from storage.db import begun
from storage.models import ComputeRequestRow


@dataclass(frozen=True, slots=True)
class ComputeRequest:
    id: int
    requester_object_id: str
    requester_tenant_id: str
    requester_name: str | None
    workspace: str
    name: str
    size: str
    purpose: str
    morning_start: bool
    state: str
    created_at: datetime
    updated_at: datetime
    decided_by: str | None = None
    comment: str | None = None
    error: str | None = None
    keep_on_id: int | None = None
    cards: list[dict[str, Any]] = field(default_factory=list)
    end_date: date | None = None


_FIELDS = tuple(ComputeRequest.__dataclass_fields__)


def _request(row: ComputeRequestRow) -> ComputeRequest:
    return ComputeRequest(**{name: getattr(row, name) for name in _FIELDS})


class RequestRepository:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def add(self, *, session: Session | None = None, **values: Any) -> ComputeRequest:
        with begun(self._sessions, session) as session:
            row = ComputeRequestRow(**values)
            session.add(row)
            session.flush()
            return _request(row)

    def get(self, request_id: int, *, session: Session | None = None) -> ComputeRequest | None:
        with begun(self._sessions, session) as session:
            row = session.get(ComputeRequestRow, request_id)
            return _request(row) if row else None

    def for_requester(self, object_id: str, limit: int = 20) -> list[ComputeRequest]:
        query = (
            select(ComputeRequestRow)
            .where(ComputeRequestRow.requester_object_id == object_id)
            .order_by(ComputeRequestRow.created_at.desc())
            .limit(limit)
        )
        with self._sessions() as session:
            return [_request(r) for r in session.scalars(query)]

    def count(self, object_id: str, states: Collection[str]) -> int:
        query = select(func.count()).where(
            ComputeRequestRow.requester_object_id == object_id, ComputeRequestRow.state.in_(states)
        )
        with self._sessions() as session:
            return int(session.scalar(query) or 0)

    def in_states(self, states: Collection[str]) -> list[ComputeRequest]:
        query = select(ComputeRequestRow).where(ComputeRequestRow.state.in_(states))
        with self._sessions() as session:
            return [_request(r) for r in session.scalars(query.order_by(ComputeRequestRow.id))]

    def transition(
        self,
        request_id: int,
        from_states: Collection[str],
        to_state: str,
        now: datetime,
        *,
        session: Session | None = None,
        **values: Any,
    ) -> ComputeRequest | None:
        """Move the request to `to_state` only from one of `from_states`; None if it was not there.

        The conditional update makes the first decision win when two approvers click at once.
        """
        with begun(self._sessions, session) as session:
            result = session.execute(
                update(ComputeRequestRow)
                .where(ComputeRequestRow.id == request_id, ComputeRequestRow.state.in_(from_states))
                .values(state=to_state, updated_at=now, **values)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return None
            row = session.get(ComputeRequestRow, request_id)
            return _request(row) if row else None
