"""The Bot Framework endpoint, POST /api/messages.

The composition root (wiring.py) puts the app's `BotEndpoint` (the TeamsAdapter and the TurnHandler)
under the `BOT` key once the runtime is open; until then the endpoint answers 503, starting up.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from bot.adapter.teams import TeamsAdapter
from bot.turns import TurnHandler

STARTING_UP = "Curfew is starting up. Please try again in a minute."


@dataclass(frozen=True, slots=True)
class BotEndpoint:
    adapter: TeamsAdapter
    handler: TurnHandler


BOT = web.AppKey("bot", BotEndpoint)


def add_bot_routes(app: web.Application) -> None:
    app.router.add_post("/api/messages", messages)


async def messages(request: web.Request) -> web.Response:
    endpoint = request.app.get(BOT)
    if endpoint is None:
        return web.json_response({"error": STARTING_UP}, status=503)
    return await endpoint.adapter.process(request, endpoint.handler)
