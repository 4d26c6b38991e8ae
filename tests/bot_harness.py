"""Protocol-test harness: real Teams activity JSON into /api/messages, the bot's answers out of a
local connector stand-in.

    from tests.bot_harness import DANA, BotEnv

    # bot_env is a fixture: list "tests.bot_harness" in tests/conftest.py's pytest_plugins

    async def test_status(bot_env: BotEnv) -> None:
        bot_env.use(MyTurnHandler(...))              # in front of the conversation
        [answer] = await bot_env.say("status", user=DANA)
        assert "gpu-ci" in answer.text
        click = await bot_env.click("keep", {"instance": "gpu-ci"})
        assert click.status == 200 and click.card["type"] == "AdaptiveCard"

`say`, `submit` and `install` return the bot messages (`Recorded`: .text, .card, .body, .is_update)
that reached the connector during that turn; `expect=n` waits for n of them (background replies).
The activity builders (`env.teams.message(...)`, `channel_message`, `installation_update`,
`members_added`, `card_action`, `submit`) give the JSON for `env.post(...)` when a test needs more.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from app import create_app
from bot.adapter.connector_errors import Backoff
from bot.adapter.messenger import TeamsMessenger
from bot.turns import TurnHandler
from config.settings import BotSettings, TeamsSettings
from runtime import Runtime
from storage.repositories import Store
from tests import card_check
from tests.conftest import FakeClock
from tests.connector_standin import ConnectorStandIn, Recorded, personal_conversation_id
from tests.sweep_fixtures import FleetSpy, demo_runtime, demo_settings
from wiring import SERVICE, BotTuning, Service

TENANT = "00000000-0000-0000-0000-000000000001"
BOT_ID = "28:00000000-0000-0000-0000-000000000011"
BOT_NAME = "Curfew"
TEAM_CHANNEL = "19:curfew-ops@thread.tacv2"


def words(message: Any) -> str:
    """What a reply says: its text, else the first text of its card (a confirmation card's sentence)."""
    if message.text:
        return str(message.text)
    for block in (message.card or {}).get("body") or []:
        if block.get("text"):
            return str(block["text"])
    return ""


def undo_command(message: Any) -> str | None:
    """The command a confirmation card's Undo button runs, if it has one."""
    for action in (message.card or {}).get("actions") or []:
        if action.get("title") == "Undo":
            return str(action["data"]["command"])
    return None


@dataclass(frozen=True)
class TeamsUser:
    aad_id: str
    name: str
    tenant_id: str = TENANT
    timezone: str = "Europe/Berlin"

    @property
    def teams_id(self) -> str:
        return "29:1" + self.aad_id.replace("-", "")

    @property
    def chat_id(self) -> str:
        """Their 1:1 chat with the bot."""
        return personal_conversation_id(self.aad_id)


DANA = TeamsUser("00000000-0000-0000-0000-000000000020", "Dana Scientist")
ALEX = TeamsUser("00000000-0000-0000-0000-000000000021", "Alex Approver", timezone="America/New_York")
MORGAN = TeamsUser("00000000-0000-0000-0000-000000000022", "Morgan Modeler")


@dataclass
class TeamsActivities:
    """Activity JSON as Teams sends it to a bot (serviceUrl = the connector stand-in)."""

    service_url: str
    bot_id: str = BOT_ID
    bot_name: str = BOT_NAME
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1_700_000_000_001))

    def _activity(
        self, kind: str, user: TeamsUser, conversation: dict[str, Any], **extra: Any
    ) -> dict[str, Any]:
        activity = {
            "type": kind,
            "id": str(next(self._ids)),
            "timestamp": "2026-11-30T21:00:00.000Z",
            "channelId": "msteams",
            "serviceUrl": self.service_url,
            "from": {"id": user.teams_id, "name": user.name, "aadObjectId": user.aad_id},
            "conversation": conversation,
            "recipient": {"id": self.bot_id, "name": self.bot_name},
            "channelData": {"tenant": {"id": user.tenant_id}},
            "locale": "en-US",
        }
        activity.update(extra)
        return activity

    def personal(self, user: TeamsUser) -> dict[str, Any]:
        return {"conversationType": "personal", "tenantId": user.tenant_id, "id": user.chat_id}

    def channel(self, user: TeamsUser, kind: str = "channel") -> dict[str, Any]:
        conversation_id = TEAM_CHANNEL if kind == "channel" else "19:group-chat@thread.v2"
        return {"conversationType": kind, "tenantId": user.tenant_id, "id": conversation_id, "isGroup": True}

    def message(self, text: str | None, user: TeamsUser = DANA, **extra: Any) -> dict[str, Any]:
        """A message in the user's 1:1 chat, with localTimezone and a clientInfo entity."""
        client_info = {"type": "clientInfo", "locale": "en-US", "country": "US", "platform": "Web"}
        client_info["timezone"] = user.timezone
        fields: dict[str, Any] = {
            "textFormat": "plain",
            "localTimestamp": "2026-11-30T22:00:00.000+01:00",
            "localTimezone": user.timezone,
            "entities": [client_info],
        }
        if text is not None:
            fields["text"] = text
        fields.update(extra)
        return self._activity("message", user, self.personal(user), **fields)

    def channel_message(
        self, text: str, user: TeamsUser = DANA, *, mention: bool = True, kind: str = "channel"
    ) -> dict[str, Any]:
        """A message in a team channel (or kind="groupChat"), @mentioning the bot unless mention=False."""
        at = f"<at>{self.bot_name}</at>"
        entities: list[dict[str, Any]] = [
            {"type": "clientInfo", "locale": "en-US", "timezone": user.timezone}
        ]
        if mention:
            mentioned = {"id": self.bot_id, "name": self.bot_name}
            entities.append({"type": "mention", "text": at, "mentioned": mentioned})
        channel_data: dict[str, Any] = {"tenant": {"id": user.tenant_id}}
        if kind == "channel":
            channel_data |= {"teamsTeamId": "19:team@thread.tacv2", "teamsChannelId": TEAM_CHANNEL}
        body = f"{at} {text}" if mention else text
        return self._activity(
            "message", user, self.channel(user, kind), text=body, entities=entities, channelData=channel_data
        )

    def submit(
        self, value: dict[str, Any], user: TeamsUser = DANA, reply_to_id: str = "1:card"
    ) -> dict[str, Any]:
        """An Action.Submit click: a message without text whose value holds the card's data."""
        return self.message(None, user, value=value, replyToId=reply_to_id)

    def installation_update(
        self, user: TeamsUser = DANA, action: str = "add", kind: str = "personal"
    ) -> dict[str, Any]:
        conversation = self.personal(user) if kind == "personal" else self.channel(user, kind)
        return self._activity("installationUpdate", user, conversation, action=action)

    def members_added(
        self, user: TeamsUser = DANA, *, bot: bool = True, kind: str = "personal"
    ) -> dict[str, Any]:
        """conversationUpdate: the bot (bot=True) or the user joined."""
        member = {"id": self.bot_id} if bot else {"id": user.teams_id, "aadObjectId": user.aad_id}
        conversation = self.personal(user) if kind == "personal" else self.channel(user, kind)
        return self._activity("conversationUpdate", user, conversation, membersAdded=[member])

    def card_action(
        self,
        verb: str,
        data: dict[str, Any] | None = None,
        user: TeamsUser = DANA,
        reply_to_id: str = "1:card",
    ) -> dict[str, Any]:
        """An Action.Execute click: invoke adaptiveCard/action."""
        value = {"action": {"type": "Action.Execute", "verb": verb, "data": data or {}}, "trigger": "manual"}
        return self._activity(
            "invoke",
            user,
            self.personal(user),
            name="adaptiveCard/action",
            value=value,
            replyToId=reply_to_id,
        )


