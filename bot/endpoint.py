"""The Bot Framework endpoint, POST /api/messages, and the per-app Teams parts.

The `TurnHandler` comes from `Runtime.extras["turn_handler"]` at each request; until one is there, a
fallback answers that Curfew is starting up. The `TeamsAdapter` (built at start-up) and the
`TeamsMessenger` (on first use) are made once per runtime and kept in `extras` ("teams_adapter",
"teams_messenger"): no module-level state.
"""

from __future__ import annotations

from aiohttp import web

from bot.adapter import TeamsAdapter
from bot.messenger import TeamsMessenger
from bot.turns import ActionResult, Inbound, Reply, TurnHandler
from runtime import RUNTIME, Runtime

STARTING_UP = "Curfew is starting up. Please try again in a minute."


class StartingUpHandler:
    """Answers every turn with STARTING_UP (used until the real handler is registered)."""

    async def on_message(self, inbound: Inbound) -> list[Reply]:
        return [Reply(text=STARTING_UP)]

    async def on_action(self, inbound: Inbound) -> ActionResult:
        card = {
            "type": "AdaptiveCard",
            "version": "1.5",
            "body": [{"type": "TextBlock", "text": STARTING_UP, "wrap": True}],
        }
        return ActionResult(card=card)

    async def on_install(self, inbound: Inbound, first_time: bool) -> list[Reply]:
        return [Reply(text=STARTING_UP)] if first_time else []


def add_bot_routes(app: web.Application) -> None:
    """POST /api/messages; the adapter is built at start-up so a bad bot identity fails fast."""
    app.router.add_post("/api/messages", messages)
    app.on_startup.append(_build_adapter)  # runs after create_app's cleanup_ctx opened the runtime


async def _build_adapter(app: web.Application) -> None:
    teams_adapter(app[RUNTIME])


async def messages(request: web.Request) -> web.Response:
    rt = request.app[RUNTIME]
    handler: TurnHandler = rt.extras.get("turn_handler") or StartingUpHandler()
    return await teams_adapter(rt).process(request, handler)


def teams_adapter(rt: Runtime) -> TeamsAdapter:
    """The runtime's TeamsAdapter, made on first use."""
    adapter = rt.extras.get("teams_adapter")
    if adapter is None:
        adapter = TeamsAdapter(rt.settings, rt.store, rt.clock)
        rt.extras["teams_adapter"] = adapter
    assert isinstance(adapter, TeamsAdapter)
    return adapter


def teams_messenger(rt: Runtime) -> TeamsMessenger:
    """The runtime's TeamsMessenger (default Teams rate limits), made on first use."""
    messenger = rt.extras.get("teams_messenger")
    if messenger is None:
        messenger = TeamsMessenger(teams_adapter(rt), rt.store, rt.settings)
        rt.extras["teams_messenger"] = messenger
    assert isinstance(messenger, TeamsMessenger)
    return messenger
