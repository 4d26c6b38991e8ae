"""The database: engine and sessions for SQLite (default) or PostgreSQL, and Alembic upgrades."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from storage.entra import use_entra_tokens, wants_entra

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).with_name("migrations")
MIGRATION_LOCK = 0x637572666577  # "curfew": the advisory lock every replica's upgrade takes first


def normalize_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever spelling the operator chose."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


DEFAULT_MAX_CONNECTIONS = 20
"""PostgreSQL connections one process may hold: `database_pool_size` (DATABASE_POOL_SIZE)."""


def pool_sizes(max_connections: int) -> tuple[int, int]:
    """(pool_size, max_overflow) for at most `max_connections`: half kept open (the per-instance guards
    use at most the pool), the rest overflow for every other reader and writer."""
    pool = max(1, (max_connections + 1) // 2)
    return pool, max(0, max_connections - pool)


def make_engine(url: str, *, max_connections: int = DEFAULT_MAX_CONNECTIONS) -> Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    pool_size, max_overflow = pool_sizes(max_connections)
    engine = create_engine(url, pool_pre_ping=True, pool_size=pool_size, max_overflow=max_overflow)
    if wants_entra(engine):  # no password in the URL: sign in with a Microsoft Entra token
        use_entra_tokens(engine)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


@contextmanager
def begun(sessions: sessionmaker[Session], session: Session | None) -> Iterator[Session]:
    """The caller's transaction when one is given, else a new one committed on the way out."""
    if session is not None:
        yield session
        return
    with sessions.begin() as own:
        yield own


@contextmanager
def reading(
    sessions: sessionmaker[Session], session: Session | None = None
) -> Iterator[Session | Connection]:
    """The caller's session when one is given, else a bare connection of the sessions' engine: for a
    read of Core rows, an ORM session (its transaction bookkeeping, its identity map) costs as much
    again as the one-row read itself, and such a read needs none of it."""
    if session is not None:
        yield session
        return
    engine: Engine = sessions.kw["bind"]
    with engine.connect() as connection:
        yield connection


def autoflushed(session: Session) -> Session:
    """`session`, its pending ORM changes flushed as an ORM query would: a Core statement run through
    a session does not autoflush."""
    if session.autoflush and (session.new or session.dirty or session.deleted):
        session.flush()
    return session


def upgrade(engine: Engine) -> None:
    """Apply every Alembic migration up to head (idempotent; safe at each start).

    On PostgreSQL the upgrade runs under a transaction-level advisory lock, so replicas starting
    together migrate one after the other: the second finds the schema at head and does nothing.
    (SQLite serves one process; its write lock serializes the rest.)"""
    config = alembic_config()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    log.info("database schema at head (%s)", engine.url.render_as_string(hide_password=True))