@dataclass
class TurnResult:
    """The HTTP answer to one POST /api/messages and the bot messages the connector received."""

    status: int
    body: Any
    messages: list[Recorded]

    @property
    def card(self) -> dict[str, Any] | None:
        """The card of an Action.Execute invoke response (`body.value`)."""
        return self.body.get("value") if isinstance(self.body, dict) else None

    @property
    def texts(self) -> list[str]:
        return [m.text for m in self.messages if m.text]


class SwitchableHandler:
    """The endpoint's TurnHandler in tests: the conversation, unless a test put its own in front."""

    def __init__(self, inner: TurnHandler | None = None) -> None:
        self.inner = inner
        self.conversation: TurnHandler | None = None

    def wrap(self, conversation: TurnHandler) -> TurnHandler:
        self.conversation = conversation
        return self

    @property
    def current(self) -> TurnHandler:
        found = self.inner or self.conversation
        assert found is not None
        return found

    async def on_message(self, inbound: Any) -> Any:
        return await self.current.on_message(inbound)

    async def on_action(self, inbound: Any) -> Any:
        return await self.current.on_action(inbound)

    async def on_install(self, inbound: Any, first_time: bool) -> Any:
        return await self.current.on_install(inbound, first_time)


@dataclass
class BotEnv:
    client: TestClient[Any, Any]
    connector: ConnectorStandIn
    runtime: Runtime
    fleet: FleetSpy
    clock: FakeClock
    teams: TeamsActivities
    switch: SwitchableHandler

    @property
    def service(self) -> Service:
        return self.client.server.app[SERVICE]

    @property
    def store(self) -> Store:
        return self.runtime.store

    def use(self, handler: TurnHandler) -> None:
        """Put a TurnHandler of the test's in front of the conversation."""
        self.switch.inner = handler

    async def post(self, activity: Any, *, headers: dict[str, str] | None = None) -> TurnResult:
        """POST an activity (dict, or raw str/bytes) to /api/messages; the turn's answer and messages."""
        return await self.turn(activity, headers=headers)

    async def turn(
        self,
        activity: Any,
        *,
        expect: int | None = None,
        timeout: float = 5.0,
        headers: dict[str, str] | None = None,
    ) -> TurnResult:
        before = len(self.connector.sent())
        data = activity if isinstance(activity, str | bytes) else json.dumps(activity)
        send_headers = {"Content-Type": "application/json", **(headers or {})}
        response = await self.client.post("/api/messages", data=data, headers=send_headers)
        text = await response.text()
        try:
            body = json.loads(text) if text else None
        except json.JSONDecodeError:
            body = text
        if expect is not None:
            await self.connector.wait_for(lambda c: len(c.sent()) - before >= expect, timeout)
        card_check.record_invoke(body)  # the card an Action.Execute answer carries: checked after the test
        return TurnResult(response.status, body, self.connector.sent()[before:])

    async def say(self, text: str, user: TeamsUser = DANA, *, expect: int | None = None) -> list[Recorded]:
        """The user writes `text` in their 1:1 chat; the bot messages of that turn."""
        return (await self.turn(self.teams.message(text, user), expect=expect)).messages

    async def submit(
        self,
        value: dict[str, Any],
        user: TeamsUser = DANA,
        *,
        reply_to_id: str = "1:card",
        expect: int | None = None,
    ) -> list[Recorded]:
        return (await self.turn(self.teams.submit(value, user, reply_to_id), expect=expect)).messages

    async def click(
        self,
        verb: str,
        data: dict[str, Any] | None = None,
        user: TeamsUser = DANA,
        *,
        reply_to_id: str = "1:card",
    ) -> TurnResult:
        """An Action.Execute click; `.card` is the card that replaces the clicked one."""
        return await self.turn(self.teams.card_action(verb, data, user, reply_to_id))

    async def install(self, user: TeamsUser = DANA, *, expect: int | None = None) -> list[Recorded]:
        return (await self.turn(self.teams.installation_update(user), expect=expect)).messages

    def messenger(self, **limits: Any) -> TeamsMessenger:
        """A TeamsMessenger over the app's adapter, with quick backoffs (override with kwargs)."""
        limits.setdefault("backoff", Backoff(base=0.01, cap=0.05))
        adapter = self.service.teams.adapter
        return TeamsMessenger(adapter, self.store, self.runtime.settings, **limits)


