"""The outbox: work that must follow a state change, written in the change's own transaction.

A chat turn that changes state (a keep-on, an approval, a stop asked for) commits, in one
transaction, the change, its audit row and an outbox row for each thing that must follow (create
the instance, follow a stop, tell the requester, refresh the cards). A worker on every replica
(bot/flows/worker.py) claims due rows and does them; so a promise survives a crash, and nothing is
half-written: either all of it is committed or none of it.

A claim is one UPDATE that stamps `claimed_by` (the claimer and a fresh token) and a lease
(`claimed_until`) on the due rows nobody holds; on PostgreSQL its inner select takes
`FOR UPDATE SKIP LOCKED`, so replicas claiming at once pass each other's rows by instead of
waiting; on SQLite the UPDATE takes the database's write lock before it reads, so two processes
serialize. A row whose claimer died is claimable again once its lease lapses. Finishing checks the
claim token, so a claimer whose lease was taken over cannot finish a row twice.

Times here are the wall clock (the worker's), not the domain's `now`: they schedule work.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, cast

from sqlalchemy import Integer, Select, Table, Update, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from storage.models import AuditRow, OutboxRow

log = logging.getLogger(__name__)


def wall_clock() -> datetime:
    return datetime.now(UTC)


class ClaimLost(Exception):
    """The row's lease lapsed and another worker holds it now: this transaction must not commit."""


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    kind: str
    payload: dict[str, Any]
    created_at: datetime
    claims: int
    """How often the row was claimed, this claim included: above 1 after a crash or a lost lease."""
    failures: int
    claim: str


def _item(row: Any) -> OutboxItem:
    assert row.claimed_by is not None
    return OutboxItem(
        row.id, row.kind, dict(row.payload), row.created_at, row.claims, row.failures, row.claimed_by
    )


def audit_values(e: Any) -> dict[str, Any]:
    """The audit row's columns for a storage.repositories.AuditEvent."""
    return {
        "at": e.at,
        "actor": e.actor,
        "action": e.action,
        "outcome": e.outcome,
        "reason": e.reason,
        "workspace": e.workspace,
        "instance": e.instance.lower() if e.instance else None,
        "run_id": e.run_id,
    }


@dataclass
class Tx:
    """One transaction: a state change, its audit rows and the work that must follow it."""

    session: Session
    enqueued: int = 0
    _later: list[Callable[[], None]] = field(default_factory=list)

    def audit(self, *events: Any) -> None:
        """`events` are storage.repositories.AuditEvent values; inserted at once, as Core rows (an ORM
        object per row cost a unit-of-work flush on every turn that changes state)."""
        for e in events:
            self.session.execute(_AUDIT_INSERT, audit_values(e))

    def audit_many(self, events: Sequence[Any]) -> None:
        """`audit` for a run's thousands of rows: one executemany, no ORM object per row (a
        10,000-instance sweep's trail went from about 2 s to a fraction of it)."""
        if events:
            self.session.execute(insert(AuditRow), [audit_values(e) for e in events])

    def enqueue(self, kind: str, payload: dict[str, Any], *, delay: float = 0.0) -> None:
        now = wall_clock()
        values = {"kind": kind, "payload": payload, "created_at": now, "claims": 0, "failures": 0}
        self.session.execute(_OUTBOX_INSERT, values | {"due_at": now + timedelta(seconds=delay)})
        self.enqueued += 1

    def complete(self, item: OutboxItem, outcome: str = "done") -> None:
        """Mark `item` done in this transaction; ClaimLost (so nothing commits) if it is not ours."""
        result = self.session.execute(_FINISH, _finishing(item, wall_clock(), outcome, None))
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise ClaimLost(f"outbox row {item.id} is no longer claimed by this worker")


_ROWS: Final = OutboxRow.__table__.c
_DUE: Final = (
    select(_ROWS.id)
    .where(
        _ROWS.done_at.is_(None),
        _ROWS.due_at <= bindparam("now"),
        or_(_ROWS.claimed_until.is_(None), _ROWS.claimed_until < bindparam("now")),
    )
    .order_by(_ROWS.due_at, _ROWS.id)
    .limit(bindparam("limit", type_=Integer))
)


_AUDIT: Final = cast(Table, AuditRow.__table__)
_OUTBOX: Final = cast(Table, OutboxRow.__table__)


