"""A minimal botbuilder bot on aiohttp: the baseline for Playground UI tests and benchmarks.

- A message "card" gets an Adaptive Card 1.5 with an Action.Execute button "Press me" (verb "press").
- Any other message is echoed back as "Echo: <text>".
- The "press" invoke is answered from ``on_invoke_activity`` with an ``InvokeResponse`` whose body is an
  ``AdaptiveCardInvokeResponse`` model (a dict body is serialized twice by the aiohttp CloudAdapter and
  answers HTTP 500); the returned card replaces the old one and says "Pressed by <from.name>".

Authentication is off (empty app id), so it only accepts unauthenticated traffic from a local channel such
as the Agents Playground. Every received activity is kept in ``EchoBot.activities`` for tests to inspect.

Run it by hand: ``.venv/bin/python -m tests.echo_bot --port 3978`` (then ``scripts/playground``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from botbuilder.core import ActivityHandler, InvokeResponse, MessageFactory, TurnContext
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity, AdaptiveCardInvokeResponse, Attachment

log = logging.getLogger(__name__)

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
PRESS_VERB = "press"


class _NoAuthConfig:
    """Configuration for ConfigurationBotFrameworkAuthentication: empty app id = no authentication."""

    APP_ID = ""
    APP_PASSWORD = ""
    APP_TYPE = "MultiTenant"
    APP_TENANTID = ""


def press_card() -> dict[str, Any]:
    return {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.5",
        "body": [{"type": "TextBlock", "text": "Press the button", "wrap": True}],
        "actions": [{"type": "Action.Execute", "title": "Press me", "verb": PRESS_VERB, "data": {}}],
    }


def pressed_card(name: str) -> dict[str, Any]:
    return {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.5",
        "body": [{"type": "TextBlock", "text": f"Pressed by {name}", "wrap": True}],
    }


class EchoBot(ActivityHandler):  # type: ignore[misc]  # botbuilder ships no type hints
    def __init__(self) -> None:
        self.activities: list[Activity] = []

    async def on_turn(self, turn_context: TurnContext) -> None:
        self.activities.append(turn_context.activity)
        await super().on_turn(turn_context)

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        text = (turn_context.activity.text or "").strip()
        if text.lower() == "card":
            attachment = Attachment(content_type=CARD_CONTENT_TYPE, content=press_card())
            await turn_context.send_activity(MessageFactory.attachment(attachment))
        else:
            await turn_context.send_activity(MessageFactory.text(f"Echo: {text}"))

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse | None:
        activity = turn_context.activity
        if activity.name == "adaptiveCard/action":
            action = (activity.value or {}).get("action") or {}
            if action.get("verb") == PRESS_VERB:
                sender = activity.from_property
                name = (sender.name if sender else None) or (sender.aad_object_id if sender else None)
                body = AdaptiveCardInvokeResponse(
                    status_code=200, type=CARD_CONTENT_TYPE, value=pressed_card(name or "someone")
                )
                return InvokeResponse(status=200, body=body)
        return await super().on_invoke_activity(turn_context)


BOT_KEY = web.AppKey("bot", EchoBot)


def create_app(bot: EchoBot | None = None) -> web.Application:
    """An aiohttp app with POST /api/messages; the bot is at ``app[BOT_KEY]``."""
    bot = bot or EchoBot()
    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(_NoAuthConfig()))

    async def on_error(context: TurnContext, error: Exception) -> None:
        log.exception("echo bot turn failed", exc_info=error)

    adapter.on_turn_error = on_error

    async def messages(request: web.Request) -> web.StreamResponse:
        response: web.StreamResponse = await adapter.process(request, bot)
        return response

    app = web.Application()
    app[BOT_KEY] = bot
    app.router.add_post("/api/messages", messages)
    return app


@dataclass
class RunningBot:
    bot: EchoBot
    endpoint: str  # e.g. http://127.0.0.1:41234/api/messages
    port: int


@asynccontextmanager
async def run_echo_bot(host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[RunningBot]:
    """Serve the echo bot on host:port (port 0 = ephemeral) for the duration of the block."""
    bot = EchoBot()
    runner = web.AppRunner(create_app(bot))
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    try:
        bound = int(runner.addresses[0][1])
        yield RunningBot(bot=bot, endpoint=f"http://{host}:{bound}/api/messages", port=bound)
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description="Minimal echo bot (no auth) for the Agents Playground")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3978)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)

    async def serve() -> None:
        async with run_echo_bot(args.host, args.port) as running:
            print(f"echo bot listening on {running.endpoint}", flush=True)
            await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
