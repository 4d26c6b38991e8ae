"""End dates of instances and the ledger of what the daily lifecycle pass sent.

`claim_notice` inserts (workspace, instance, kind, day) under a unique key: the first replica or
run to claim it sends the card, every other one finds it taken, across restarts too.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, Final

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from domain.lifecycle import EndDate
from domain.model import InstanceKey
from storage.db import autoflushed, begun, reading
from storage.models import InstanceLifeRow, LifeNoticeRow


def _end(row: Any) -> EndDate:
    """An `InstanceLifeRow`, or a Core row of its table."""
    return EndDate(row.workspace, row.instance, row.end_date, row.kept, row.ends_at)


class LifeRepository:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def set_end(
        self,
        key: InstanceKey,
        end: date | None,
        ends_at: datetime | None,
        by: str,
        now: datetime,
        *,
        session: Session | None = None,
    ) -> None:
        """Set (or with None clear) an instance's end date; a new end date undoes an admin's Keep."""
        with begun(self._sessions, session) as session:
            row = session.get(InstanceLifeRow, (key.workspace, key.name.lower()))
            if row is None:
                row = InstanceLifeRow(workspace=key.workspace, instance=key.name.lower())
                session.add(row)
            row.end_date, row.ends_at, row.kept, row.set_by, row.updated_at = end, ends_at, False, by, now
            row.deleted_at = None

    def ask_end(
        self, key: InstanceKey, end: date, by: str, now: datetime, *, session: Session | None = None
    ) -> None:
        """An end date that waits for an approver; the end date in force stays as it is."""
        with begun(self._sessions, session) as session:
            row = session.get(InstanceLifeRow, (key.workspace, key.name.lower()))
            if row is None:
                row = InstanceLifeRow(workspace=key.workspace, instance=key.name.lower(), set_by=by)
                row.updated_at = now
                session.add(row)
            row.pending_end, row.pending_by = end, by

    def pending(self, key: InstanceKey) -> tuple[date, str] | None:
        """The end date waiting for an approver, and who asked for it."""
        with self._sessions() as session:
            row = session.get(InstanceLifeRow, (key.workspace, key.name.lower()))
            if row is None or row.pending_end is None or row.pending_by is None:
                return None
            return row.pending_end, row.pending_by

    def settle(self, key: InstanceKey, *, session: Session | None = None) -> date | None:
        """Take the pending end date away (decided); it, or None when another click was first."""
        with begun(self._sessions, session) as session:
            row = session.get(InstanceLifeRow, (key.workspace, key.name.lower()), with_for_update=True)
            if row is None or row.pending_end is None:
                return None
            end, row.pending_end, row.pending_by = row.pending_end, None, None
            return end

    def keep(self, key: InstanceKey, by: str, now: datetime, *, session: Session | None = None) -> None:
        with begun(self._sessions, session) as session:
            row = session.get(InstanceLifeRow, (key.workspace, key.name.lower()))
            if row is not None:
                row.kept, row.set_by, row.updated_at = True, by, now

    def deleted(self, key: InstanceKey, now: datetime, *, session: Session | None = None) -> None:
        with begun(self._sessions, session) as session:
            row = session.get(InstanceLifeRow, (key.workspace, key.name.lower()))
            if row is not None:
                row.deleted_at = now

    def get(self, key: InstanceKey) -> EndDate | None:
        with reading(self._sessions) as reader:
            params = {"workspaces": [key.workspace], "names": [key.name.lower()]}
            row = reader.execute(_LIVE_OF, params).first()
            return _end(row) if row is not None else None

    def ends(self, keys: Iterable[InstanceKey] | None = None) -> dict[InstanceKey, EndDate]:
        """End dates by (workspace, lower-case name), of every instance or of some."""
        with self._sessions() as session:
            return {
                InstanceKey(e.workspace, e.instance): e
                for e in (_end(r) for r in _rows(session, keys))
                if e.end is not None
            }

    def claim_notice(
        self, key: InstanceKey, kind: str, day: date, now: datetime, *, session: Session | None = None
    ) -> bool:
        """True for the one caller that may send `kind` for this instance and day; False when taken."""
        with begun(self._sessions, session) as session:
            try:
                with session.begin_nested():
                    session.add(
                        LifeNoticeRow(
                            workspace=key.workspace,
                            instance=key.name.lower(),
                            kind=kind,
                            day=day,
                            sent_at=now,
                        )
                    )
            except IntegrityError:
                return False
            return True


def end_instants(session: Session, keys: Iterable[InstanceKey] | None) -> dict[tuple[str, str], datetime]:
    """(workspace, lower-case name) -> the instant the instance ends, for those with an end date."""
    return {(r.workspace, r.instance): r.ends_at for r in _rows(session, keys) if r.ends_at is not None}


_LIFE: Final = InstanceLifeRow.__table__.c
_LIVE: Final = select(InstanceLifeRow.__table__).where(_LIFE.deleted_at.is_(None))
_LIVE_OF: Final = _LIVE.where(
    _LIFE.workspace.in_(bindparam("workspaces", expanding=True)),
    _LIFE.instance.in_(bindparam("names", expanding=True)),
)
"""Built once, read as Core rows: a chat turn reads its instances' ends (`_end` reads either kind)."""


def _rows(session: Session, keys: Iterable[InstanceKey] | None) -> list[Any]:
    """The rows (Core rows of `instance_life`) of every instance not deleted, or of some."""
    if keys is None:
        return list(autoflushed(session).execute(_LIVE))
    wanted = {(k.workspace, k.name.lower()) for k in keys}
    if not wanted:
        return []
    params = {"workspaces": sorted({w for w, _ in wanted}), "names": sorted({n for _, n in wanted})}
    return [r for r in autoflushed(session).execute(_LIVE_OF, params) if (r.workspace, r.instance) in wanted]
