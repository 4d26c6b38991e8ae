"""Curfew's own chat wired into the protocol harness: the real endpoint, chat and Teams notifier."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.chat import CurfewChat
from bot.endpoint import teams_messenger
from bot.followup import FollowUps
from bot.notifier import TeamsNotifier
from bot.wiring import install_teams
from storage.repositories import Store
from tests.bot_harness import BotEnv, open_bot_env
from tests.conftest import FakeClock


def wire_curfew(env: BotEnv) -> None:
    """install_teams as the service does, with follow-ups that poll quickly for tests."""
    rt = env.runtime
    install_teams(rt)
    followups = FollowUps(
        rt.fleet, rt.store, rt.clock, lambda: teams_messenger(rt), poll_seconds=0.01, timeout_seconds=5
    )
    rt.extras["followups"] = followups
    rt.extras["turn_handler"] = CurfewChat(rt, followups)
    rt.extras["notifier"] = TeamsNotifier(rt.settings, env.messenger(), rt.clock)


@pytest.fixture
async def curfew_env(sqlite_store: Store, clock: FakeClock) -> AsyncIterator[BotEnv]:
    async with open_bot_env(sqlite_store, clock) as env:
        wire_curfew(env)
        yield env