def _claiming(due: Select[Any]) -> Update:
    return (
        update(_OUTBOX)
        .where(_ROWS.id.in_(due.scalar_subquery()))
        .values(claimed_by=bindparam("token"), claimed_until=bindparam("until"), claims=_ROWS.claims + 1)
        .returning(*_ROWS)
    )


_CLAIM: Final = _claiming(_DUE)
_CLAIM_SKIPPING_LOCKED: Final = _claiming(_DUE.with_for_update(skip_locked=True))
"""Built once (the worker claims after every transaction that enqueues work): one Core UPDATE ...
RETURNING the claimed rows."""
_AUDIT_INSERT: Final = insert(_AUDIT)
_OUTBOX_INSERT: Final = insert(_OUTBOX)
_MINE: Final = (
    (_ROWS.id == bindparam("row_id")) & (_ROWS.claimed_by == bindparam("claim")) & _ROWS.done_at.is_(None)
)
"""The row, still claimed by this claim and not done: what finishing and giving back require."""
_FINISH: Final = (
    update(_OUTBOX)
    .where(_MINE)
    .values(
        done_at=bindparam("done"),
        claimed_until=None,
        outcome=bindparam("finished_as"),
        last_error=bindparam("error"),
    )
)
"""Built once, as Core: every outbox row is finished once (in the work's own transaction or after)."""


def _finishing(item: OutboxItem, now: datetime, outcome: str, error: str | None) -> dict[str, Any]:
    return {"row_id": item.id, "claim": item.claim, "done": now, "finished_as": outcome, "error": error}


class Outbox:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self.listeners: list[Callable[[], None]] = []
        """Called (from a worker thread) after a transaction that enqueued work commits."""

    def notify(self) -> None:
        for listener in list(self.listeners):
            listener()

    def claim(self, owner: str, now: datetime, lease: float, limit: int = 16) -> list[OutboxItem]:
        """Claim up to `limit` due rows that nobody holds; the claimed items."""
        token = f"{owner}#{uuid.uuid4().hex[:12]}"
        with self._sessions.begin() as session:
            postgres = session.get_bind().dialect.name == "postgresql"
            params = {"now": now, "limit": limit, "token": token, "until": now + timedelta(seconds=lease)}
            rows = session.execute(_CLAIM_SKIPPING_LOCKED if postgres else _CLAIM, params)
            return sorted((_item(r) for r in rows), key=lambda item: item.id)

    def finish(
        self, item: OutboxItem, now: datetime, outcome: str = "done", error: str | None = None
    ) -> bool:
        """Mark a claimed row done; False when the claim was lost (another worker has it)."""
        with self._sessions.begin() as session:
            result = session.execute(_FINISH, _finishing(item, now, outcome, error))
            return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def later(self, item: OutboxItem, due_at: datetime, *, error: str | None = None) -> bool:
        """Give a claimed row back, due at `due_at`; with `error`, as one more failure."""
        values: dict[str, Any] = {"due_at": due_at, "claimed_until": None}
        if error is not None:
            values |= {"failures": _ROWS.failures + 1, "last_error": error[:2000]}
        with self._sessions.begin() as session:
            query = update(_OUTBOX).where(_MINE).values(**values)
            result = session.execute(query, {"row_id": item.id, "claim": item.claim})
            return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def release(self, owner: str) -> int:
        """Give back every row `owner` holds (a clean shutdown), so another replica takes them at once."""
        with self._sessions.begin() as session:
            result = session.execute(
                update(OutboxRow)
                .where(OutboxRow.claimed_by.startswith(f"{owner}#"), OutboxRow.done_at.is_(None))
                .values(claimed_until=None)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    def prune(self, before: datetime) -> int:
        """Delete rows done before `before` (their story is in the audit trail); how many."""
        with self._sessions.begin() as session:
            result = session.execute(
                delete(OutboxRow).where(OutboxRow.done_at.is_not(None), OutboxRow.done_at < before)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    def next_due(self) -> datetime | None:
        """When the earliest undone row is due; None when nothing is left to do."""
        with self._sessions() as session:
            return session.scalar(select(func.min(OutboxRow.due_at)).where(OutboxRow.done_at.is_(None)))

    def rows(self) -> list[OutboxRow]:
        """Every row, oldest first (tests and the command line)."""
        with self._sessions() as session:
            return list(session.scalars(select(OutboxRow).order_by(OutboxRow.id)))
