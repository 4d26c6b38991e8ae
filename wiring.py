"""The composition root: every part of Curfew is built here, in order, and handed out typed.

    kernel (runtime.py)      settings, store, fleet, clock
    Teams side               TeamsAdapter (botbuilder) and TeamsMessenger (proactive messages)
    bot                      follow-ups, approvals, keep-ons, the routes and the Conversation, the notifier
    outbox worker            does what state changes left in the outbox (follow-ups, approvals' work)
    scheduler                CurfewScheduler with the notifier and the approvals' pending work as its ports

The service (app.py) opens all of it with `open_service`, the outbox worker running on every
replica from start to stop; each command of the command line asks for
only what it needs (`fleet` the kernel, `warn` the kernel and a notifier). Who provides a part is
answered by reading this file.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web

from bot.adapter.messenger import TeamsMessenger
from bot.adapter.teams import TeamsAdapter
from bot.conversation import commands, report, requests
from bot.conversation.idle import IdleCommands
from bot.conversation.lifecycle import LifeCommands
from bot.conversation.router import Conversation, Routes
from bot.conversation.warning import WarningClicks
from bot.flows.approvals import Approvals
from bot.flows.followups import FollowUps
from bot.flows.keeping import KeepFlow
from bot.flows.lifecycle import LifeFlow
from bot.flows.notifier import TeamsNotifier
from bot.flows.worker import OutboxWorker
from bot.turns import Messenger
from compute.prices import PriceBook
from config.settings import Settings
from runtime import Runtime, open_runtime, utc_now
from scheduler.service import CurfewScheduler, process_name


@dataclass(frozen=True, slots=True)
class TeamsSide:
    adapter: TeamsAdapter
    messenger: TeamsMessenger


@dataclass(frozen=True, slots=True)
class Bot:
    conversation: Conversation
    followups: FollowUps
    approvals: Approvals | None
    keeps: KeepFlow
    routes: Routes
    worker: OutboxWorker
    """Does the outbox's rows; `open_service` runs it, tests may `drain` it."""

    async def drain(self) -> None:
        """Do all the work the turns so far left in the outbox (tests)."""
        await self.worker.drain()


@dataclass(frozen=True, slots=True)
class BotTuning:
    """How often background work polls Azure, and how long it follows an operation (tests go faster)."""

    poll_seconds: float | None = None
    timeout_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class Service:
    runtime: Runtime
    teams: TeamsSide
    bot: Bot
    notifier: TeamsNotifier
    scheduler: CurfewScheduler | None


SERVICE = web.AppKey("service", Service)


def teams_side(rt: Runtime) -> TeamsSide:
    adapter = TeamsAdapter(rt.settings, rt.store, rt.clock)
    return TeamsSide(adapter, TeamsMessenger(adapter, rt.store, rt.settings))


def notifier_for(rt: Runtime, messenger: Messenger) -> TeamsNotifier:
    """The Teams notifier; the warning card shows what each keep option costs, cards name people."""

    async def names(ids: list[str]) -> dict[str, str]:
        return await rt.store.call(rt.store.conversations.names, ids)

    life = LifeFlow(rt, lambda: messenger)
    return TeamsNotifier(rt.settings, messenger, rt.clock, PriceBook(rt.fleet), names, life)


def build_bot(
    rt: Runtime,
    messenger: Callable[[], Messenger | None],
    *,
    followups: FollowUps | None = None,
    poll_seconds: float | None = None,
    timeout_seconds: float | None = None,
    with_requests: bool = True,
    mornings_changed: Callable[[], Awaitable[None]] | None = None,
    owner: str | None = None,
) -> Bot:
    """The conversation and the flows under it. `messenger` returns None while Teams is not connected."""
    poll = poll_seconds if poll_seconds is not None else (2.0 if rt.settings.simulated else 15.0)
    waits = {} if timeout_seconds is None else {"timeout_seconds": timeout_seconds}
    followups = followups or FollowUps(rt.fleet, rt.store, rt.clock, messenger, poll_seconds=poll, **waits)
    approvals = Approvals(rt, messenger, poll_seconds=poll, **waits) if with_requests else None
    worker = OutboxWorker(rt.store, followups.handlers(), owner or process_name(), rt.settings.outbox)
    if approvals is not None:
        worker.add(approvals.handlers())
    keeps = KeepFlow(rt, approvals)
    life = LifeFlow(rt, messenger)
    worker.add(life.handlers())
    routes = Routes()
    life_commands = LifeCommands(rt, life)
    commands.InstanceCommands(rt, keeps, mornings_changed, life_commands.starting).register(routes)
    WarningClicks(rt, keeps).register(routes)
    requests.register(routes, approvals)
    report.register(routes, rt)
    IdleCommands(rt, keeps).register(routes)
    life_commands.register(routes)
    return Bot(Conversation(rt, routes), followups, approvals, keeps, routes, worker)


@asynccontextmanager
async def open_service(
    settings: Settings,
    *,
    runtime: Runtime | None = None,
    clock: Callable[[], datetime] = utc_now,
    scheduler: bool = True,
    tuning: BotTuning | None = None,
) -> AsyncIterator[Service]:
    """Everything the service runs; closed in the reverse order on the way out."""
    async with open_runtime(settings, runtime=runtime, clock=clock) as rt:
        teams = teams_side(rt)
        curfews: list[CurfewScheduler] = []

        async def mornings_changed() -> None:
            for s in curfews:
                await s.sync_jobs()

        tune = tuning or BotTuning()
        bot = build_bot(
            rt,
            lambda: teams.messenger,
            poll_seconds=tune.poll_seconds,
            timeout_seconds=tune.timeout_seconds,
            mornings_changed=mornings_changed,
        )
        notifier = notifier_for(rt, teams.messenger)
        bot.worker.start()
        try:
            if scheduler:
                curfew = CurfewScheduler(rt, notifier, pending=bot.approvals)
                await curfew.start()
                curfews.append(curfew)
            yield Service(rt, teams, bot, notifier, curfews[0] if curfews else None)
        finally:
            for s in curfews:
                await s.shutdown()
            await bot.worker.close()
            await teams.adapter.close()


@asynccontextmanager
async def open_notifying(
    settings: Settings,
) -> AsyncIterator[tuple[Runtime, TeamsNotifier, Approvals | None]]:
    """For the command line's `warn` and `scheduled`: the kernel, the Teams notifier and the pending work."""
    async with open_runtime(settings) as rt:
        teams = teams_side(rt)
        bot = build_bot(rt, lambda: teams.messenger)
        try:
            # the service's workers tell requesters
            yield rt, notifier_for(rt, teams.messenger), bot.approvals
        finally:
            await teams.adapter.close()
