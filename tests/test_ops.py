"""Operations: /readyz, counters, JSON logs without secrets, and `python app.py doctor`."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from app import create_app
from config.settings import Settings
from ops.logs import configure_logging
from ops.metrics import use_meter
from ops.telemetry import configure_telemetry
from runtime import Runtime
from scheduler.service import CurfewScheduler
from scheduler.sweep import Sweeper
from tests.arm_fixtures import SUBSCRIPTION
from tests.arm_standin import ArmStandIn
from tests.sweep_fixtures import FleetSpy

ROOT = Path(__file__).resolve().parents[1]


def settings(tmp_path: Path) -> Settings:
    return Settings.model_validate(
        {"timezone": "Europe/Berlin", "database_url": f"sqlite:///{tmp_path}/o.db"}
    )


async def test_readyz_reports_database_scheduler_and_last_curfew(tmp_path: Path) -> None:
    # The curfew twelve hours away: within catch_up_minutes after a real curfew (00:00 Berlin) a fresh
    # service runs the one it missed, and last_curfew shows that run, not None.
    far = (datetime.now(ZoneInfo("Europe/Berlin")) + timedelta(hours=12)).strftime("%H:%M")
    fresh = Settings.model_validate(
        {
            "timezone": "Europe/Berlin",
            "database_url": f"sqlite:///{tmp_path}/o.db",
            "curfew": {"stop_at": far},
        }
    )
    async with TestClient(TestServer(create_app(fresh, scheduler=True))) as client:
        response = await client.get("/readyz")
        body = await response.json()
        assert response.status == 200, body
        assert (body["status"], body["database"], body["scheduler"], body["last_curfew"]) == (
            "ready",
            "ok",
            "running",
            None,
        )


async def test_readyz_is_503_without_a_running_scheduler(tmp_path: Path) -> None:
    async with TestClient(TestServer(create_app(settings(tmp_path), scheduler=False))) as client:
        response = await client.get("/readyz")
        assert response.status == 503
        assert (await response.json())["scheduler"] == "not running"


async def test_readyz_shows_the_last_curfew_run(demo: tuple[Runtime, FleetSpy], tmp_path: Path) -> None:
    rt, _ = demo
    from datetime import UTC, datetime

    rt.clock.now = datetime(2026, 11, 30, 23, 0, 5, tzinfo=UTC)  # type: ignore[attr-defined]
    scheduler = CurfewScheduler(rt, _Quiet(), owner="a")
    await scheduler.run("curfew", "Europe/Berlin")
    async with TestClient(TestServer(create_app(rt.settings, runtime=rt, scheduler=True))) as client:
        body = await (await client.get("/readyz")).json()
    assert body["last_curfew"]["state"] == "done"
    assert body["last_curfew"]["scheduled_for"] == "2026-11-30T23:00:00+00:00"
    assert "3 stopped" in body["last_curfew"]["summary"]


class _Quiet:
    async def warn(self, warnings: object) -> list[object]:
        return []

    async def tell(self, *args: object) -> object:
        return None


async def test_counters_count_runs_and_outcomes(demo: tuple[Runtime, FleetSpy]) -> None:
    rt, _ = demo
    reader = InMemoryMetricReader()
    use_meter(MeterProvider(metric_readers=[reader]).get_meter("test"))
    try:
        await Sweeper(rt).curfew(forced=True)
        data = reader.get_metrics_data()
    finally:
        from opentelemetry import metrics

        use_meter(metrics.get_meter("curfew"))
    points = {
        (m.name, tuple(sorted(p.attributes.items()))): p.value
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        for p in m.data.data_points
    }
    assert points[("curfew.runs", (("kind", "curfew"),))] == 1
    assert points[("curfew.instances", (("kind", "curfew"), ("outcome", "stopped")))] == 3
    assert (
        points[("curfew.instances", (("kind", "curfew"), ("outcome", "left")))] == 3
    )  # train-ci (job), old-ci and proj-old (stopped)


def test_json_logs_hide_tokens(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "json")
    try:
        logging.getLogger("curfew.test").info(
            "calling with Authorization: Bearer eyJhbGciOi.secret.sig password=hunter2"
        )
        line = capsys.readouterr().err.strip().splitlines()[-1]
    finally:
        configure_logging("INFO", "text")
    entry = json.loads(line)
    assert entry["level"] == "INFO" and entry["logger"] == "curfew.test"
    assert "eyJhbGciOi" not in line and "hunter2" not in line and "Bearer ***" in entry["message"]


def test_telemetry_is_off_without_a_connection_string() -> None:
    assert configure_telemetry({}) is False


def doctor(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "app.py"), "doctor"],
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"], "DATABASE_URL": f"sqlite:///{tmp_path}/d.db", **env},
        cwd=tmp_path,
        timeout=120,
    )


def test_doctor_on_the_demo_finds_nothing_to_fix(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "app.py"), "db", "upgrade"],
        check=True,
        capture_output=True,
        env={"PATH": os.environ["PATH"], "DATABASE_URL": f"sqlite:///{tmp_path}/d.db"},
        cwd=tmp_path,
    )
    result = doctor(tmp_path, {})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok    workspace demo: 6 compute instance(s)" in result.stdout
    assert "warn  MicrosoftAppId is empty" in result.stdout and result.stdout.strip().endswith(
        "nothing to fix"
    )


async def test_doctor_says_what_to_fix_when_azure_refuses(tmp_path: Path, arm: ArmStandIn) -> None:
    import asyncio

    arm.add_workspace(SUBSCRIPTION, "rg-ml", "ws-research")
    arm.fail_next("GET", r"/computes$", 403, times=20)
    config = tmp_path / "curfew.yaml"
    config.write_text(f"""
azure: {{resource_manager_url: "{arm.url}"}}
teams: {{service_url: "http://not-https/", tenant_id: "00000000-0000-0000-0000-000000000001"}}
workspaces:
  - {{alias: research, subscription_id: "{SUBSCRIPTION}", resource_group: rg-ml, workspace: ws-research}}
""")
    env = {
        "CURFEW_CONFIG": str(config),
        "REQUESTS_CA_BUNDLE": str(arm.ca_path),
        **arm.env,
        "NO_PROXY": "127.0.0.1,localhost",
        "HOME": str(tmp_path),
    }
    result = await asyncio.to_thread(doctor, tmp_path, env)
    assert result.returncode == 1, result.stdout + result.stderr
    fails = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert len(fails) == 2, result.stdout
    assert any("teams.service_url" in f for f in fails)
    assert any(f.startswith("FAIL  workspace research: cannot list compute instances") for f in fails)
    assert "warn  workspace research has no approvers" in result.stdout
    assert result.stdout.strip().endswith("2 problem(s) to fix")
