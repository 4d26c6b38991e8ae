"""Curfew: the service and its command line.

    python app.py [serve]          the aiohttp service (Bot Framework endpoint, scheduler, /healthz)
    python app.py fleet            a table of every compute instance
    python app.py db upgrade       apply the database migrations
    python app.py sweep [--dry-run] [--workspace ALIAS]
    python app.py warn [--dry-run]

Configuration: see README.md ("Configuration reference"). A broken configuration exits with status 2
and one line per problem.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from aiohttp import web

from bot.adapter.endpoint import BOT, BotEndpoint, add_bot_routes
from bot.turns import TurnHandler
from cli.commands import COMMANDS
from config.settings import ConfigError, Settings, load_settings
from ops.health import SCHEDULER, healthz, readyz
from ops.interpreter import short_switches
from ops.logs import configure_logging
from ops.telemetry import configure_telemetry
from runtime import RUNTIME, Runtime
from wiring import SERVICE, BotTuning, open_service

log = logging.getLogger("curfew")
WORKER_THREADS = 32
"""Threads for blocking work: botbuilder's connector calls, the Azure SDK, the database."""


def create_app(
    settings: Settings,
    *,
    runtime: Runtime | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    scheduler: bool = True,
    tuning: BotTuning | None = None,
    handler: Callable[[TurnHandler], TurnHandler] | None = None,
) -> web.Application:
    """The aiohttp application. Tests hand in their own store and fleet (`runtime`), quicker polls
    (`tuning`), and may put their own TurnHandler in front of the conversation (`handler`)."""
    app = web.Application()

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        opened = open_service(settings, runtime=runtime, clock=clock, scheduler=scheduler, tuning=tuning)
        async with opened as service:
            app[RUNTIME] = service.runtime
            app[SERVICE] = service
            conversation: TurnHandler = service.bot.conversation
            app[BOT] = BotEndpoint(service.teams.adapter, handler(conversation) if handler else conversation)
            if service.scheduler is not None:
                app[SCHEDULER] = service.scheduler
            # What start-up built lives as long as the process: out of the collector's way, so the
            # first turns do not stall on full collections over ~140k long-lived objects.
            gc.collect()
            gc.freeze()
            with short_switches():
                yield
            gc.unfreeze()

    app.cleanup_ctx.append(lifetime)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    add_bot_routes(app)
    return app


def listen_host(settings: Settings) -> str:
    """Every interface with authentication on; loopback only without it, and the log says so."""
    bot = settings.bot
    if not bot.authenticated:
        log.warning(
            "MicrosoftAppId is empty: authentication is off, so Curfew listens on 127.0.0.1:%d only "
            "(local use with the Agents Playground); set MicrosoftAppId and MicrosoftAppType to serve Teams",
            settings.port,
        )
        return "127.0.0.1"
    if bot.kind == "MultiTenant":
        log.warning(
            "MicrosoftAppType is MultiTenant: Azure no longer creates multi-tenant bots; "
            "move to SingleTenant or UserAssignedMSI"
        )
    log.info("authentication on for MicrosoftAppId %s (%s)", bot.app_id, bot.kind)
    return "0.0.0.0"  # noqa: S104 - every request is checked against the Bot Framework token


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python app.py", description="Curfew for Azure ML compute instances"
    )
    sub = parser.add_subparsers(dest="command")
    for name, command in COMMANDS.items():
        command.configure(sub.add_parser(name, help=command.help, description=command.help))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging()
    try:
        settings = load_settings()
    except ConfigError as error:
        for problem in error.problems:
            print(f"config error: {problem}", file=sys.stderr)
        return 2
    name = args.command or "serve"
    if name == "serve":
        configure_telemetry()
        loop = asyncio.new_event_loop()
        loop.set_default_executor(ThreadPoolExecutor(max_workers=WORKER_THREADS, thread_name_prefix="curfew"))
        host = listen_host(settings)
        web.run_app(create_app(settings), host=host, port=settings.port, print=None, loop=loop)
        return 0
    return asyncio.run(COMMANDS[name].run(settings, args))


if __name__ == "__main__":
    sys.exit(main())
