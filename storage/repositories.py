"""Repositories: the only code that reads and writes Curfew's tables.

Each method is one short transaction, or joins the caller's when given `session=` (see
`Store.atomically`: a state change, its audit rows and its outbox rows commit together). Methods
are synchronous; async callers go through `Store.call` or `Store.atomically`, which run them in a
worker thread so the event loop never waits on the database. A database that fails (down,
unreachable, timing out) surfaces as `StorageError` there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from typing import Any, Final, ParamSpec, TypeVar, cast

from sqlalchemy import Engine, Table, bindparam, func, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from domain.lifecycle import clamp_keep
from domain.model import UNNAMED_PERSON, InstanceKey, KeepOn, KeepOnState, MorningStart
from storage.db import (
    DEFAULT_MAX_CONNECTIONS,
    autoflushed,
    begun,
    make_engine,
    make_sessions,
    reading,
    upgrade,
)
from storage.guard import InstanceGuard
from storage.ledger import RunLedger
from storage.life_repo import LifeRepository, end_instants
from storage.models import AuditRow, ConversationRefRow, KeepOnRow, MorningStartRow
from storage.money_repo import MoneyLedgerRepository
from storage.outbox import Outbox, Tx
from storage.prices_repo import PriceRepository
from storage.requests_repo import RequestRepository
from storage.security_log import SecurityLog
from storage.start_times import StartTimeRepository
from storage.warnings_repo import WarningRepository

P = ParamSpec("P")
T = TypeVar("T")

REFERENCE_TOUCH = timedelta(hours=1)
"""An unchanged conversation reference is rewritten at most this often (to keep `updated_at` useful)."""
IN_FORCE = (KeepOnState.ACTIVE.value, KeepOnState.PENDING_APPROVAL.value)


class StorageError(Exception):
    """The database failed (down, unreachable, timing out); whatever was being written is not."""


@dataclass(frozen=True, slots=True)
class NewKeepOn:
    workspace: str
    instance: str
    owner_object_id: str | None
    starts_at: datetime
    until: datetime
    reason: str
    created_by: str
    created_by_name: str | None
    state: KeepOnState
    in_force_until: datetime | None = None
    stop_at_end: bool = False


def _keep_on(row: Any) -> KeepOn:
    """A `KeepOnRow`, or a Core row of its table (the hot reads below skip the ORM)."""
    return KeepOn(
        id=row.id,
        workspace=row.workspace,
        instance=row.instance,
        owner_object_id=row.owner_object_id,
        starts_at=row.starts_at,
        until=row.until,
        reason=row.reason,
        created_by=row.created_by_name or UNNAMED_PERSON,  # never a bare object id in a card
        state=KeepOnState(row.state),
        in_force_until=row.in_force_until,
        stop_at_end=row.stop_at_end,
    )


class KeepOnRepository:
    def __init__(self, sessions: sessionmaker[Session], guard: InstanceGuard) -> None:
        self._sessions = sessions
        self._guard = guard

    def add(self, new: NewKeepOn, now: datetime, *, session: Session | None = None) -> KeepOn:
        """Record an exception, under the instance's guard (see storage/guard.py)."""
        key = InstanceKey(new.workspace, new.instance)
        with begun(self._sessions, session) as session, self._guard.within(session, key):
            values = {
                "workspace": new.workspace,
                "instance": new.instance.lower(),
                "owner_object_id": new.owner_object_id,
                "starts_at": new.starts_at,
                "until": new.until,
                "in_force_until": new.in_force_until,
                "reason": new.reason,
                "created_by": new.created_by,
                "created_by_name": new.created_by_name,
                "created_at": now,
                "state": new.state.value,
                "stop_at_end": new.stop_at_end,
            }
            return _keep_on(session.execute(_ADD_KEEP_ON, values).one())

    def get(self, keep_on_id: int) -> KeepOn | None:
        with reading(self._sessions) as reader:
            row = reader.execute(_KEEP_ON_BY_ID, {"id": keep_on_id}).first()
            return _keep_on(row) if row else None

    def in_force(self, now: datetime, keys: Iterable[InstanceKey] | None = None) -> list[KeepOn]:
        """Active or pending exceptions that have not ended by `now`, optionally for some instances."""
        with self._sessions() as session:
            return in_force_within(session, now, keys)

    def release(self, key: InstanceKey, by: str, now: datetime, *, session: Session | None = None) -> int:
        """End every exception in force for the instance; returns how many ended."""
        with begun(self._sessions, session) as session:
            result = session.execute(
                update(KeepOnRow)
                .where(
                    KeepOnRow.workspace == key.workspace,
                    KeepOnRow.instance == key.name.lower(),
                    KeepOnRow.state.in_(IN_FORCE),
                    KeepOnRow.until > now,
                )
                .values(state=KeepOnState.RELEASED.value, decided_by=by, ended_at=now)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    def decide(
        self, keep_on_id: int, state: KeepOnState, by: str, now: datetime, *, session: Session | None = None
    ) -> KeepOn | None:
        """Move a pending exception to `state` once; None when it was no longer pending."""
        with begun(self._sessions, session) as session:
            result = session.execute(
                update(KeepOnRow)
                .where(KeepOnRow.id == keep_on_id, KeepOnRow.state == KeepOnState.PENDING_APPROVAL.value)
                .values(state=state.value, decided_by=by, decided_at=now)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return None
            row = session.get(KeepOnRow, keep_on_id)
            return _keep_on(row) if row else None

    def ended_delays(self, now: datetime) -> list[KeepOn]:
        """Curfew delays (stop_at_end) that have ended and still wait for their stop."""
        query = select(KeepOnRow).where(
            KeepOnRow.stop_at_end.is_(True),
            KeepOnRow.state == KeepOnState.ACTIVE.value,
            KeepOnRow.until <= now,
        )
        with self._sessions() as session:
            return [_keep_on(r) for r in session.scalars(query.order_by(KeepOnRow.until))]

    def close(self, keep_on_id: int, state: KeepOnState, now: datetime) -> None:
        with self._sessions.begin() as session:
            session.execute(
                update(KeepOnRow).where(KeepOnRow.id == keep_on_id).values(state=state.value, ended_at=now)
            )

    def expire(self, now: datetime) -> int:
        with self._sessions.begin() as session:
            result = session.execute(
                update(KeepOnRow)
                .where(
                    KeepOnRow.state.in_(IN_FORCE), KeepOnRow.until <= now, KeepOnRow.stop_at_end.is_(False)
                )
                .values(state=KeepOnState.EXPIRED.value, ended_at=now)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]


_KEEP_ONS: Final = KeepOnRow.__table__.c
_IN_FORCE_ALL: Final = (
    select(KeepOnRow.__table__)
    .where(_KEEP_ONS.state.in_(IN_FORCE), _KEEP_ONS.until > bindparam("now"))
    .order_by(_KEEP_ONS.id)
)
_IN_FORCE_OF: Final = _IN_FORCE_ALL.where(
    _KEEP_ONS.workspace.in_(bindparam("workspaces", expanding=True)),
    _KEEP_ONS.instance.in_(bindparam("names", expanding=True)),
)
_IN_FORCE_FOR_ONE: Final = _IN_FORCE_ALL.where(
    _KEEP_ONS.workspace == bindparam("workspace"), _KEEP_ONS.instance == bindparam("instance")
)
_KEEP_ON_BY_ID: Final = select(KeepOnRow.__table__).where(_KEEP_ONS.id == bindparam("id"))
"""Built once: every chat turn asks for the keep-ons in force, and the sweep once before each stop;
building the statement and loading ORM objects cost four times the query itself (Core rows, read by
`_keep_on`)."""
_ADD_KEEP_ON: Final = insert(cast(Table, KeepOnRow.__table__)).returning(*_KEEP_ONS)
"""A keep-on is added by one INSERT ... RETURNING, not an ORM object flushed (inside a chat turn's
write transaction)."""


def in_force_within(
    session: Session, now: datetime, keys: Iterable[InstanceKey] | None = None
) -> list[KeepOn]:
    """`KeepOnRepository.in_force` in a given session (the sweep's re-check, on its guard's connection)."""
    if keys is None:
        return _within_life(
            session, now, [_keep_on(r) for r in autoflushed(session).execute(_IN_FORCE_ALL, {"now": now})]
        )
    wanted = {(k.workspace, k.name.lower()) for k in keys}
    if not wanted:
        return []
    params = {
        "now": now,
        "workspaces": sorted({w for w, _ in wanted}),
        "names": sorted({n for _, n in wanted}),
    }
    rows = autoflushed(session).execute(_IN_FORCE_OF, params).all()
    return _within_life(session, now, [_keep_on(r) for r in rows if (r.workspace, r.instance) in wanted])


def in_force_for(session: Session, now: datetime, key: InstanceKey) -> list[KeepOn]:
    """`in_force_within` for one instance: the sweep's re-check right before its stop."""
    params = {"now": now, "workspace": key.workspace, "instance": key.name.lower()}
    rows = autoflushed(session).execute(_IN_FORCE_FOR_ONE, params).all()
    return _within_life(session, now, [_keep_on(r) for r in rows])


def _within_life(session: Session, now: datetime, keep_ons: list[KeepOn]) -> list[KeepOn]:
    """No keep-on reaches past its instance's end (issue 18): each is clamped to the end's instant,
    and one whose instance has ended holds no more."""
    if not keep_ons:
        return keep_ons
    ends = end_instants(session, [k.key for k in keep_ons])
    clamped = [
        clamp_keep(k, ends[(k.workspace, k.instance)]) if (k.workspace, k.instance) in ends else k
        for k in keep_ons
    ]
    return [k for k in clamped if k.until > now]


@dataclass(frozen=True, slots=True)
class ConversationRef:
    aad_object_id: str
    tenant_id: str
    user_name: str | None
    reference: dict[str, Any]
    local_timezone: str | None
    updated_at: datetime


MEMO_MOST = 100_000
REFERENCE_MEMO = timedelta(minutes=10)
"""How long this process trusts its memory of a stored reference (so an unchanged one costs no read);
short, so that a reference another replica stored meanwhile is caught up with soon."""


class ConversationRepository:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._stored: dict[tuple[str, str], ConversationRef] = {}
        """The reference as this process last read or wrote it, by (AAD object id, tenant)."""

    def known_unchanged(self, ref: ConversationRef) -> bool:
        """True when `ref` is the one this process stored or read a short while ago (no database
        read needed: `upsert` would change nothing)."""
        seen = self._stored.get((ref.aad_object_id, ref.tenant_id))
        return (
            seen is not None
            and seen.reference == ref.reference
            and ref.user_name in (None, seen.user_name)
            and ref.local_timezone in (None, seen.local_timezone)
            and ref.updated_at - seen.updated_at < min(REFERENCE_TOUCH, REFERENCE_MEMO)
        )

    def upsert(self, ref: ConversationRef) -> bool:
        """Store the latest reference for a user; True when the user was new. Idempotent."""
        key = (ref.aad_object_id, ref.tenant_id)
        if self.known_unchanged(ref):
            return False
        self._stored.pop(key, None)
        with self._sessions.begin() as session:
            row = session.get(ConversationRefRow, key)
            if row is None:
                session.add(ConversationRefRow(**_ref_values(ref)))
                new, stored = True, ref
            else:
                unchanged = (
                    row.reference == ref.reference
                    and ref.user_name in (None, row.user_name)
                    and ref.local_timezone in (None, row.local_timezone)
                    and ref.updated_at - row.updated_at < REFERENCE_TOUCH
                )
                if not unchanged:  # most turns: no write, so turns do not queue on the write lock
                    row.reference = ref.reference
                    row.user_name = ref.user_name or row.user_name
                    row.local_timezone = ref.local_timezone or row.local_timezone
                    row.updated_at = ref.updated_at
                new, stored = False, replace(ref, user_name=row.user_name, local_timezone=row.local_timezone)
        # committed: remembered from now (memory is trusted only for REFERENCE_MEMO)
        if len(self._stored) >= MEMO_MOST:
            self._stored.clear()
        self._stored[key] = stored
        return new

    def get(self, aad_object_id: str, tenant_id: str | None = None) -> ConversationRef | None:
        """The user's reference (the latest one when no tenant is named); every proactive message
        reads it, so from statements built once, as Core rows."""
        with reading(self._sessions) as reader:
            if tenant_id:
                query, params = _REF_IN_TENANT, {"aad": aad_object_id, "tenant": tenant_id}
            else:
                query, params = _REF_LATEST, {"aad": aad_object_id}
            row = reader.execute(query, params).first()
            return _ref(row) if row else None

    def names(self, aad_object_ids: Iterable[str]) -> dict[str, str]:
        """The display name Teams last gave for each of these people (AAD object ids, any case) that
        Curfew has talked to; the people it has not are missing."""
        wanted = {i.lower() for i in aad_object_ids if i}
        if not wanted:
            return {}
        with self._sessions() as session:
            query = (
                select(ConversationRefRow.aad_object_id, ConversationRefRow.user_name)
                .where(ConversationRefRow.user_name.is_not(None))
                .where(func.lower(ConversationRefRow.aad_object_id).in_(sorted(wanted)))
                .order_by(ConversationRefRow.updated_at)
            )
            return {aad.lower(): str(name) for aad, name in session.execute(query) if name}


def _ref_values(ref: ConversationRef) -> dict[str, Any]:
    return {
        "aad_object_id": ref.aad_object_id,
        "tenant_id": ref.tenant_id,
        "user_name": ref.user_name,
        "reference": ref.reference,
        "local_timezone": ref.local_timezone,
        "updated_at": ref.updated_at,
    }


_REFS: Final = ConversationRefRow.__table__.c
_REF_LATEST: Final = (
    select(ConversationRefRow.__table__)
    .where(_REFS.aad_object_id == bindparam("aad"))
    .order_by(_REFS.updated_at.desc())
    .limit(1)
)
_REF_IN_TENANT: Final = select(ConversationRefRow.__table__).where(
    _REFS.aad_object_id == bindparam("aad"), _REFS.tenant_id == bindparam("tenant")
)


def _ref(row: Any) -> ConversationRef:
    """A `ConversationRefRow`, or a Core row of its table."""
    return ConversationRef(
        row.aad_object_id, row.tenant_id, row.user_name, row.reference, row.local_timezone, row.updated_at
    )


@dataclass(frozen=True, slots=True)
class AuditEvent:
    at: datetime
    actor: str
    action: str
    outcome: str
    reason: str = ""
    workspace: str | None = None
    instance: str | None = None
    run_id: str | None = None


class AuditLog:
    """The append-only audit trail: there is no update and no delete here, on purpose."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def record(self, *events: AuditEvent) -> None:
        with self._sessions.begin() as session:
            Tx(session).audit_many(events)

    def for_instance(self, key: InstanceKey, limit: int = 10) -> list[AuditEvent]:
        query = (
            select(AuditRow)
            .where(AuditRow.workspace == key.workspace, AuditRow.instance == key.name.lower())
            .order_by(AuditRow.at.desc(), AuditRow.id.desc())
            .limit(limit)
        )
        with self._sessions() as session:
            return [_event(r) for r in session.scalars(query)]

    def since(
        self, start: datetime, *, run_id: str | None = None, instance: str | None = None
    ) -> list[AuditEvent]:
        query = select(AuditRow).where(AuditRow.at >= start)
        if run_id is not None:
            query = query.where(AuditRow.run_id == run_id)
        if instance is not None:
            query = query.where(AuditRow.instance == instance.lower())
        with self._sessions() as session:
            return [_event(r) for r in session.scalars(query.order_by(AuditRow.at, AuditRow.id))]


def _event(row: AuditRow) -> AuditEvent:
    return AuditEvent(
        row.at, row.actor, row.action, row.outcome, row.reason, row.workspace, row.instance, row.run_id
    )


class MorningStartRepository:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def set(self, item: MorningStart, by: str, now: datetime, *, session: Session | None = None) -> None:
        at = item.at.strftime("%H:%M") if item.at else None
        with begun(self._sessions, session) as session:
            row = session.get(MorningStartRow, (item.workspace, item.instance.lower()))
            if row is None:
                session.add(
                    MorningStartRow(
                        workspace=item.workspace,
                        instance=item.instance.lower(),
                        enabled=item.enabled,
                        at=at,
                        set_by=by,
                        updated_at=now,
                    )
                )
            else:
                row.enabled, row.at, row.set_by, row.updated_at = item.enabled, at, by, now

    def all(self) -> list[MorningStart]:
        with self._sessions() as session:
            return [
                MorningStart(r.workspace, r.instance, r.enabled, time.fromisoformat(r.at) if r.at else None)
                for r in session.scalars(select(MorningStartRow))
            ]


class Store:
    """Every repository over one engine, plus `call` to use them from async code."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        sessions = make_sessions(engine)
        self.sessions = sessions
        self.guard = InstanceGuard(engine)
        self.keep_ons = KeepOnRepository(sessions, self.guard)
        self.conversations = ConversationRepository(sessions)
        self.audit = AuditLog(sessions)
        self.security = SecurityLog(sessions)
        self.runs = RunLedger(sessions)
        self.requests = RequestRepository(sessions)
        self.mornings = MorningStartRepository(sessions)
        self.prices = PriceRepository(sessions)
        self.money = MoneyLedgerRepository(sessions)
        self.outbox = Outbox(sessions)
        self.start_times = StartTimeRepository(sessions)
        self.life = LifeRepository(sessions)
        self.warnings = WarningRepository(sessions)

    @classmethod
    def open(cls, url: str, *, migrate: bool = True, max_connections: int = DEFAULT_MAX_CONNECTIONS) -> Store:
        """`max_connections`: what one process may hold on PostgreSQL (`database_pool_size`)."""
        engine = make_engine(url, max_connections=max_connections)
        if migrate:
            upgrade(engine)
        return cls(engine)

    async def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await asyncio.to_thread(_translated, fn, *args, **kwargs)

    async def atomically(self, work: Callable[[Tx], T]) -> T:
        """`work(tx)` in one transaction: all of its writes commit, or none does."""
        return await asyncio.to_thread(_translated, self._atomically, work)

    def _atomically(self, work: Callable[[Tx], T]) -> T:
        with self.sessions.begin() as session:
            tx = Tx(session)
            result = work(tx)
        if tx.enqueued:
            self.outbox.notify()
        return result

    def close(self) -> None:
        self.guard.close()
        self.engine.dispose()


def _translated(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run `fn`; a failing database becomes StorageError (a broken unique constraint stays itself)."""
    try:
        return fn(*args, **kwargs)
    except IntegrityError:
        raise
    except (DBAPIError, PoolTimeout) as error:
        cause = error.orig if isinstance(error, DBAPIError) else error
        raise StorageError(f"the database failed: {type(cause).__name__}") from error
