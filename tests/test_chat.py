"""The chat handlers on the simulated fleet, turn by turn (protocol-level tests are in test_bot_*.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.flows.followups import FollowUps
from bot.turns import Inbound, InboundKind, Reply, SendOutcome, SendResult
from domain.model import InstanceKey, InstanceState, KeepOnState
from runtime import Runtime
from tests.bot_harness import undo_command, words
from tests.sweep_fixtures import DEMO_OWNER, FleetSpy
from wiring import Bot, build_bot

DANA = DEMO_OWNER
ALEX = "00000000-0000-0000-0000-000000000021"
SUNDAY = datetime(2026, 11, 29, 14, 0, tzinfo=UTC)  # Sun 29 Nov 15:00 Europe/Berlin


class RecordingMessenger:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Reply]] = []

    async def send(self, aad_object_id: str, tenant_id: str | None, reply: Reply) -> SendResult:
        self.sent.append((aad_object_id, reply))
        return SendResult(SendOutcome.SENT, "a1")

    async def update(
        self, aad_object_id: str, tenant_id: str | None, activity_id: str, reply: Reply
    ) -> SendResult:
        return SendResult(SendOutcome.SENT, activity_id)


@pytest.fixture
def chat(demo: tuple[Runtime, FleetSpy]) -> tuple[Bot, Runtime, RecordingMessenger]:
    rt, _ = demo
    rt.clock.now = SUNDAY  # type: ignore[attr-defined]
    messenger = RecordingMessenger()
    followups = FollowUps(
        rt.fleet, rt.store, rt.clock, lambda: messenger, poll_seconds=0.01, timeout_seconds=5
    )
    return build_bot(rt, lambda: messenger, followups=followups, with_requests=False), rt, messenger


async def say(
    chat: Bot,
    words: str,
    user: str = DANA,
    tz: str | None = "Europe/Berlin",
    value: dict[str, Any] | None = None,
) -> list[Reply]:
    inbound = Inbound(
        InboundKind.MESSAGE,
        user,
        "Dana Scientist",
        "tenant-1",
        "conv-1",
        text=words,
        local_timezone=tz,
        value=value,
    )
    return await chat.conversation.on_message(inbound)


def said(replies: list[Reply]) -> str:
    """What the replies say (a confirmation card's sentence first), then their cards' JSON."""
    return " ".join(words(r) + json.dumps(r.card or {}) for r in replies)


async def test_status_lists_my_instances_with_tonights_fate(chat: Any) -> None:
    bot, _, _ = chat
    replies = await say(bot, "What's running?")
    [table] = [b for b in replies[0].card["body"] if b["type"] == "Table"]
    cells = [[c["items"][0]["text"] for c in row["cells"]] for row in table["rows"]]
    content = said(replies)
    assert "Your compute instances (4)" in content and "alex-gpu" not in content
    assert "stops at 00:00 Europe/Berlin (Mon 30 Nov)" in content
    assert "job train-42 running" in content
    assert cells[0] == ["Name", "State", "Tonight", "USD/h"]  # one row per instance, details on demand
    assert [row[0] for row in cells[1:]] == ["cpu-ci", "gpu-ci", "old-ci", "train-ci  \nends Thu 3 Dec"]
    assert "End: no end date" in content  # the demo's train-ci ends in three days, the others have no end
    assert [a["title"] for a in replies[0].card["actions"]] == ["Details"]  # shows the hidden details
    details = [d for b in replies[0].card["body"] if b.get("isVisible") is False for d in b["items"]]
    assert details[0]["text"].startswith("**cpu-ci** (demo) · Standard_DS3_v2")


async def test_keep_until_friday_states_the_end_and_needs_approval(chat: Any) -> None:
    bot, rt, _ = chat
    replies = await say(bot, "Please keep GPU-ci on until Friday because training, thanks!")
    assert said(replies).startswith(
        "Keeping gpu-ci until Sat 5 Dec 00:00 Europe/Berlin needs an approver's yes, as it is over 3 days "
        "(the curfew stops it then)."
    )
    assert "kept until Wed 2 Dec 15:00 Europe/Berlin. Reason: training." in said(replies)
    keeps = await rt.store.call(rt.store.keep_ons.in_force, SUNDAY)
    assert [(k.instance, k.state, k.reason) for k in keeps] == [
        ("gpu-ci", KeepOnState.PENDING_APPROVAL, "training")
    ]


async def test_keep_for_two_hours_and_the_status_shows_it(chat: Any) -> None:
    bot, _, _ = chat
    [kept] = await say(bot, "keep gpu-ci for 2 hours")
    assert words(kept) == (
        "Kept gpu-ci until Sun 29 Nov 17:00 Europe/Berlin; "
        "the curfew stops it at Mon 30 Nov 00:00 Europe/Berlin. No extra cost: it ends before the curfew."
    )
    assert undo_command(kept) == "release gpu-ci@demo"  # a small card with Undo
    assert said(await say(bot, "keep gpu-ci tonight because demo")).startswith(
        "Kept gpu-ci until Tue 1 Dec 00:00 Europe/Berlin; the curfew stops it then. Reason: demo."
    )
    assert "kept until Tue 1 Dec 00:00 Europe/Berlin by Dana Scientist: demo" in said(
        await say(bot, "status")
    )


async def test_dates_are_read_in_the_senders_zone(chat: Any) -> None:
    bot, _, _ = chat
    reply = said(await say(bot, "keep cpu-ci until tomorrow 9am", tz="America/Los_Angeles"))
    assert reply.startswith("Kept cpu-ci until Mon 30 Nov 09:00 America/Los_Angeles")


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("keep gpu-ci until 2026-11-20", "is in the past"),
        ("keep gpu-ci for 20 days", "at most 14 days"),
        ("keep gpu-cj for 2 hours", "No instance gpu-cj; did you mean gpu-ci?"),
        ("keep gpu-ci", "keep gpu-ci for 2 hours, tonight, or until Friday"),
    ],
)
async def test_bad_keeps_get_a_clear_answer_and_nothing_is_recorded(
    chat: Any, words: str, expected: str
) -> None:
    bot, rt, _ = chat
    assert expected in said(await say(bot, words))
    assert await rt.store.call(rt.store.keep_ons.in_force, SUNDAY) == []


async def test_an_ambiguous_date_offers_both_readings(chat: Any) -> None:
    bot, _, _ = chat
    replies = await say(bot, "keep gpu-ci until 3/12")
    actions = replies[0].card["actions"]
    assert [a["data"]["command"] for a in actions] == [
        "keep gpu-ci@demo until 2026-12-03",
        "keep gpu-ci@demo until 2027-03-12",
    ]
    clicked = await say(bot, "", value=actions[0]["data"])
    assert said(clicked).startswith(
        "Keeping gpu-ci until Fri 4 Dec 00:00 Europe/Berlin needs an approver's yes"
    )


async def test_someone_elses_instance_is_refused_and_audited(chat: Any) -> None:
    bot, rt, _ = chat
    reply = said(await say(bot, "stop alex-gpu"))
    assert "alex-gpu is not yours, so I cannot stop it" in reply
    # in the security log, not in alex-gpu's history
    assert await rt.store.call(rt.store.audit.for_instance, InstanceKey("demo", "alex-gpu")) == []
    logged = await rt.store.call(rt.store.security.since)
    assert [(e.actor, e.action, e.kind, e.instance, e.count) for e in logged] == [
        (DANA, "chat stop", "not authorized", "alex-gpu", 1)
    ]
    assert (await rt.fleet.get_instance("demo", "alex-gpu")).state is InstanceState.RUNNING


async def test_card_data_never_grants_identity(chat: Any) -> None:
    bot, rt, _ = chat
    forged = {"curfew": True, "verb": "run", "command": "stop alex-gpu", "user": ALEX, "aadObjectId": ALEX}
    assert "not yours" in said(await say(bot, "", value=forged))
    assert (await rt.fleet.get_instance("demo", "alex-gpu")).state is InstanceState.RUNNING


async def test_stop_is_acknowledged_then_reported_when_done(chat: Any) -> None:
    bot, rt, messenger = chat
    assert said(await say(bot, "stop cpu-ci")).startswith(
        "Stopping cpu-ci (demo). I will tell you when it is stopped."
    )
    await bot.drain()
    assert (await rt.fleet.get_instance("demo", "cpu-ci")).state is InstanceState.STOPPED
    assert [(u, r.text) for u, r in messenger.sent] == [(DANA, "cpu-ci is stopped now.")]
    await say(bot, "start cpu-ci")
    await bot.drain()
    assert messenger.sent[-1][1].text == "cpu-ci is running now."
    await say(bot, "start cpu-ci")
    await bot.drain()
    assert messenger.sent[-1][1].text == "cpu-ci was already running."


async def test_release_and_history(chat: Any) -> None:
    bot, _, _ = chat
    await say(bot, "keep gpu-ci for 3 hours because eval")
    assert said(await say(bot, "cancel keep gpu-ci")).startswith(
        "Released gpu-ci: the curfew applies again. It stops at Mon 30 Nov 00:00 Europe/Berlin."
    )
    assert said(await say(bot, "release gpu-ci")).startswith("gpu-ci had no keep-on")
    history = said(await say(bot, "history gpu-ci"))
    assert "chat release" in history and "chat keep" in history and "eval" in history


async def test_morning_start_preference(chat: Any) -> None:
    bot, rt, _ = chat
    assert said(await say(bot, "morning start on old-ci at 07:30")) == (
        "I will start old-ci at 07:30 Europe/Berlin on mon, tue, wed, thu, fri.{}"
    )
    prefs = await rt.store.call(rt.store.mornings.all)
    assert [(p.instance, p.enabled, str(p.at)) for p in prefs] == [("old-ci", True, "07:30:00")]


async def test_unknown_commands_get_the_help_card_and_install_a_welcome(chat: Any) -> None:
    bot, _, _ = chat
    replies = await say(bot, "make me a sandwich")
    assert "What I can do" in said(replies) and "I did not understand" in said(replies)
    welcome = await bot.conversation.on_install(
        Inbound(InboundKind.INSTALL, DANA, "Dana Scientist", "t", "c"), True
    )
    assert "Hi Dana! I am Curfew." in said(welcome)
    assert await bot.conversation.on_install(Inbound(InboundKind.INSTALL, DANA, None, "t", "c"), False) == []


async def test_a_malformed_card_payload_gets_a_clear_answer(chat: Any) -> None:
    bot, _, _ = chat
    assert "no longer understand" in said(await say(bot, "", value={"verb": 42}))