@asynccontextmanager
async def open_bot_env(
    store: Store,
    clock: FakeClock,
    *,
    app_id: str = "",
    handler: TurnHandler | None = None,
    tuning: BotTuning | None = None,
    settings_update: dict[str, Any] | None = None,
) -> AsyncIterator[BotEnv]:
    """The service on the simulated fleet, with the connector stand-in as Teams' serviceUrl;
    `settings_update` changes top-level settings of the demo (e.g. `demo_admins`)."""
    async with ConnectorStandIn() as connector:
        teams = TeamsSettings(tenant_id=TENANT, service_url=connector.url)
        bot = (
            BotSettings(
                app_id=app_id, app_password="not-a-real-secret", app_type="SingleTenant", app_tenant_id=TENANT
            )
            if app_id
            else BotSettings()
        )
        update = {**(settings_update or {}), "teams": teams, "bot": bot}
        settings = demo_settings().model_copy(update=update)
        rt, fleet = demo_runtime(store, clock, settings)
        switch = SwitchableHandler(handler)
        app = create_app(
            settings, runtime=rt, clock=clock, scheduler=False, tuning=tuning, handler=switch.wrap
        )
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            yield BotEnv(client, connector, rt, fleet, clock, TeamsActivities(connector.url), switch)


@pytest.fixture
async def bot_env(sqlite_store: Store, clock: FakeClock) -> AsyncIterator[BotEnv]:
    async with open_bot_env(sqlite_store, clock) as env:
        yield env


__all__ = [
    "ALEX",
    "DANA",
    "MORGAN",
    "TENANT",
    "BotEnv",
    "TeamsActivities",
    "TeamsUser",
    "bot_env",
    "open_bot_env",
]
