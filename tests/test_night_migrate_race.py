"""Issue 13, finding 6: two replicas migrating one fresh PostgreSQL database at once both succeed.

Each round makes a fresh database and starts two processes that import everything, wait at a
barrier (a line on stdin) and then run `storage.db.upgrade` together.
"""

from __future__ import annotations

import asyncio
import sys
import uuid

from sqlalchemy import create_engine, inspect, text

from storage.db import normalize_url
from tests.conftest import postgres_admin_url, require
from tests.test_curfew_processes import ROOT

ROUNDS = 6
RACER = (
    "import sys\n"
    "from storage.db import make_engine, upgrade\n"
    "engine = make_engine(sys.argv[1])\n"
    "print('ready', flush=True)\n"
    "sys.stdin.readline()\n"
    "upgrade(engine)\n"
)


async def _race(url: str) -> list[tuple[int, str]]:
    racers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            RACER,
            url,
            cwd=str(ROOT),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(2)
    ]
    for racer in racers:
        assert racer.stdout is not None
        assert (await racer.stdout.readline()).strip() == b"ready"
    for racer in racers:
        assert racer.stdin is not None
        racer.stdin.write(b"go\n")
        await racer.stdin.drain()
    results = []
    for racer in racers:
        _, err = await racer.communicate()
        results.append((racer.returncode or 0, err.decode(errors="replace")[-600:]))
    return results


async def test_two_processes_migrating_a_fresh_postgres_database_at_once_both_succeed() -> None:
    admin = postgres_admin_url()
    require(admin is not None, "PostgreSQL tests need CURFEW_TEST_POSTGRES_URL (set by .ci/run)")
    assert admin is not None
    engine = create_engine(normalize_url(admin), isolation_level="AUTOCOMMIT")
    base = normalize_url(admin).rsplit("/", 1)[0]
    try:
        for round_ in range(ROUNDS):
            name = f"curfew_race_{uuid.uuid4().hex[:12]}"
            with engine.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                results = await _race(f"{base}/{name}")
                assert [code for code, _ in results] == [0, 0], f"round {round_}: {results}"
                migrated = create_engine(f"{base}/{name}")
                try:
                    tables = set(inspect(migrated).get_table_names())
                finally:
                    migrated.dispose()
                assert {"alembic_version", "keep_on", "audit_event", "scheduled_run"} <= tables
            finally:
                with engine.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()
