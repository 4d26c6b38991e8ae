"""The service and the command line on the simulated fleet, as a newcomer runs them."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from app import create_app
from config.settings import load_settings
from ops.interpreter import SWITCH_SECONDS

ROOT = Path(__file__).resolve().parents[1]


def run_cli(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path}/c.db"}
    return subprocess.run(
        [sys.executable, str(ROOT / "app.py"), *args],
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )


def test_fleet_lists_the_demo_instances(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "fleet")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["WORKSPACE", "NAME", "SIZE", "STATE", "OWNER", "KEEP-ON", "END"]
    rows = {line.split()[1]: line for line in lines[1:] if line.startswith("demo ")}
    assert set(rows) == {"gpu-ci", "cpu-ci", "train-ci", "old-ci", "alex-gpu", "proj-old"}
    assert rows["gpu-ci"].endswith("no end date") and " ends " in rows["train-ci"]  # in three days
    assert re.search(r"ended \d+ \w+, deleted after \d+ \w+$", rows["proj-old"])  # twenty days ago
    rows = {line.split()[1]: line.split() for line in lines[1:] if line.startswith("demo ")}
    assert rows["old-ci"][3] == "Stopped"
    assert rows["gpu-ci"][4] == "00000000-0000-0000-0000-000000000020"
    assert "simulated demo fleet" in result.stdout


def test_db_upgrade_is_repeatable(tmp_path: Path) -> None:
    for _ in range(2):
        result = run_cli(tmp_path, "db", "upgrade")
        assert result.returncode == 0, result.stderr
    assert (tmp_path / "c.db").exists()


async def test_healthz(tmp_path: Path) -> None:
    settings = load_settings(
        env={"DATABASE_URL": f"sqlite:///{tmp_path}/s.db", "CURFEW_CONFIG": _empty(tmp_path)}
    )
    before = sys.getswitchinterval()
    async with TestClient(TestServer(create_app(settings, scheduler=False))) as client:
        response = await client.get("/healthz")
        assert response.status == 200
        assert (await response.json())["status"] == "ok"
        assert sys.getswitchinterval() == SWITCH_SECONDS  # the event loop's GIL waits stay short
    assert sys.getswitchinterval() == before  # the process is as it was (tests start many apps)


@contextmanager
def serving(tmp_path: Path, env: dict[str, str] | None = None) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    """`python app.py` on a free port, once it answers /healthz: (its port, its process)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = {"PATH": os.environ["PATH"], "PORT": str(port), "DATABASE_URL": f"sqlite:///{tmp_path}/p.db"}
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py")],
        env={**base, **(env or {})},
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, "the service did not answer /healthz within 60 s"
                time.sleep(0.3)
        yield port, proc
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_python_app_py_serves_healthz(tmp_path: Path) -> None:
    with serving(tmp_path) as (port, _), urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz") as answer:
        assert json.loads(answer.read()) == {"status": "ok"}


def _empty(tmp_path: Path) -> str:
    path = tmp_path / "empty.yaml"
    path.write_text("timezone: Europe/Berlin\n")
    return str(path)


def test_sweep_dry_run_prints_decisions_and_changes_nothing(tmp_path: Path) -> None:
    before = run_cli(tmp_path, "fleet").stdout
    dry = run_cli(tmp_path, "sweep", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    rows = {line.split()[1]: line for line in dry.stdout.splitlines() if line.startswith("demo ")}
    assert "would stop" in rows["gpu-ci"] and " stop " in rows["gpu-ci"]
    assert "job train-42 running" in rows["train-ci"] and " leave " in rows["train-ci"]
    assert "already stopped" in rows["old-ci"]
    assert run_cli(tmp_path, "fleet").stdout == before


def test_sweep_stops_the_demo_instances_and_leaves_the_busy_one(tmp_path: Path) -> None:
    swept = run_cli(tmp_path, "sweep")
    assert swept.returncode == 0, swept.stdout + swept.stderr
    rows = {line.split()[1]: line for line in swept.stdout.splitlines() if line.startswith("demo ")}
    assert {name for name, row in rows.items() if "stopped: confirmed Stopped" in row} == {
        "gpu-ci",
        "cpu-ci",
        "alex-gpu",
    }
    assert "left" in rows["train-ci"] and "job train-42 running" in rows["train-ci"]
    fleet = {
        line.split()[1]: line.split()[3]
        for line in run_cli(tmp_path, "fleet").stdout.splitlines()[1:]
        if line.startswith("demo ")
    }
    assert fleet == {
        "gpu-ci": "Stopped",
        "cpu-ci": "Stopped",
        "alex-gpu": "Stopped",
        "old-ci": "Stopped",
        "proj-old": "Stopped",
        "train-ci": "Running",
    }


def test_lifecycle_on_the_demo_reminds_once_and_proposes_the_deletion(tmp_path: Path) -> None:
    dry = run_cli(tmp_path, "lifecycle", "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert dry.stdout.splitlines()[0].split() == ["WORKSPACE", "INSTANCE", "END", "DATE", "ACTION", "OUTCOME"]
    rows = {line.split()[1]: line for line in dry.stdout.splitlines() if line.startswith("demo ")}
    assert set(rows) == {"train-ci", "proj-old"} and "would remind" in rows["train-ci"]
    first = run_cli(tmp_path, "lifecycle")
    assert first.returncode == 0, first.stdout + first.stderr
    rows = {line.split()[1]: line for line in first.stdout.splitlines() if line.startswith("demo ")}
    assert " remind " in rows["train-ci"] and rows["train-ci"].endswith("sent")
    assert rows["proj-old"].endswith("listed: no admin of demo to ask")  # demo_admins is empty
    again = run_cli(tmp_path, "lifecycle")
    assert again.returncode == 0 and "already sent" in again.stdout  # once per instance, kind and day
    unknown = run_cli(tmp_path, "lifecycle", "--workspace", "nope")
    assert unknown.returncode == 2 and "unknown workspace nope; known: demo" in unknown.stdout


def test_sweep_of_an_unknown_workspace_says_which_exist(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "sweep", "--workspace", "nope")
    assert result.returncode == 2 and "unknown workspace nope; known: demo" in result.stdout
