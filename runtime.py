"""The running parts of Curfew, opened and closed together: store, fleet, scheduler.

The service (`app.create_app`) and each command of the command line open one `Runtime`; tests hand
in their own store, fleet and clock.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

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
    extras: dict[str, Any] = field(default_factory=dict)
    """Parts added by later layers (bot adapter, notifier, scheduler) keyed by name."""

    def policies(self) -> dict[str, WorkspacePolicy]:
        return {w.alias: self.settings.policy(w.alias) for w in self.fleet.workspaces}


RUNTIME = web.AppKey("runtime", Runtime)


@asynccontextmanager
async def open_runtime(
    settings: Settings,
    *,
    runtime: Runtime | None = None,
    clock: Callable[[], datetime] = utc_now,
    scheduler: bool = False,
) -> AsyncIterator[Runtime]:
    """Open the store (migrating it) and the fleet; close both on the way out."""
    if runtime is not None:
        yield runtime
        return
    store = Store.open(settings.database_url)
    fleet = build_fleet(settings, store)
    rt = Runtime(settings, store, fleet, clock)
    mode = (
        "simulated demo fleet" if settings.simulated else f"{len(settings.workspaces)} Azure ML workspace(s)"
    )
    from bot.wiring import install_teams, uninstall_teams  # botbuilder stays inside bot/

    install_teams(rt)
    curfews = None
    if scheduler:
        from scheduler.service import CurfewScheduler

        curfews = CurfewScheduler(rt, rt.extras["notifier"])
        rt.extras["scheduler"] = curfews
        curfews.start()
    log.info("Curfew ready on %s", mode)
    try:
        yield rt
    finally:
        if curfews is not None:
            await curfews.shutdown()
        await uninstall_teams(rt)
        await fleet.close()
        store.close()
