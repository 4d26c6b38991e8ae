"""`report` in chat (a workspace admin sees the workspace, anyone else their own instances) and
`python app.py report --since DATE` on the command line, on the simulated fleet."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.conversation.router import Conversation
from bot.flows.followups import FollowUps
from bot.turns import Inbound, InboundKind, Reply
from cli.commands import COMMANDS
from config.settings import Settings
from runtime import Runtime
from scheduler.sweep import Sweeper
from storage.repositories import Store
from tests.conftest import FakeClock
from tests.sweep_fixtures import DEMO_OWNER, demo_runtime, demo_settings
from tests.test_warning_card import Inbox
from wiring import build_bot

ALEX = "00000000-0000-0000-0000-000000000021"
CURFEW = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)  # Tue 1 Dec 00:00 Europe/Berlin


@pytest.fixture
async def swept(sqlite_store: Store, clock: FakeClock) -> tuple[Runtime, Conversation]:
    settings = Settings.model_validate({**demo_settings().model_dump(), "demo_admins": [ALEX]})
    rt, _ = demo_runtime(sqlite_store, clock, settings)
    clock.now = CURFEW
    await Sweeper(rt).curfew(now=CURFEW)
    clock.now = CURFEW + timedelta(hours=10)
    chat = build_bot(
        rt,
        lambda: None,
        followups=FollowUps(rt.fleet, rt.store, rt.clock, lambda: Inbox(), poll_seconds=0.01),
        with_requests=False,
    ).conversation
    return rt, chat


async def say(chat: Conversation, words: str, user: str) -> list[Reply]:
    inbound = Inbound(InboundKind.MESSAGE, user, None, "t", "c", text=words, local_timezone="Europe/Berlin")
    return await chat.on_message(inbound)


def shown(replies: list[Reply]) -> str:
    return " ".join((r.text or "") + json.dumps(r.card or {}, ensure_ascii=False) for r in replies)


async def test_an_owner_sees_their_own_instances(swept: Any) -> None:
    _, chat = swept
    content = shown(await say(chat, "report week", DEMO_OWNER))
    assert "Your instances' money, the last 7 days" in content
    assert "**gpu-ci** (demo): saved USD 30.60 over 10.0 h" in content
    assert "**cpu-ci** (demo): saved USD 2.93 over 10.0 h" in content
    assert "alex-gpu" not in content  # Alex's instance
    assert "Simulated prices" in content


async def test_a_workspace_admin_sees_the_whole_workspace(swept: Any) -> None:
    _, chat = swept
    content = shown(await say(chat, "monthly report for demo", ALEX))
    assert "Curfew's money, the last 30 days: demo" in content
    assert "USD 64.13 (30.0 h stopped)" in content  # gpu-ci, alex-gpu (3.06/h) and cpu-ci, 10 h each
    assert "Saved by instance" not in content  # admins see totals, nights and the most expensive
    assert "**train-ci** (demo, Standard_NC6s_v3, owner Dana Scientist)" in content  # a name, never the id


async def test_an_unknown_workspace_is_named(swept: Any) -> None:
    _, chat = swept
    assert shown(await say(chat, "report for nowhere", DEMO_OWNER)).startswith(
        "I know no workspace nowhere; the workspaces are demo."
    )


async def test_report_on_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings.model_validate(
        {
            "timezone": "Europe/Berlin",
            "database_url": f"sqlite:///{tmp_path / 'cli.db'}",
            "curfew": {"verify_seconds": 0},
        }
    )
    sweep = argparse.Namespace(dry_run=False, workspace=None)
    assert await COMMANDS["sweep"].run(settings, sweep) == 0
    capsys.readouterr()
    today = datetime.now(UTC).date()
    since = argparse.Namespace(since=today - timedelta(days=2), workspace=None)
    assert await COMMANDS["report"].run(settings, since) == 0
    out = capsys.readouterr().out
    assert out.startswith("Curfew's money since ")
    assert "(Simulated prices: the demo fleet's own price list, not Azure's.)" in out
    assert "instances stopped:   3 over 1 night(s)" in out
    assert "saved by the curfew: USD 0.0" in out  # seconds ago: nearly nothing yet, but counted
    rows = {line.split()[1]: line.split() for line in out.splitlines() if line.startswith("demo ")}
    assert set(rows) == {"gpu-ci", "cpu-ci", "alex-gpu", "train-ci", "proj-old"}
    assert rows["train-ci"][-2:] == ["USD", "91.80"]  # running for 30 h at USD 3.06/h (simulated)

    future = argparse.Namespace(since=date(2999, 1, 1), workspace=None)
    assert await COMMANDS["report"].run(settings, future) == 2
    unknown = argparse.Namespace(since=None, workspace="nowhere")
    assert await COMMANDS["report"].run(settings, unknown) == 2
