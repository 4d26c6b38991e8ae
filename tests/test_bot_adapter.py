"""Protocol tests of the Bot Framework layer: real activity JSON in, connector traffic out.

The TurnHandler here is a tiny echo; the real one (bot/handlers.py) has its own tests on this harness.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.adapter.teams import APOLOGY
from bot.turns import CardAnswer, Inbound, InboundKind, Reply, SendOutcome
from storage.repositories import Store
from tests.bot_harness import ALEX, DANA, MORGAN, TENANT, BotEnv, open_bot_env
from tests.conftest import FakeClock
from tests.connector_standin import CARD_TYPE

CARD = {
    "type": "AdaptiveCard",
    "version": "1.5",
    "body": [{"type": "TextBlock", "text": "gpu-ci is running"}],
}


def card_saying(text: str) -> dict[str, Any]:
    return {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": text}]}


class EchoHandler:
    """Echoes messages, answers "card" with CARD, fails on "boom"; records what it was given."""

    def __init__(self) -> None:
        self.seen: list[Inbound] = []
        self.installs: list[bool] = []

    async def on_message(self, inbound: Inbound) -> list[Reply]:
        self.seen.append(inbound)
        if inbound.value is not None:
            return [
                Reply(
                    card=card_saying(f"chose {inbound.value['choice']}"),
                    update_activity_id=inbound.reply_to_id,
                )
            ]
        if inbound.text == "boom":
            raise RuntimeError("database password is hunter2")
        if inbound.text == "card":
            return [Reply(text="Your instances", card=CARD)]
        return [Reply(text=f"Echo: {inbound.text}")]

    async def on_action(self, inbound: Inbound) -> CardAnswer:
        self.seen.append(inbound)
        if inbound.verb == "boom":
            raise RuntimeError("database password is hunter2")
        return CardAnswer(card_saying(f"{inbound.verb} {inbound.value}"), followups=(Reply(text="Done."),))

    async def on_install(self, inbound: Inbound, first_time: bool) -> list[Reply]:
        self.seen.append(inbound)
        self.installs.append(first_time)
        return [Reply(text="Welcome to Curfew")] if first_time else []


@pytest.fixture
async def bot_env(sqlite_store: Store, clock: FakeClock) -> AsyncIterator[BotEnv]:
    async with open_bot_env(sqlite_store, clock) as env:
        yield env


@pytest.fixture
def echo(bot_env: BotEnv) -> EchoHandler:
    handler = EchoHandler()
    bot_env.use(handler)
    return handler


# -- inbound turns ----------------------------------------------------------------------------


async def test_message_gets_text_and_card_replies_at_the_connector(
    bot_env: BotEnv, echo: EchoHandler
) -> None:
    [echoed] = await bot_env.say("hello there")
    assert echoed.text == "Echo: hello there"
    assert echoed.conversation_id == DANA.chat_id and echoed.body["recipient"]["id"] == DANA.teams_id

    [carded] = await bot_env.say("card")
    assert carded.text == "Your instances"
    assert carded.body["attachments"] == [{"contentType": CARD_TYPE, "content": CARD}]
    inbound = echo.seen[-1]
    assert (inbound.kind, inbound.user_aad_id, inbound.user_name) == (
        InboundKind.MESSAGE,
        DANA.aad_id,
        DANA.name,
    )
    assert (inbound.tenant_id, inbound.conversation_type, inbound.local_timezone) == (
        TENANT,
        "personal",
        DANA.timezone,
    )


async def test_conversation_reference_is_stored_with_tenant_from_channel_data(
    bot_env: BotEnv, echo: EchoHandler
) -> None:
    activity = bot_env.teams.message("hi", ALEX)
    del activity["conversation"]["tenantId"], activity["localTimezone"]  # zone only in clientInfo now
    assert (await bot_env.post(activity)).status == 201

    ref = await bot_env.store.call(bot_env.store.conversations.get, ALEX.aad_id, TENANT)
    assert ref is not None
    assert (ref.user_name, ref.local_timezone) == (ALEX.name, "America/New_York")
    assert ref.reference["conversation"]["id"] == ALEX.chat_id
    assert ref.reference["serviceUrl"] == bot_env.connector.url
    assert ref.reference["user"]["aadObjectId"] == ALEX.aad_id


async def test_repeated_install_is_idempotent_and_welcomes_once(bot_env: BotEnv, echo: EchoHandler) -> None:
    [welcome] = await bot_env.install(DANA)
    assert welcome.text == "Welcome to Curfew" and welcome.conversation_id == DANA.chat_id
    assert await bot_env.install(DANA) == []  # the Playground repeats install events on every page load
    assert (await bot_env.post(bot_env.teams.members_added(DANA, bot=True))).messages == []
    assert echo.installs == [True, False, False]
    assert all(i.kind is InboundKind.INSTALL and i.user_aad_id == DANA.aad_id for i in echo.seen)
    assert await bot_env.store.call(bot_env.store.conversations.get, DANA.aad_id, TENANT) is not None


async def test_channel_message_needs_a_mention_which_is_stripped(bot_env: BotEnv, echo: EchoHandler) -> None:
    ignored = await bot_env.post(bot_env.teams.channel_message("status", MORGAN, mention=False))
    assert (ignored.status, ignored.messages, echo.seen) == (201, [], [])

    [answer] = (await bot_env.post(bot_env.teams.channel_message("status  gpu-ci", MORGAN))).messages
    assert answer.text == "Echo: status gpu-ci"
    assert answer.conversation_id == bot_env.teams.channel(MORGAN)["id"]
    assert echo.seen[-1].conversation_type == "channel"
    # a channel's reference is no way to reach Morgan 1:1: nothing stored
    assert await bot_env.store.call(bot_env.store.conversations.get, MORGAN.aad_id, TENANT) is None


async def test_action_execute_answers_with_the_refreshed_card_then_followups(
    bot_env: BotEnv, echo: EchoHandler
) -> None:
    click = await bot_env.click("keep", {"instance": "gpu-ci", "days": 2})
    card = card_saying("keep {'instance': 'gpu-ci', 'days': 2}")
    assert click.status == 200
    assert click.body == {"statusCode": 200, "type": CARD_TYPE, "value": card}
    assert click.texts == ["Done."]
    inbound = echo.seen[-1]
    assert (inbound.kind, inbound.verb, inbound.value) == (
        InboundKind.ACTION,
        "keep",
        {"instance": "gpu-ci", "days": 2},
    )


async def test_action_submit_arrives_as_message_with_value_and_rewrites_the_card(
    bot_env: BotEnv, echo: EchoHandler
) -> None:
    [update] = await bot_env.submit({"choice": "stop"}, reply_to_id="1:00042")
    inbound = echo.seen[-1]
    assert (inbound.kind, inbound.value, inbound.reply_to_id) == (
        InboundKind.MESSAGE,
        {"choice": "stop"},
        "1:00042",
    )
    assert update.method == "PUT" and update.path == f"/v3/conversations/{DANA.chat_id}/activities/1:00042"
    assert update.card == card_saying("chose stop")


async def test_handler_failure_sends_one_apology_and_logs_the_stack(
    bot_env: BotEnv, echo: EchoHandler, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="bot.adapter"):
        turn = await bot_env.post(bot_env.teams.message("boom"))
    assert turn.status == 201
    assert [m.text for m in turn.messages] == [APOLOGY]
    assert "hunter2" not in str([r.body for r in bot_env.connector.requests])
    [record] = [r for r in caplog.records if r.name == "bot.adapter.teams"]
    assert record.exc_info is not None and "hunter2" in str(record.exc_info[1])

    click = await bot_env.click("boom")  # a card click: the apology is the invoke response
    assert click.status == 200 and click.body["value"] == APOLOGY and click.messages == []
    assert (await bot_env.say("still alive?"))[0].text == "Echo: still alive?"


async def test_with_an_app_id_a_request_without_token_is_refused(
    sqlite_store: Store, clock: FakeClock
) -> None:
    handler = EchoHandler()
    app_id = "11111111-2222-3333-4444-555555555555"
    async with open_bot_env(sqlite_store, clock, app_id=app_id, handler=handler) as env:
        assert (await env.post(env.teams.message("hello"))).status == 401
        assert (
            await env.post(env.teams.message("hello"), headers={"Authorization": "Bearer junk"})
        ).status == 401
        assert handler.seen == [] and env.connector.requests == []
        assert await sqlite_store.call(sqlite_store.conversations.get, DANA.aad_id, TENANT) is None


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"text": "hi"}', 'no "type"'),
        (b'{"type": "message", "text": "hi"}', "serviceUrl"),
    ],
)
async def test_malformed_body_is_a_400_with_a_reason(
    bot_env: BotEnv, echo: EchoHandler, body: bytes, reason: str
) -> None:
    turn = await bot_env.post(body)
    assert turn.status == 400 and reason in turn.body["error"]
    assert echo.seen == []


async def test_before_the_service_is_wired_the_endpoint_says_it_is_starting() -> None:
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    from bot.adapter.endpoint import add_bot_routes

    app = web.Application()
    add_bot_routes(app)  # no BotEndpoint yet: the composition root has not opened the service
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        response = await client.post("/api/messages", json={"type": "message"})
        assert response.status == 503
        assert (await response.json())["error"].startswith("Curfew is starting up")


# -- proactive messages -----------------------------------------------------------------------


async def test_messenger_sends_through_the_stored_reference(bot_env: BotEnv, echo: EchoHandler) -> None:
    await bot_env.say("hi")
    result = await bot_env.messenger().send(DANA.aad_id, TENANT, Reply(text="Curfew at 00:00", card=CARD))
    assert result.outcome is SendOutcome.SENT and result.activity_id
    last = bot_env.connector.requests[-1]
    assert (last.method, last.path) == ("POST", f"/v3/conversations/{DANA.chat_id}/activities")
    assert last.text == "Curfew at 00:00" and last.card == CARD
    assert bot_env.connector.created() == []


async def test_messenger_creates_the_chat_when_no_reference_is_stored(bot_env: BotEnv) -> None:
    messenger = bot_env.messenger()
    assert (await messenger.send(MORGAN.aad_id, TENANT, Reply(text="one"))).outcome is SendOutcome.SENT
    assert (await messenger.send(MORGAN.aad_id, None, Reply(text="two"))).outcome is SendOutcome.SENT
    [create] = bot_env.connector.created()
    assert create.body["members"][0]["id"] == MORGAN.aad_id and create.body["isGroup"] is False
    assert create.body["channelData"]["tenant"]["id"] == TENANT
    assert [m.text for m in bot_env.connector.messages_for(MORGAN.chat_id)] == ["one", "two"]
    ref = await bot_env.store.call(bot_env.store.conversations.get, MORGAN.aad_id, TENANT)
    assert ref is not None and ref.reference["conversation"]["id"] == MORGAN.chat_id


async def test_messenger_waits_retry_after_on_429_and_loses_nothing(bot_env: BotEnv) -> None:
    bot_env.connector.fail_next(r"/activities$", 429, {"Retry-After": "0.3"})
    result = await bot_env.messenger().send(MORGAN.aad_id, TENANT, Reply(text="warning"))
    assert result.outcome is SendOutcome.SENT
    refused, sent = [r for r in bot_env.connector.requests if r.path.endswith("/activities")]
    assert (refused.status, sent.status, sent.text) == (429, 201, "warning")
    assert sent.at - refused.at >= 0.3
    assert bot_env.connector.texts() == ["warning"]


async def test_messenger_retries_503_then_succeeds(bot_env: BotEnv) -> None:
    bot_env.connector.fail_next(r"/activities$", 503, times=2)
    result = await bot_env.messenger().send(MORGAN.aad_id, TENANT, Reply(text="warning"))
    assert result.outcome is SendOutcome.SENT
    statuses = [r.status for r in bot_env.connector.requests if r.path.endswith("/activities")]
    assert statuses == [503, 503, 201]


async def test_messenger_gives_up_after_bounded_retries(bot_env: BotEnv) -> None:
    bot_env.connector.fail_next(r"/activities$", 502, times=100)
    result = await bot_env.messenger(max_attempts=3).send(MORGAN.aad_id, TENANT, Reply(text="warning"))
    assert (result.outcome, result.detail) == (SendOutcome.FAILED, "HTTP 502 Http502")
    assert len([r for r in bot_env.connector.requests if r.path.endswith("/activities")]) == 3


async def test_blocked_or_uninstalled_users_are_unreachable(bot_env: BotEnv) -> None:
    bot_env.connector.block_user(MORGAN.aad_id)
    blocked = await bot_env.messenger().send(MORGAN.aad_id, TENANT, Reply(text="warning"))
    assert blocked.outcome is SendOutcome.UNREACHABLE and "MessageWritesBlocked" in blocked.detail
    assert await bot_env.store.call(bot_env.store.conversations.get, MORGAN.aad_id, TENANT) is None

    bot_env.connector.unknown_users.add(ALEX.aad_id)
    missing = await bot_env.messenger().send(ALEX.aad_id, TENANT, Reply(text="warning"))
    assert missing.outcome is SendOutcome.UNREACHABLE and "403" in missing.detail
    assert len(bot_env.connector.requests) == 3  # create+send for Morgan, create for Alex: no retries


async def test_messenger_update_rewrites_an_earlier_message(bot_env: BotEnv) -> None:
    messenger = bot_env.messenger()
    first = await messenger.send(DANA.aad_id, TENANT, Reply(card=card_saying("gpu-ci stops at 00:00")))
    assert first.activity_id is not None
    result = await messenger.update(DANA.aad_id, TENANT, first.activity_id, Reply(card=card_saying("kept")))
    assert result.outcome is SendOutcome.SENT
    [update] = bot_env.connector.updates()
    assert update.path == f"/v3/conversations/{DANA.chat_id}/activities/{first.activity_id}"
    assert update.card == card_saying("kept")


async def test_messenger_rides_out_tenant_throttling(bot_env: BotEnv) -> None:
    # Teams allows 50/s; scaled down to 20/s with a burst of 5, so 30 concurrent sends must meet 429s
    bot_env.connector.limit_tenant(rate_per_s=20, burst=5)
    messenger = bot_env.messenger(tenant_limit=(200.0, 20))  # deliberately faster than the connector
    users = [str(uuid.UUID(int=i)) for i in range(1, 31)]
    results = await asyncio.gather(*(messenger.send(u, TENANT, Reply(text=f"hi {u}")) for u in users))
    assert {r.outcome for r in results} == {SendOutcome.SENT}
    assert bot_env.connector.throttled > 0
    assert sorted(bot_env.connector.texts()) == sorted(f"hi {u}" for u in users)


def test_the_government_channel_service_switches_the_bot_framework_endpoints(
    sqlite_store: Store, tmp_path: Path
) -> None:
    from bot.adapter.teams import TeamsAdapter
    from config.settings import load_settings

    config = tmp_path / "curfew.yaml"
    config.write_text("timezone: UTC\n")
    bot = {
        "CURFEW_CONFIG": str(config),
        "MicrosoftAppId": "00000000-0000-0000-0000-0000000000aa",
        "MicrosoftAppPassword": "not-a-secret",
        "MicrosoftAppType": "MultiTenant",  # written out: no longer a default
    }
    public = load_settings(env=bot)
    government = load_settings(env={**bot, "ChannelService": "https://botframework.azure.us"})
    assert TeamsAdapter(public, sqlite_store).audience == "https://api.botframework.com"
    assert TeamsAdapter(government, sqlite_store).audience == "https://api.botframework.us"
