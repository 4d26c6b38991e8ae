"""Compute-instance requests: who asked for what, and where the request stands."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final, cast

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.util import identity_key

from storage.db import begun, reading
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
_REQUESTS: Final = cast(Table, ComputeRequestRow.__table__)
_BY_ID: Final = select(_REQUESTS).where(_REQUESTS.c.id == bindparam("id"))
_INSERT: Final = insert(_REQUESTS).returning(*_REQUESTS.c)
_ADD_CARDS: Final = (
    update(_REQUESTS)
    .where(
        _REQUESTS.c.id == bindparam("request_id"),
        _REQUESTS.c.state == bindparam("seen_state"),
        _REQUESTS.c.updated_at == bindparam("seen_at"),
    )
    .values(cards=bindparam("new_cards"), updated_at=bindparam("now"))
    .returning(*_REQUESTS.c)
)


def _request(row: Any) -> ComputeRequest:
    """From an ORM row or a Core row of compute_request (their names are the columns')."""
    return ComputeRequest(**{name: getattr(row, name) for name in _FIELDS})


class RequestRepository:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def add(self, *, session: Session | None = None, **values: Any) -> ComputeRequest:
        """One Core INSERT ... RETURNING (a request is added in a chat turn's write transaction), the
        columns' defaults as the ORM would apply them."""
        with begun(self._sessions, session) as session:
            row = session.execute(_INSERT, values).one()
            return _request(row)

    def get(self, request_id: int, *, session: Session | None = None) -> ComputeRequest | None:
        """Read as a Core row (every outbox step about a request reads it first), so always what the
        database holds, also in a transaction that changed the request."""
        with reading(self._sessions, session) as reader:
            row = reader.execute(_BY_ID, {"id": request_id}).first()
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

    def add_cards(
        self, seen: ComputeRequest, copies: list[dict[str, Any]], now: datetime, *, session: Session
    ) -> ComputeRequest | None:
        """Add card copies to the request as `seen` (read earlier), in one prebuilt compare-and-set on
        its state and `updated_at` (every write moves it); None when it changed since (read it again)."""
        params = {
            "request_id": seen.id,
            "seen_state": seen.state,
            "seen_at": seen.updated_at,
            "new_cards": [*seen.cards, *copies],
            "now": now,
        }
        row = session.execute(_ADD_CARDS, params).first()
        if row is not None:
            self._expire(session, seen.id)
        return _request(row) if row else None

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
        query = (
            update(_REQUESTS)
            .where(_REQUESTS.c.id == request_id, _REQUESTS.c.state.in_(from_states))
            .values(state=to_state, updated_at=now, **values)
            .returning(*_REQUESTS.c)
        )
        with begun(self._sessions, session) as session:
            row = session.execute(query).first()
            self._expire(session, request_id)
            return _request(row) if row else None

    @staticmethod
    def _expire(session: Session, request_id: int) -> None:
        stale = session.identity_map.get(identity_key(ComputeRequestRow, request_id))
        if stale is not None:  # a Core update leaves the session's ORM copy as it was
            session.expire(stale)
