"""Shared fixtures: databases (SQLite and PostgreSQL), the store, and a guard against real hosts."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from storage.db import normalize_url
from storage.repositories import Store

pytest_plugins = ["tests.fleet_harness", "tests.sweep_fixtures", "tests.protocol_env"] + (
    ["tests.arm_fixtures"] if (Path(__file__).parent / "arm_fixtures.py").exists() else []
)

POSTGRES_ENV = "CURFEW_TEST_POSTGRES_URL"


def require(condition: bool, reason: str) -> None:
    """Skip with `reason` on a laptop that lacks a part; fail instead when CI is set."""
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI must run this test, but: {reason}")
    pytest.skip(reason)


# -- no test may reach a real Azure or Teams host ---------------------------------------------

_LOCAL = ("localhost", "127.", "::1", "0.0.0.0")
_real_getaddrinfo = socket.getaddrinfo


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    name = host.decode() if isinstance(host, bytes) else str(host)
    if host is not None and not name.startswith(_LOCAL):
        raise OSError(f"test tried to reach {name}: tests may only talk to loopback stand-ins")
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True, scope="session")
def _offline() -> Iterator[None]:
    socket.getaddrinfo = _guarded_getaddrinfo
    yield
    socket.getaddrinfo = _real_getaddrinfo


# -- the card check: every card and message the test sent (tests/card_check.py) --------------


@pytest.fixture(autouse=True)
def _card_check() -> Iterator[None]:
    from tests import card_check

    card_check.SENT.activities.clear()
    card_check.SENT.invoke_cards.clear()
    yield
    sent = card_check.Outbound(list(card_check.SENT.activities), list(card_check.SENT.invoke_cards))
    card_check.SENT.activities.clear()
    card_check.SENT.invoke_cards.clear()
    if not sent.cards() and not sent.activities:
        return
    if sent.cards():
        require(card_check.node_path() is not None, "the card check needs Node.js for the official renderer")
    problems = card_check.check_outbound(sent)
    assert not problems, "the card check found:\n" + "\n".join(problems)


# -- databases --------------------------------------------------------------------------------


def postgres_admin_url() -> str | None:
    return os.environ.get(POSTGRES_ENV)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    admin = postgres_admin_url()
    require(admin is not None, f"PostgreSQL tests need {POSTGRES_ENV} (set by .ci/run)")
    assert admin is not None
    name = f"curfew_test_{uuid.uuid4().hex[:12]}"
    engine = create_engine(normalize_url(admin), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = normalize_url(admin).rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'curfew.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store.open(db_url)
    yield s
    s.close()


@pytest.fixture
def sqlite_store(tmp_path: Any) -> Iterator[Store]:
    s = Store.open(f"sqlite:///{tmp_path / 'curfew.db'}")
    yield s
    s.close()


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 30, 22, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
