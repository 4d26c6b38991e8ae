"""Capacity: each process holds at most `database_pool_size` PostgreSQL connections, infra/ sizes it from the
PostgreSQL SKU and the replica count so that every replica plus one command line fit, and `doctor` says
how many such processes the server takes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from config.settings import ConfigError, load_settings
from runtime import open_runtime
from storage.db import normalize_url, pool_sizes
from storage.repositories import Store

ROOT = Path(__file__).resolve().parents[1]
MAIN = (ROOT / "infra" / "main.bicep").read_text()


def test_the_pool_size_comes_from_the_environment_and_is_validated() -> None:
    assert load_settings(env={}).database_pool_size == 20
    assert load_settings(env={"DATABASE_POOL_SIZE": "7"}).database_pool_size == 7
    with pytest.raises(ConfigError) as refused:
        load_settings(env={"DATABASE_POOL_SIZE": "1"})
    assert [p.split(":")[0] for p in refused.value.problems] == ["database_pool_size"]


@pytest.mark.parametrize(("total", "pool", "overflow"), [(20, 10, 10), (7, 4, 3), (2, 1, 1), (3, 2, 1)])
def test_a_total_splits_into_pool_and_overflow(total: int, pool: int, overflow: int) -> None:
    assert pool_sizes(total) == (pool, overflow)


async def test_a_process_opens_at_most_database_pool_size_connections(postgres_url: str) -> None:
    settings = load_settings(env={"DATABASE_URL": postgres_url, "DATABASE_POOL_SIZE": "7"})
    async with open_runtime(settings) as rt:
        pool = rt.store.engine.pool
        assert pool.size() + pool._max_overflow == 7  # type: ignore[attr-defined]
        assert rt.store.guard.capacity == 4  # the guards take at most the kept-open part


def _bicep_table(name: str) -> dict[str, int]:
    body = re.search(rf"var {name} = \{{(.*?)\}}", MAIN, re.DOTALL)
    assert body is not None, name
    return {k: int(v) for k, v in re.findall(r"(\w+): (\d+)", body.group(1))}


def _allowed(param: str) -> list[str]:
    block = re.search(rf"@allowed\(\[([^\]]*)\]\)\s*\nparam {param} ", MAIN)
    assert block is not None, param
    return re.findall(r"'([^']+)'", block.group(1))


def test_every_allowed_database_size_fits_every_allowed_replica_count() -> None:
    """main.bicep's dbPoolSize, evaluated for each SKU and count its parameters allow: each replica, one
    command-line process and 5 for an admin's psql fit the server, and each replica gets at least the
    smallest pool Curfew accepts. The web app reads it as DATABASE_POOL_SIZE."""
    users = _bicep_table("postgresUserConnections")
    formula = re.search(
        r"var dbPoolSize = min\((\d+), \(postgresUserConnections\[postgresSkuName\] - (\d+)\) / "
        r"\(instanceCount \+ (\d+)\)\)",
        MAIN,
    )
    assert formula is not None, "dbPoolSize changed shape: update this test"
    cap, admin, extra = map(int, formula.groups())
    most = int(re.search(r"@maxValue\((\d+)\)\s*\nparam instanceCount ", MAIN).group(1))  # type: ignore[union-attr]
    assert set(_allowed("postgresSkuName")) <= set(users)
    for sku in _allowed("postgresSkuName"):
        for count in range(1, most + 1):
            pool = min(cap, (users[sku] - admin) // (count + extra))
            assert pool >= 2, (sku, count, pool)
            assert (count + 1) * pool + 5 <= users[sku], (sku, count, pool)
    assert re.search(r"name: 'DATABASE_POOL_SIZE'\s*\n\s*value: string\(dbPoolSize\)", MAIN)


def test_every_allowed_plan_scales_to_the_replica_count() -> None:
    """Basic (B1-B3) scales out to 3 instances, Standard to 10, Premium v3 to 30: instanceCount stops at 3."""
    most = int(re.search(r"@maxValue\((\d+)\)\s*\nparam instanceCount ", MAIN).group(1))  # type: ignore[union-attr]
    scale_out = {"B": 3, "S": 10, "P": 30}
    assert all(most <= scale_out[sku[0]] for sku in _allowed("appServiceSku"))


def _doctor(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "app.py"), "doctor"],
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"], "HOME": str(cwd), **env},
        cwd=cwd,
        timeout=120,
    )


def test_doctor_says_how_many_processes_the_postgres_server_takes(postgres_url: str, tmp_path: Path) -> None:
    Store.open(postgres_url).close()  # migrated, as the service leaves it
    engine = create_engine(normalize_url(postgres_url))
    with engine.connect() as conn:
        users = int(
            conn.execute(
                text(
                    "SELECT current_setting('max_connections')::int"
                    " - current_setting('superuser_reserved_connections')::int"
                    " - coalesce(current_setting('reserved_connections', true), '0')::int"
                )
            ).scalar_one()
        )
    engine.dispose()
    fits = _doctor({"DATABASE_URL": postgres_url, "DATABASE_POOL_SIZE": "7"}, tmp_path)
    assert fits.returncode == 0, fits.stdout + fits.stderr
    assert (
        f"ok    PostgreSQL takes {users} user connections; each Curfew process may hold 7 (database_pool_size), "
        f"so {users // 7} process(es) fit" in fits.stdout
    )
    too_big = _doctor({"DATABASE_URL": postgres_url, "DATABASE_POOL_SIZE": str(users + 1)}, tmp_path)
    assert too_big.returncode == 1, too_big.stdout + too_big.stderr
    assert f"FAIL  PostgreSQL takes {users} user connections; each Curfew process may hold {users + 1}" in (
        too_big.stdout
    )
