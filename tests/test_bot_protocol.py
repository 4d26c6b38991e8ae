"""Curfew in Teams at the protocol level: real activity JSON into /api/messages, the bot's messages
out of the local connector stand-in (tests/connector_standin.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from bot.conversation.router import Conversation
from domain.model import InstanceState
from storage.repositories import Store
from tests.bot_harness import ALEX, DANA, BotEnv, open_bot_env, undo_command, words
from tests.conftest import FakeClock
from tests.protocol_env import QUICK

SUNDAY = datetime(2026, 11, 29, 14, 0, tzinfo=UTC)


def content(messages: list) -> str:  # type: ignore[type-arg]
    return " ".join((m.text or "") + json.dumps(m.card or {}) for m in messages)


async def test_install_welcomes_once_and_stores_the_reference(curfew_env: BotEnv) -> None:
    first = await curfew_env.install(DANA)
    assert "Hi Dana! I am Curfew." in content(first)
    assert "keep gpu-ci on until Friday because training" in content(first)
    assert await curfew_env.install(DANA) == []  # the Playground re-sends install events on every load
    ref = await curfew_env.store.call(curfew_env.store.conversations.get, DANA.aad_id)
    assert ref is not None and ref.tenant_id == DANA.tenant_id


async def test_status_card_lists_the_senders_instances_and_their_fate(curfew_env: BotEnv) -> None:
    curfew_env.clock.now = SUNDAY
    [answer] = await curfew_env.say("Status please!", DANA)
    assert answer.card is not None
    text = json.dumps(answer.card)
    assert "Your compute instances (4)" in text and "alex-gpu" not in text
    assert "stops at 00:00 Europe/Berlin (Mon 30 Nov)" in text and "job train-42 running" in text


async def test_keep_until_friday_and_release(curfew_env: BotEnv) -> None:
    curfew_env.clock.now = SUNDAY
    [kept] = await curfew_env.say("keep gpu-ci on until tuesday because training", DANA)
    assert words(kept) == (
        "Kept gpu-ci until Wed 2 Dec 00:00 Europe/Berlin; the curfew stops it then. Reason: training. "
        "Estimated cost: USD 146.88 for 48 h past the curfew at USD 3.06/h (simulated)."
    )
    assert undo_command(kept) == "release gpu-ci@demo"
    [released] = await curfew_env.say("cancel keep gpu-ci", DANA)
    assert words(released).startswith("Released gpu-ci: the curfew applies again.")
    undo = undo_command(released)
    assert undo == "keep gpu-ci@demo until 2026-12-02 00:00 because training"
    [again] = await curfew_env.submit({"curfew": True, "verb": "run", "command": undo}, DANA)  # Undo, clicked
    assert words(again).startswith("Kept gpu-ci until Wed 2 Dec 00:00 Europe/Berlin")


async def test_someone_elses_instance_is_refused(curfew_env: BotEnv) -> None:
    [answer] = await curfew_env.say("stop alex-gpu", DANA)
    assert answer.text is not None and "alex-gpu is not yours" in answer.text
    assert (await curfew_env.runtime.fleet.get_instance("demo", "alex-gpu")).state is InstanceState.RUNNING


async def test_stop_is_acknowledged_then_reported_proactively(curfew_env: BotEnv) -> None:
    messages = await curfew_env.say("stop cpu-ci", DANA, expect=2)
    assert [m.text for m in messages][:2] == [
        "Stopping cpu-ci (demo). I will tell you when it is stopped.",
        "cpu-ci is stopped now.",
    ]
    assert all(m.conversation_id == DANA.chat_id for m in messages)


async def test_unknown_instance_and_unknown_command(curfew_env: BotEnv) -> None:
    [typo] = await curfew_env.say("keep gpu-cj for 1 hour", DANA)
    assert typo.text == "No instance gpu-cj; did you mean gpu-ci?"
    [helped] = await curfew_env.say("what is the meaning of life", DANA)
    assert helped.card is not None and "What I can do" in json.dumps(helped.card)


async def test_a_channel_mention_is_answered_and_an_unmentioned_message_ignored(curfew_env: BotEnv) -> None:
    answered = await curfew_env.turn(curfew_env.teams.channel_message("status", DANA))
    assert answered.messages and "Your compute instances" in json.dumps(answered.messages[0].card)
    ignored = await curfew_env.turn(curfew_env.teams.channel_message("status", DANA, mention=False))
    assert ignored.messages == []


async def test_an_ambiguous_date_offers_buttons_and_a_submit_click_keeps(curfew_env: BotEnv) -> None:
    curfew_env.clock.now = SUNDAY
    [question] = await curfew_env.say("keep cpu-ci until 1/12", DANA)
    assert question.card is not None
    commands = [a["data"]["command"] for a in question.card["actions"]]
    assert commands == ["keep cpu-ci@demo until 2026-12-01", "keep cpu-ci@demo until 2027-01-12"]
    [kept] = await curfew_env.submit(question.card["actions"][0]["data"], DANA)
    assert words(kept).startswith("Kept cpu-ci until Wed 2 Dec 00:00 Europe/Berlin")


async def test_with_an_app_id_a_request_without_authorization_is_refused(
    sqlite_store: Store, clock: FakeClock
) -> None:
    async with open_bot_env(
        sqlite_store, clock, app_id="00000000-0000-0000-0000-0000000000aa", tuning=QUICK
    ) as env:
        result = await env.post(env.teams.message("stop cpu-ci", DANA))
        assert result.status == 401
        assert env.connector.sent() == []
        assert await env.store.call(env.store.conversations.get, DANA.aad_id) is None
        assert (await env.runtime.fleet.get_instance("demo", "cpu-ci")).state is InstanceState.RUNNING


async def test_a_turn_error_gets_one_apology_and_no_details(curfew_env: BotEnv) -> None:
    chat = curfew_env.switch.current
    assert isinstance(chat, Conversation)

    def broken(*args: object, **kwargs: object) -> list[object]:
        raise RuntimeError("secret internals")

    curfew_env.store.keep_ons.in_force = broken  # type: ignore[method-assign,assignment]
    messages = await curfew_env.say("status", DANA)
    assert len(messages) == 1 and "Sorry" in (messages[0].text or "")
    assert "secret internals" not in content(messages)


async def test_an_unreadable_workspace_is_named_in_status_without_internals(curfew_env: BotEnv) -> None:
    async def broken(alias: str | None = None, **narrowed: object) -> list[object]:
        raise RuntimeError("secret internals")

    curfew_env.fleet.list_instances = broken  # type: ignore[method-assign,assignment]
    curfew_env.fleet.recent_instances = broken  # type: ignore[method-assign,assignment]  # status reads these
    [answer] = await curfew_env.say("status", DANA)
    assert "I could not read workspace demo just now" in content([answer])
    assert "secret internals" not in content([answer])


async def test_alex_sees_only_his_instance(curfew_env: BotEnv) -> None:
    [answer] = await curfew_env.say("my instances", ALEX)
    text = json.dumps(answer.card)
    assert "alex-gpu" in text and "gpu-ci" not in text.replace("alex-gpu", "")
