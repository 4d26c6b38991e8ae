"""The warning cards Curfew sent: which curfew and which instances each is about.

A warning card's buttons carry only the opaque id of its row here (with which button and which
instance), so a click's curfew comes from Curfew's own record, never from the card. The id is random
and unguessable; a row is kept for a while after its curfew, so that a late click is told the
curfew passed rather than that the card is unknown.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from domain.model import InstanceKey
from storage.db import begun
from storage.models import WarningRow

KEPT_FOR = timedelta(days=30)
"""How long after its curfew a warning is kept."""
ID_MAX = 32


@dataclass(frozen=True, slots=True)
class NewWarning:
    recipient: str | None
    curfew_at: datetime
    instances: tuple[InstanceKey, ...]


@dataclass(frozen=True, slots=True)
class SentWarning:
    id: str
    recipient: str | None
    curfew_at: datetime
    sent_at: datetime
    instances: tuple[InstanceKey, ...]

    def lists(self, key: InstanceKey) -> bool:
        """Whether the card lists the instance `key` (names match case-insensitively)."""
        return any(
            k.workspace == key.workspace and k.name.lower() == key.name.lower() for k in self.instances
        )


def _sent(row: WarningRow) -> SentWarning:
    keys = tuple(InstanceKey(str(ws), str(name)) for ws, name in row.instances)
    return SentWarning(row.id, row.recipient, row.curfew_at, row.sent_at, keys)


class WarningRepository:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def add(
        self, warnings: Iterable[NewWarning], now: datetime, *, session: Session | None = None
    ) -> list[SentWarning]:
        """Record the warnings about to be sent, each with a new opaque id; drop those long past."""
        with begun(self._sessions, session) as session:
            session.execute(delete(WarningRow).where(WarningRow.curfew_at < now - KEPT_FOR))
            rows = [
                WarningRow(
                    id=secrets.token_urlsafe(18),
                    recipient=w.recipient,
                    curfew_at=w.curfew_at,
                    sent_at=now,
                    instances=[[k.workspace, k.name] for k in w.instances],
                )
                for w in warnings
            ]
            session.add_all(rows)
            session.flush()
            return [_sent(row) for row in rows]

    def get(self, warning_id: object) -> SentWarning | None:
        """The warning with this id; None for an unknown one or anything that is not an id."""
        if not isinstance(warning_id, str) or not 0 < len(warning_id) <= ID_MAX:
            return None
        with self._sessions() as session:
            row = session.get(WarningRow, warning_id)
            return _sent(row) if row else None
