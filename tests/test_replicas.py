"""Two replicas of the service on one PostgreSQL database apply one curfew once.

Both processes start after a curfew they missed; each runs its start-up catch-up, and the run ledger
lets exactly one of them stop the instances (through the real SDK, on the ARM stand-in)."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
import urllib.request
from pathlib import Path

from sqlalchemy import create_engine, text

from storage.db import normalize_url
from tests.arm_standin import ArmStandIn
from tests.test_curfew_processes import ROOT, cli_env, just_passed, seed, write_config


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


async def test_two_replicas_stop_each_instance_once(
    tmp_path: Path, arm: ArmStandIn, postgres_url: str
) -> None:
    names = seed(arm, 6)
    env = cli_env(tmp_path, arm, write_config(tmp_path, arm, stop_at=just_passed()), postgres_url)
    migrate = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "app.py"), "db", "upgrade", env=env
    )
    assert await migrate.wait() == 0
    ports = [free_port(), free_port()]
    replicas = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            str(ROOT / "app.py"),
            env={**env, "PORT": str(port)},
            cwd=str(tmp_path),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        for port in ports
    ]
    try:
        for _ in range(300):
            stops = arm.requests_matching("POST", r"/stop$")
            if all(await asyncio.gather(*(asyncio.to_thread(ready, p) for p in ports))) and len(stops) >= len(
                names
            ):
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(2)  # time for a second, wrong, run to show up if there were one
    finally:
        for process in replicas:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        await asyncio.gather(*(asyncio.wait_for(p.wait(), 30) for p in replicas))
    stopped = sorted(r.path.rsplit("/", 2)[-2] for r in arm.requests_matching("POST", r"/stop$"))
    assert stopped == names  # each instance exactly once, from one replica
    engine = create_engine(normalize_url(postgres_url))
    with engine.connect() as conn:
        runs = conn.execute(
            text("SELECT claimed_by, state FROM scheduled_run WHERE schedule_id = 'curfew:UTC'")
        ).all()
    engine.dispose()
    assert len(runs) == 1 and runs[0].state == "done"
