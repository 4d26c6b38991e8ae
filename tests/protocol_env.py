"""Curfew's own conversation behind the protocol harness: the real endpoint, wiring and Teams notifier,
with background work that polls quickly."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from storage.repositories import Store
from tests.bot_harness import BotEnv, open_bot_env
from tests.conftest import FakeClock
from wiring import BotTuning

QUICK = BotTuning(poll_seconds=0.01, timeout_seconds=5)


@pytest.fixture
async def curfew_env(sqlite_store: Store, clock: FakeClock) -> AsyncIterator[BotEnv]:
    async with open_bot_env(sqlite_store, clock, tuning=QUICK) as env:
        yield env
