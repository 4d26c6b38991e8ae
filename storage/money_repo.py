"""The savings ledger in the database: entries (saved by a curfew stop, spent on a keep-on) and the
spans instances were seen running. (Price lists per region are in storage/prices_repo.py.)

The rules for closing an entry are domain/money.py's; `observe` applies them to what the fleet shows.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import case, insert, literal, or_, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from domain.model import KeepOnState
from domain.money import Money, Span, cost, keep_on_end, kept_span, saved_span
from domain.money_report import EntryKind, Priced, StopTrigger
from storage.models import KeepOnRow, MoneyLedgerRow, UsageSpanRow


@dataclass(frozen=True, slots=True)
class NewEntry:
    kind: EntryKind
    workspace: str
    instance: str
    size: str
    owner_object_id: str | None
    starts_at: datetime
    per_hour: Money | None
    simulated: bool
    run_id: str | None = None
    keep_on_id: int | None = None
    trigger: StopTrigger = StopTrigger.CURFEW
    credited: bool = True


@dataclass(frozen=True, slots=True)
class Seen:
    """One instance as a fleet read showed it."""

    workspace: str
    instance: str
    size: str
    owner_object_id: str | None
    running: bool
    """Running, or on its way (Starting): a saving ends when it runs again."""
    last_started_at: datetime | None


class MoneyLedgerRepository:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def record(self, entries: Sequence[NewEntry]) -> int:
        """Add entries; one already there (a resumed run, a keep-on seen by an earlier curfew) is skipped."""
        try:
            with self._sessions.begin() as session:  # one executemany: no ORM object per entry
                if entries:
                    session.execute(insert(MoneyLedgerRow), [_values(e) for e in entries])
            return len(entries)
        except IntegrityError:  # some are there already: one by one, skipping those
            added = 0
            for e in entries:
                try:
                    with self._sessions.begin() as session:
                        session.add(_row(e))
                    added += 1
                except IntegrityError:
                    continue
            return added

    def observe(self, seen: Sequence[Seen], now: datetime, complete: Collection[str]) -> None:
        """Close what the fleet shows has ended; track running spans. `complete`: workspaces fully read,
        where an instance missing from `seen` is gone."""
        by_key = {(s.workspace, s.instance.lower()): s for s in seen}
        with self._sessions.begin() as session:
            for row in session.scalars(select(MoneyLedgerRow).where(MoneyLedgerRow.ends_at.is_(None))):
                found = by_key.get((row.workspace, row.instance))
                gone = found is None and row.workspace in complete
                span, why = self._entry_span(session, row, found, gone, now)
                if span.closed:
                    _close(row, span.end, why)
            running: dict[tuple[str, str], list[UsageSpanRow]] = {}
            for span_row in session.scalars(select(UsageSpanRow).where(UsageSpanRow.stopped_at.is_(None))):
                key = (span_row.workspace, span_row.instance)
                running.setdefault(key, []).append(span_row)
                if span_row.workspace in complete and key not in by_key:
                    span_row.stopped_at = now  # gone
            new = [s for k, s in by_key.items() if s.running and not running.get(k)]
            known = _spans_since(session, new, now)
            tracked = (_track(s, running.get(key, []), now, known) for key, s in by_key.items())
            spans = [span_values for span_values in tracked if span_values is not None]
            if spans:  # one executemany: no ORM object per span (10,000 at a large curfew)
                session.execute(insert(UsageSpanRow), spans)

    def _entry_span(
        self, session: Session, row: MoneyLedgerRow, found: Seen | None, gone: bool, now: datetime
    ) -> tuple[Span, str]:
        gone_at = now if gone else None
        if row.kind == EntryKind.SAVED.value:
            start = found.last_started_at if found and found.running else None
            if found is not None and found.running and (start is None or start <= row.starts_at):
                start = now  # running again, Azure did not say since when: seen now
            span = saved_span(row.starts_at, now, next_start=start, gone_at=gone_at)
            return span, "deleted" if gone else "started again"
        keep = session.get(KeepOnRow, row.keep_on_id) if row.keep_on_id is not None else None
        ended = (
            keep_on_end(
                KeepOnState(keep.state),
                keep.until,
                in_force_until=keep.in_force_until,
                ended_at=keep.ended_at,
                decided_at=keep.decided_at,
            )
            if keep
            else None
        )
        stopped = now if gone or (found is not None and not found.running) else None
        span = kept_span(row.starts_at, now, keep_ended_at=ended, found_stopped_at=stopped)
        return span, "keep-on ended" if ended is not None and span.end == ended else "found stopped"

    def open_saved(self) -> set[tuple[str, str]]:
        """Instances with a saving still open (stopped, and the ledger knows who stopped them)."""
        query = select(MoneyLedgerRow.workspace, MoneyLedgerRow.instance).where(
            MoneyLedgerRow.ends_at.is_(None), MoneyLedgerRow.kind == EntryKind.SAVED.value
        )
        with self._sessions() as session:
            return {(w, n) for w, n in session.execute(query)}

    def close_saved(self, keys: Collection[tuple[str, str]], at: datetime, reason: str) -> None:
        """End the open savings of these instances at `at` (Curfew started them: the morning start)."""
        wanted = {(w, n.lower()) for w, n in keys}
        with self._sessions.begin() as session:
            query = select(MoneyLedgerRow).where(
                MoneyLedgerRow.ends_at.is_(None), MoneyLedgerRow.kind == EntryKind.SAVED.value
            )
            for row in session.scalars(query):
                if (row.workspace, row.instance) in wanted and row.starts_at < at:
                    _close(row, at, reason)

    def stopped(self, keys: Collection[tuple[str, str]], at: datetime) -> None:
        """Curfew stopped these instances at `at`: their running spans end exactly then (or at their
        start, for one that started after `at`). One UPDATE per `_CHUNK` instances, no ORM object per span."""
        wanted = sorted({(w, n.lower()) for w, n in keys})
        then = literal(at, UsageSpanRow.__table__.c.stopped_at.type)
        with self._sessions.begin() as session:
            for chunk in _chunks(wanted):
                session.execute(
                    update(UsageSpanRow)
                    .where(
                        UsageSpanRow.stopped_at.is_(None),
                        tuple_(UsageSpanRow.workspace, UsageSpanRow.instance).in_(chunk),
                    )
                    .values(
                        stopped_at=case(
                            (UsageSpanRow.started_at > then, UsageSpanRow.started_at), else_=then
                        ),
                        stop_exact=True,
                    )
                    .execution_options(synchronize_session=False)
                )

    def entries(self, since: datetime, until: datetime, now: datetime) -> list[Priced]:
        """Ledger entries overlapping [since, until); open ones end at `now`."""
        query = select(MoneyLedgerRow).where(
            MoneyLedgerRow.starts_at < until,
            or_(MoneyLedgerRow.ends_at.is_(None), MoneyLedgerRow.ends_at > since),
        )
        with self._sessions() as session:
            return [_priced(row, now) for row in session.scalars(query.order_by(MoneyLedgerRow.id))]

    def ran(self, since: datetime, until: datetime, now: datetime) -> list[Priced]:
        """Spans instances ran overlapping [since, until), unpriced (the caller knows today's prices)."""
        query = select(UsageSpanRow).where(
            UsageSpanRow.started_at < until,
            or_(UsageSpanRow.stopped_at.is_(None), UsageSpanRow.stopped_at > since),
        )
        with self._sessions() as session:
            return [
                Priced(
                    r.workspace,
                    r.instance,
                    r.size,
                    r.owner_object_id,
                    Span(r.started_at, r.stopped_at or max(now, r.started_at), r.stopped_at is not None),
                    None,
                )
                for r in session.scalars(query)
            ]


_CHUNK = 400
"""Instances per `(workspace, instance) IN (...)` statement: far below either database's limit on
bound parameters."""


def _chunks(names: Sequence[tuple[str, str]]) -> Iterator[Sequence[tuple[str, str]]]:
    for first in range(0, len(names), _CHUNK):
        yield names[first : first + _CHUNK]


def _spans_since(session: Session, seen: Sequence[Seen], now: datetime) -> set[tuple[str, str, datetime]]:
    """The stored spans of these running instances from their earliest start on, in a few queries
    (was: one query per instance, which made a 10,000-instance curfew's bookkeeping take minutes)."""
    found: set[tuple[str, str, datetime]] = set()
    starts = [s.last_started_at or now for s in seen]
    if not seen:
        return found
    names = sorted({(s.workspace, s.instance.lower()) for s in seen})
    for chunk in _chunks(names):
        query = select(UsageSpanRow.workspace, UsageSpanRow.instance, UsageSpanRow.started_at).where(
            tuple_(UsageSpanRow.workspace, UsageSpanRow.instance).in_(chunk),
            UsageSpanRow.started_at >= min(starts),
        )
        found.update((w, i, at) for w, i, at in session.execute(query))
    return found


def _track(
    s: Seen,
    open_rows: list[UsageSpanRow],
    now: datetime,
    known: Collection[tuple[str, str, datetime]],
) -> dict[str, Any] | None:
    """One instance as seen now: a span from its last start while it runs (the new span's row, to
    insert, when it has none yet); closed when it does not."""
    if not s.running:
        for row in open_rows:
            row.stopped_at = max(now, row.started_at)
        return None
    started = s.last_started_at or (open_rows[0].started_at if open_rows else now)
    for row in open_rows:
        if row.started_at < started:
            row.stopped_at = started  # it stopped (unseen) before this start
    key = (s.workspace, s.instance.lower(), started)
    if any(r.started_at == started for r in open_rows) or key in known:
        return None
    return {
        "workspace": s.workspace,
        "instance": s.instance.lower(),
        "started_at": started,
        "size": s.size,
        "owner_object_id": s.owner_object_id,
        "stopped_at": None,
        "stop_exact": False,
    }


def _row(e: NewEntry) -> MoneyLedgerRow:
    return MoneyLedgerRow(**_values(e))


def _values(e: NewEntry) -> dict[str, Any]:
    return {
        "kind": e.kind.value,
        "workspace": e.workspace,
        "instance": e.instance.lower(),
        "size": e.size,
        "owner_object_id": e.owner_object_id,
        "run_id": e.run_id,
        "keep_on_id": e.keep_on_id,
        "starts_at": e.starts_at,
        "per_hour": str(e.per_hour.amount) if e.per_hour else None,
        "currency": e.per_hour.currency if e.per_hour else None,
        "simulated": e.simulated,
        "trigger": e.trigger.value,
        "credited": e.credited,
    }


def _close(row: MoneyLedgerRow, at: datetime, reason: str) -> None:
    row.ends_at, row.end_reason = max(at, row.starts_at), reason
    span = Span(row.starts_at, row.ends_at, closed=True)
    row.hours = str(span.hours)
    amount = cost(_money(row), span.start, span.end)
    row.amount = str(amount.amount) if amount else None


def _money(row: MoneyLedgerRow) -> Money | None:
    if row.per_hour is None or row.currency is None:
        return None
    return Money(Decimal(row.per_hour), row.currency)


def _priced(row: MoneyLedgerRow, now: datetime) -> Priced:
    span = (
        Span(row.starts_at, row.ends_at, closed=True)
        if row.ends_at is not None
        else Span(row.starts_at, max(now, row.starts_at), closed=False)
    )
    return Priced(
        row.workspace,
        row.instance,
        row.size,
        row.owner_object_id,
        span,
        _money(row),
        row.simulated,
        EntryKind(row.kind),
        StopTrigger(row.trigger or StopTrigger.CURFEW.value),
        bool(row.credited),
    )
