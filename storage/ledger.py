"""The run ledger: each scheduled run (schedule id, instant) is claimed exactly once.

A unique constraint decides between replicas. A claim carries a heartbeat; a run whose claimer
stopped beating for longer than the lease (the process died half-way) may be taken over and
finished by another process, which is how a restart completes an interrupted curfew.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from storage.models import ScheduledRunRow

DEFAULT_LEASE = timedelta(minutes=3)


class RunState(StrEnum):
    CLAIMED = "claimed"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Claim:
    id: int
    schedule_id: str
    scheduled_for: datetime
    owner: str
    attempts: int
    resumed: bool
    """True when this claim took over a run that another process left unfinished."""

    @property
    def run_id(self) -> str:
        return f"{self.schedule_id}@{self.scheduled_for.isoformat()}"


@dataclass(frozen=True, slots=True)
class RunRecord:
    schedule_id: str
    scheduled_for: datetime
    state: RunState
    claimed_by: str
    heartbeat_at: datetime
    finished_at: datetime | None
    attempts: int
    summary: str | None


class RunLedger:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def claim(
        self,
        schedule_id: str,
        scheduled_for: datetime,
        owner: str,
        now: datetime,
        lease: timedelta = DEFAULT_LEASE,
    ) -> Claim | None:
        """Claim a run; None when another process has it (or it is finished)."""
        try:
            with self._sessions.begin() as session:
                row = ScheduledRunRow(
                    schedule_id=schedule_id,
                    scheduled_for=scheduled_for,
                    state=RunState.CLAIMED.value,
                    claimed_by=owner,
                    claimed_at=now,
                    heartbeat_at=now,
                    attempts=1,
                )
                session.add(row)
                session.flush()
                return Claim(row.id, schedule_id, scheduled_for, owner, 1, resumed=False)
        except IntegrityError:
            return self._take_over(schedule_id, scheduled_for, owner, now, lease)

    def _take_over(
        self, schedule_id: str, scheduled_for: datetime, owner: str, now: datetime, lease: timedelta
    ) -> Claim | None:
        with self._sessions.begin() as session:
            row = session.scalars(
                select(ScheduledRunRow).where(
                    ScheduledRunRow.schedule_id == schedule_id, ScheduledRunRow.scheduled_for == scheduled_for
                )
            ).one()
            if row.state != RunState.CLAIMED.value or row.heartbeat_at > now - lease:
                return None
            attempts, last_beat = row.attempts + 1, row.heartbeat_at
            result = session.execute(
                update(ScheduledRunRow)
                .where(
                    ScheduledRunRow.id == row.id,
                    ScheduledRunRow.state == RunState.CLAIMED.value,
                    ScheduledRunRow.heartbeat_at == last_beat,
                )
                .values(claimed_by=owner, heartbeat_at=now, attempts=attempts)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return None
            return Claim(row.id, schedule_id, scheduled_for, owner, attempts, resumed=True)

    def heartbeat(self, claim: Claim, now: datetime) -> bool:
        """Keep the lease; False when the claim was lost (another process took the run over)."""
        with self._sessions.begin() as session:
            result = session.execute(
                update(ScheduledRunRow)
                .where(ScheduledRunRow.id == claim.id, ScheduledRunRow.claimed_by == claim.owner)
                .values(heartbeat_at=now)
            )
            return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def finish(self, claim: Claim, state: RunState, summary: str, now: datetime) -> None:
        with self._sessions.begin() as session:
            session.execute(
                update(ScheduledRunRow)
                .where(ScheduledRunRow.id == claim.id, ScheduledRunRow.claimed_by == claim.owner)
                .values(state=state.value, summary=summary, finished_at=now, heartbeat_at=now)
            )

    def unfinished(self, now: datetime, lease: timedelta = DEFAULT_LEASE) -> list[RunRecord]:
        """Runs left claimed by a process that stopped beating: candidates to finish."""
        with self._sessions() as session:
            rows = session.scalars(
                select(ScheduledRunRow).where(
                    ScheduledRunRow.state == RunState.CLAIMED.value,
                    ScheduledRunRow.heartbeat_at <= now - lease,
                )
            )
            return [_record(r) for r in rows]

    def latest(self, schedule_prefix: str) -> RunRecord | None:
        with self._sessions() as session:
            row = session.scalars(
                select(ScheduledRunRow)
                .where(ScheduledRunRow.schedule_id.startswith(schedule_prefix))
                .order_by(ScheduledRunRow.scheduled_for.desc(), ScheduledRunRow.id.desc())
            ).first()
            return _record(row) if row else None

    def get(self, schedule_id: str, scheduled_for: datetime) -> RunRecord | None:
        with self._sessions() as session:
            row = session.scalars(
                select(ScheduledRunRow).where(
                    ScheduledRunRow.schedule_id == schedule_id, ScheduledRunRow.scheduled_for == scheduled_for
                )
            ).first()
            return _record(row) if row else None


def _record(row: ScheduledRunRow) -> RunRecord:
    return RunRecord(
        row.schedule_id,
        row.scheduled_for,
        RunState(row.state),
        row.claimed_by,
        row.heartbeat_at,
        row.finished_at,
        row.attempts,
        row.summary,
    )
