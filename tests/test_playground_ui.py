"""Curfew in a real Teams client stand-in: the Microsoft 365 Agents Playground in headless Chromium,
talking to the real service on the simulated fleet, as a newcomer would."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web

from app import create_app
from config.settings import Settings
from runtime import RUNTIME, Runtime
from tests.playground import PlaygroundPage, require_playground, run_playground

pytestmark = pytest.mark.playground
ROOT = Path(__file__).resolve().parents[1]


@asynccontextmanager
async def curfew_service(tmp_path: Path) -> AsyncIterator[tuple[str, Runtime]]:
    settings = Settings.model_validate(
        {"timezone": "Europe/Berlin", "database_url": f"sqlite:///{tmp_path}/ui.db"}
    )
    app = create_app(settings, scheduler=False)
    runner = web.AppRunner(app)
    await runner.setup()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}/api/messages", app[RUNTIME]
    finally:
        await runner.cleanup()


async def step(page: PlaygroundPage, say: str, expect: str, *, card: bool = False) -> str:
    await page.send(say)
    if card:
        return await page.wait_for_card_text(expect, timeout=20)
    return await page.wait_for_bot_text(expect, timeout=20)


async def test_a_newcomer_manages_the_demo_instances(tmp_path: Path) -> None:
    require_playground()
    async with (
        curfew_service(tmp_path) as (endpoint, _rt),
        run_playground(endpoint, timezone="Europe/Berlin") as playground,
        playground.page() as page,
    ):
        try:
            await page.wait_for_card_text("I am Curfew", timeout=20)  # the welcome card on install
            status = await step(page, "status", "Your compute instances", card=True)
            assert "train-ci" in status and "job train-42 running" in status
            # tomorrow's curfew is at most two days away, whatever the day: no approver needed
            kept = await step(page, "keep gpu-ci on until tomorrow because training", "Kept gpu-ci until")
            until = re.search(r"Kept gpu-ci until (.+? Europe/Berlin)", kept)
            assert until, kept
            await step(page, "release gpu-ci", "Released gpu-ci")
            await page.click_card_button("Undo")  # the release's confirmation card: keep it again
            await page.wait_for_bot_text(f"Kept gpu-ci until {until[1]}", timeout=20)
            await step(page, "stop alex-gpu", "alex-gpu is not yours")
            await step(page, "stop cpu-ci", "Stopping cpu-ci")
            await page.wait_for_bot_text("cpu-ci is stopped now.", timeout=30, since_send=False)
            await step(page, "start cpu-ci", "Starting cpu-ci")
            await page.wait_for_bot_text("cpu-ci is running now.", timeout=30, since_send=False)
        except BaseException:
            await page.screenshot(tmp_path / "chat-failure.png")
            print(f"screenshot: {tmp_path / 'chat-failure.png'}\n{playground.log_text()[-3000:]}")
            raise


def app_py(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python app.py ...` as an operator runs it, on the service's database."""
    config = tmp_path / "curfew.yaml"
    config.write_text("timezone: Europe/Berlin\n")
    env = {
        "PATH": os.environ["PATH"],
        "CURFEW_CONFIG": str(config),
        "DATABASE_URL": f"sqlite:///{tmp_path}/ui.db",
    }
    return subprocess.run(
        [sys.executable, str(ROOT / "app.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )


async def test_warn_puts_the_card_in_the_chat_and_keep_one_hour_survives_the_sweep(tmp_path: Path) -> None:
    require_playground()
    async with (
        curfew_service(tmp_path) as (endpoint, _rt),
        run_playground(endpoint, timezone="Europe/Berlin") as playground,
        playground.page() as page,
    ):
        try:
            await step(
                page, "status", "Your compute instances", card=True
            )  # the chat exists: its reference is stored
            warned = await asyncio.to_thread(app_py, tmp_path, "warn")
            assert warned.returncode == 0, warned.stdout + warned.stderr
            await page.wait_for_card_text("gpu-ci (demo) · Standard_NC6s_v3", timeout=20)
            await page.choose_and_apply("gpu-ci", "Keep 1 hour")
            refreshed = await page.wait_for_card_text("Kept gpu-ci until", timeout=20)
            assert "by Dana Scientist" in refreshed
            await page.screenshot(Path(os.environ.get("CURFEW_SCREENSHOTS", tmp_path)) / "warning-card.png")
            swept = await asyncio.to_thread(app_py, tmp_path, "sweep")
            rows = {line.split()[1]: line for line in swept.stdout.splitlines() if line.startswith("demo ")}
            assert " leave " in rows["gpu-ci"] and "kept until" in rows["gpu-ci"], swept.stdout
            assert "stopped" in rows["cpu-ci"], swept.stdout
        except BaseException:
            await page.screenshot(tmp_path / "warning-failure.png")
            print(f"screenshot: {tmp_path / 'warning-failure.png'}\n{playground.log_text()[-3000:]}")
            raise


async def test_an_end_date_set_in_chat_shows_in_status_and_the_pass_reminds_in_the_chat(
    tmp_path: Path,
) -> None:
    require_playground()
    ends = datetime.now(ZoneInfo("Europe/Berlin")).date() + timedelta(days=10)
    shown = f"{ends:%a} {ends.day} {ends:%b}"  # "Sun 13 Dec", as the status card writes it
    async with (
        curfew_service(tmp_path) as (endpoint, _rt),
        run_playground(endpoint, timezone="Europe/Berlin") as playground,
        playground.page() as page,
    ):
        try:
            await step(page, "status", "Your compute instances", card=True)
            said = await step(page, f"end gpu-ci on {ends.isoformat()}", "gpu-ci (demo) ends on", card=True)
            assert f"ends on {shown} {ends.year}: the curfew at" in said
            status = await step(page, "status", f"ends {shown}", card=True)
            assert "gpu-ci" in status and "train-ci" in status
            passed = await asyncio.to_thread(app_py, tmp_path, "lifecycle")
            assert passed.returncode == 0, passed.stdout + passed.stderr
            rows = {line.split()[1]: line for line in passed.stdout.splitlines() if line.startswith("demo ")}
            assert " remind " in rows["train-ci"] and rows["train-ci"].rstrip().endswith("sent"), (
                passed.stdout
            )
            assert " propose deletion " in rows["proj-old"], (
                passed.stdout
            )  # the demo's instance past its grace
            reminder = await page.wait_for_card_text("train-ci ends in 3 days", timeout=30)
            assert "Lost when it is deleted" in reminder
        except BaseException:
            await page.screenshot(tmp_path / "lifecycle-failure.png")
            print(f"screenshot: {tmp_path / 'lifecycle-failure.png'}\n{playground.log_text()[-3000:]}")
            raise
