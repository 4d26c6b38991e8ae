"""Curfew as separate processes against the ARM stand-in, through the unmodified azure-ai-ml SDK:
`python app.py fleet` over TLS with a managed identity; two processes running the same scheduled
curfew stop each instance once; a process killed mid-sweep is finished by the next one."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.arm_fixtures import RESEARCH, SUBSCRIPTION, TEAMS_TENANT, TENANT, seed_instance
from tests.arm_standin import ArmStandIn, Limits

ROOT = Path(__file__).resolve().parents[1]
OWNER = "00000000-0000-0000-0000-000000000020"


def write_config(tmp_path: Path, arm: ArmStandIn, *, stop_at: str = "00:00", lease: float = 180) -> Path:
    path = tmp_path / "curfew.yaml"
    path.write_text(
        f"""
timezone: UTC
azure: {{resource_manager_url: "{arm.url}", writes_per_second: 2, write_burst: 2}}
curfew: {{stop_at: "{stop_at}", verify_seconds: 3, verify_interval_seconds: 0.5, run_lease_seconds: {lease}}}
teams: {{tenant_id: "{TEAMS_TENANT}"}}
workspaces:
  - {{alias: research, subscription_id: "{SUBSCRIPTION}", resource_group: rg-ml, workspace: ws-research}}
"""
    )
    return path


def cli_env(tmp_path: Path, arm: ArmStandIn, config: Path, database_url: str) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "CURFEW_CONFIG": str(config),
        "DATABASE_URL": database_url,
        "REQUESTS_CA_BUNDLE": str(arm.ca_path),
        **arm.env,
        "NO_PROXY": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
    }


async def cli(env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "app.py"),
        *args,
        env=env,
        cwd=str(ROOT),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def finish(process: asyncio.subprocess.Process, timeout: float = 90) -> tuple[int, str, str]:
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    return process.returncode or 0, out.decode(), err.decode()


def seed(arm: ArmStandIn, count: int) -> list[str]:
    arm.add_workspace(RESEARCH.subscription_id, RESEARCH.resource_group, RESEARCH.workspace)
    names = [f"ci-{n:02}" for n in range(count)]
    for name in names:
        seed_instance(
            arm,
            RESEARCH,
            name,
            size="Standard_DS3_v2",
            state="Running",
            owner_object_id=OWNER,
            owner_tenant_id=TENANT,
            last_started_at=datetime.now(UTC) - timedelta(hours=5),
        )
    return names


def just_passed() -> str:
    """A curfew two minutes ago (UTC), so a scheduled run is due now."""
    return (datetime.now(UTC) - timedelta(minutes=2)).strftime("%H:%M")


async def test_the_fleet_command_lists_instances_and_owners_through_the_sdk(
    tmp_path: Path, arm: ArmStandIn
) -> None:
    seed(arm, 3)
    env = cli_env(tmp_path, arm, write_config(tmp_path, arm), f"sqlite:///{tmp_path}/c.db")
    code, out, err = await finish(await cli(env, "fleet"))
    assert code == 0, err
    rows = [line.split() for line in out.splitlines()[1:]]
    assert [(r[0], r[1], r[3], r[4]) for r in rows] == [
        ("research", f"ci-{n:02}", "Running", OWNER) for n in range(3)
    ]
    assert arm.identity.token_requests >= 1 and arm.counters.unauthorized == 0


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
async def test_two_processes_on_the_same_instant_stop_each_instance_once(
    tmp_path: Path, arm: ArmStandIn, database: str, request: pytest.FixtureRequest
) -> None:
    names = seed(arm, 6)
    url = f"sqlite:///{tmp_path}/c.db" if database == "sqlite" else request.getfixturevalue("postgres_url")
    env = cli_env(tmp_path, arm, write_config(tmp_path, arm, stop_at=just_passed()), url)
    migrate = await finish(await cli(env, "db", "upgrade"))
    assert migrate[0] == 0, migrate[2]
    first, second = await cli(env, "scheduled", "curfew"), await cli(env, "scheduled", "curfew")
    results = await asyncio.gather(finish(first), finish(second))
    assert [code for code, _, _ in results] == [0, 0], results
    outputs = " ".join(out for _, out, _ in results)
    assert outputs.count(": done:") == 1 and "already claimed by another process" in outputs
    stops = [r.path.rsplit("/", 2)[-2] for r in arm.requests_matching("POST", r"/stop$")]
    assert sorted(stops) == names  # each instance stopped exactly once


async def test_a_process_killed_mid_sweep_is_finished_by_the_next(tmp_path: Path, arm: ArmStandIn) -> None:
    arm.limits = Limits(writes=(2, 1.0))  # ARM lets 2 stops through, then 1 a second: the sweep takes a while
    names = seed(arm, 8)
    env = cli_env(
        tmp_path,
        arm,
        write_config(tmp_path, arm, stop_at=just_passed(), lease=1),
        f"sqlite:///{tmp_path}/c.db",
    )
    victim = await cli(env, "scheduled", "curfew")
    for _ in range(1200):  # a loaded machine can take many seconds to start the victim and its SDK
        if len(arm.requests_matching("POST", r"/stop$")) >= 3:
            break
        await asyncio.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    await victim.wait()
    stopped_before = {r.path.rsplit("/", 2)[-2] for r in arm.requests_matching("POST", r"/stop$")}
    assert 0 < len(stopped_before) < len(names), "the victim should die half-way"
    await asyncio.sleep(1.5)  # the dead process's lease lapses
    code, out, err = await finish(await cli(env, "scheduled", "curfew"))
    assert code == 0, err
    assert ": done (resumed): " in out
    assert {i.name: i.state in ("Stopping", "Stopped") for i in arm.instances} == dict.fromkeys(names, True)
    accepted = [r for r in arm.requests_matching("POST", r"/stop$") if r.status == 202]
    assert sorted({r.path.rsplit("/", 2)[-2] for r in accepted}) == names
