"""The money card in a real Teams client stand-in (the Agents Playground in headless Chromium): after a
sweep and a start, `report week` and the weekly digest render, charts drawn or their tables shown."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web

from app import create_app
from bot.cards.money import day_label, money_card
from bot.turns import Reply
from config.settings import Settings
from scheduler.digest import Audience, MoneyReports, period_for
from scheduler.sweep import Sweeper
from tests.playground import PlaygroundPage, require_playground, run_playground
from wiring import SERVICE, Service

pytestmark = pytest.mark.playground
DANA = "00000000-0000-0000-0000-000000000020"
ZONE = ZoneInfo("Europe/Berlin")


@asynccontextmanager
async def curfew_service(tmp_path: Path) -> AsyncIterator[tuple[str, Service]]:
    settings = Settings.model_validate(
        {
            "timezone": "Europe/Berlin",
            "database_url": f"sqlite:///{tmp_path}/money.db",
            "demo_admins": [DANA],  # the Playground's user administers the demo workspace
            "curfew": {"verify_seconds": 0},
        }
    )
    app = create_app(settings, scheduler=False)
    runner = web.AppRunner(app)
    await runner.setup()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}/api/messages", app[SERVICE]
    finally:
        await runner.cleanup()


def chart_or_table(card: str, title: str, table_header: str, drawn: list[str]) -> str:
    """What the client shows of a chart: its heading always; then the chart itself (its labels are
    on the page) or, on a client without charts, the fallback table (its header is on the page)."""
    assert title in card, card
    if table_header in card:
        return "table"
    assert all(label in card for label in drawn), card
    return "chart"


async def test_the_money_card_renders_with_charts_or_their_tables(tmp_path: Path) -> None:
    require_playground()
    async with (
        curfew_service(tmp_path) as (endpoint, service),
        run_playground(endpoint, timezone="Europe/Berlin") as playground,
        playground.page() as page,
    ):
        try:
            await talk(page, service)
        except BaseException:
            await page.screenshot(tmp_path / "money-failure.png")
            print(f"screenshot: {tmp_path / 'money-failure.png'}\n{playground.log_text()[-3000:]}")
            raise


async def talk(page: PlaygroundPage, service: Service) -> None:
    rt = service.runtime
    await page.wait_for_card_text("I am Curfew", timeout=20)
    await page.send("status")  # the chat exists: its reference is stored for the digest
    await page.wait_for_card_text("Your compute instances", timeout=20)
    await Sweeper(rt).curfew(forced=True, actor="operator:test")
    for _ in range(200):  # the simulated stop takes 5 s
        if (await rt.fleet.get_instance("demo", "gpu-ci")).state.is_stopped:
            break
        await asyncio.sleep(0.1)
    await rt.fleet.start("demo", "gpu-ci")  # a later start ends gpu-ci's saving
    await page.send("report week")
    report = await page.wait_for_card_text("Curfew's money, the last 7 days: demo", timeout=20)
    assert "Simulated prices" in report and "Saved by the curfew" in report
    today = day_label(rt.clock().astimezone(rt.settings.policy("demo").zone).date())
    shown = chart_or_table(report, "Saved per day (USD)", "Saved (USD)", ["Day", today])
    now = rt.clock()
    summary = await MoneyReports(rt, service.notifier).send_digest(
        ["demo"], now - timedelta(seconds=1), now, "digest:test"
    )
    assert summary == "digest to 1 admin(s): 1 sent, 0 not"
    digest = await page.wait_for_card_text("Curfew's week: demo", timeout=20)
    assert "Owners I could not warn" in digest and "Stops that failed" in digest
    assert chart_or_table(digest, "Saved per day (USD)", "Saved (USD)", ["Day", today]) == shown
    assert chart_or_table(digest, "Cost by workspace (USD, estimated)", "Cost (USD)", ["demo"]) == shown
    print(f"the Playground shows the money charts as: {shown}")
    await without_charts(page, service, today)


async def without_charts(page: PlaygroundPage, service: Service, today: str) -> None:
    rt = service.runtime
    """The same card for a client that knows no charts (their type unknown to it): the tables show."""
    now = rt.clock()
    view = await MoneyReports(rt).view("No charts here", period_for("week", now, ZONE), now, Audience())
    card = money_card(view)
    card["body"] = [
        {**b, "type": "Chart.FromTheFuture"} if b["type"].startswith("Chart.") else b for b in card["body"]
    ]
    await service.teams.messenger.send(DANA, None, Reply(card=card))
    shown = await page.wait_for_card_text("No charts here", timeout=20)
    assert chart_or_table(shown, "Saved per day (USD)", "Saved (USD)", []) == "table"
    assert chart_or_table(shown, "Cost by workspace (USD, estimated)", "Cost (USD)", []) == "table"
    assert today in shown and "Workspace" in shown
    await page.screenshot(Path(os.environ.get("CURFEW_SCREENSHOTS", "/tmp")) / "money-digest.png")
