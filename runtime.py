"""Curfew's kernel, opened and closed together: settings, the store, the fleet and the clock.

Everything else (the Teams side, the conversation, the scheduler) is built on top of it by the
composition root, wiring.py. Tests hand in their own store, fleet and clock.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web

from compute.factory import build_fleet
from compute.port import Fleet
from config.settings import Settings
from domain.model import WorkspacePolicy
from storage.repositories import Store

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    settings: Settings
    store: Store
    fleet: Fleet
    clock: Callable[[], datetime] = utc_now

    def policies(self) -> dict[str, WorkspacePolicy]:
        return {w.alias: self.settings.policy(w.alias) for w in self.fleet.workspaces}


RUNTIME = web.AppKey("runtime", Runtime)


@asynccontextmanager
async def open_runtime(
    settings: Settings, *, runtime: Runtime | None = None, clock: Callable[[], datetime] = utc_now
) -> AsyncIterator[Runtime]:
    """Open the store (migrating it) and the fleet; close both on the way out. A given `runtime` is
    the caller's: it is used as it is and not closed here."""
    if runtime is not None:
        yield runtime
        return
    store = Store.open(settings.database_url, max_connections=settings.database_pool_size)
    fleet = build_fleet(settings, store)
    mode = (
        "simulated demo fleet" if settings.simulated else f"{len(settings.workspaces)} Azure ML workspace(s)"
    )
    log.info("Curfew's kernel open on %s", mode)
    try:
        yield Runtime(settings, store, fleet, clock)
    finally:
        await fleet.close()
        store.close()
