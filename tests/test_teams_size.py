"""The one size rule (bot/adapter/teams_size.py), counted as Teams counts (UTF-16 bytes), on every way a
message leaves: a proactive send through the messenger is split into messages the connector takes, a reply
in a turn too, an update and a click's answer are shortened with "…and N more: say `status`"."""

from __future__ import annotations

import json
from typing import Any

from bot.adapter.teams_size import (
    MAX_MESSAGE_BYTES,
    fit_for_teams,
    invoke_bytes,
    shorten_card,
    teams_bytes,
    utf16_bytes,
)
from bot.cards.basics import StatusRow, card, heading, paragraph, status_card
from bot.turns import CardAnswer, Inbound, Reply, SendOutcome
from tests.bot_harness import DANA, BotEnv


def rows(n: int) -> list[StatusRow]:
    return [
        StatusRow(
            f"instance-{i:04}",
            "demo",
            "Standard_NC6s_v3",
            "Running",
            "stops at 00:00 Europe/Berlin (Tue 1 Dec)",
            "USD 3.06/h (simulated)",
            "USD 9.18 since Mon 30 Nov 20:30 Europe/Berlin",
        )
        for i in range(n)
    ]


def long_card(n: int) -> dict[str, Any]:
    return card(heading("Many things"), *(paragraph(f"thing {i}: " + "x" * 200) for i in range(n)))


def test_utf16_is_what_counts_twice_the_ascii_bytes() -> None:
    payload = {"text": "plain ascii"}
    assert utf16_bytes(payload) == 2 * len(json.dumps(payload).encode())


def test_a_big_status_card_is_split_at_its_table_rows_every_part_within_the_rule() -> None:
    whole = Reply(card=status_card(rows(400)))
    assert teams_bytes(whole) > MAX_MESSAGE_BYTES
    parts = fit_for_teams(whole)
    assert len(parts) > 1 and all(teams_bytes(p) <= MAX_MESSAGE_BYTES for p in parts)
    names = [
        cell["items"][0]["text"]
        for p in parts
        for block in (p.card or {})["body"]
        if block["type"] == "Table"
        for row in block["rows"][1:]
        for cell in row["cells"][:1]
    ]
    assert names == [f"instance-{i:04}" for i in range(400)]  # every row once, in order
    assert all(
        b["rows"][0]["cells"][0]["items"][0]["text"] == "Name"
        for p in parts
        for b in (p.card or {})["body"]
        if b["type"] == "Table"
    )
    assert (parts[1].card or {})["body"][0]["text"] == f"Your compute instances (400) (2/{len(parts)})"


def test_an_answer_that_must_stay_one_message_is_shortened_with_and_n_more() -> None:
    big = long_card(400)
    assert invoke_bytes(big) > MAX_MESSAGE_BYTES
    short = shorten_card(big)
    assert invoke_bytes(short) <= MAX_MESSAGE_BYTES
    kept = len(short["body"]) - 2  # the heading and the note
    assert short["body"][-1]["text"] == f"…and {400 - kept} more: say `status`"
    assert shorten_card(long_card(3)) == long_card(3)  # what fits is untouched
    update = fit_for_teams(Reply(card=big, update_activity_id="1:card"))
    assert len(update) == 1 and teams_bytes(update[0]) <= MAX_MESSAGE_BYTES


def test_a_text_too_long_is_cut_with_the_note() -> None:
    text = "\n".join(f"line {i} " + "y" * 100 for i in range(1000))
    [cut] = fit_for_teams(Reply(text=text))
    assert teams_bytes(cut) <= MAX_MESSAGE_BYTES and (cut.text or "").endswith("more: say `status`")


async def test_a_proactive_send_too_big_reaches_teams_as_several_messages(curfew_env: BotEnv) -> None:
    await curfew_env.say("hello", DANA)  # the 1:1 chat exists: its reference is stored
    before = len(curfew_env.connector.messages_for(DANA.chat_id))
    result = await curfew_env.messenger().send(
        DANA.aad_id, DANA.tenant_id, Reply(card=status_card(rows(400)))
    )
    assert result.outcome is SendOutcome.SENT
    sent = curfew_env.connector.messages_for(DANA.chat_id)[before:]
    assert len(sent) > 1 and all(utf16_bytes(m.body) <= MAX_MESSAGE_BYTES for m in sent)
    assert result.activity_id is not None  # the first message's id, the one to update


class Big:
    """A turn handler answering with cards far over the rule: a reply, and a click's answer."""

    async def on_message(self, inbound: Inbound) -> list[Reply]:
        return [Reply(card=long_card(400))]

    async def on_action(self, inbound: Inbound) -> CardAnswer:
        return CardAnswer(long_card(400))

    async def on_install(self, inbound: Inbound, first_time: bool) -> list[Reply]:
        return []


async def test_replies_and_click_answers_in_a_turn_keep_to_the_rule(curfew_env: BotEnv) -> None:
    curfew_env.use(Big())
    replies = await curfew_env.say("anything", DANA)
    assert len(replies) > 1 and all(utf16_bytes(r.body) <= MAX_MESSAGE_BYTES for r in replies)
    clicked = await curfew_env.click("whatever", {"curfew": True})
    assert clicked.status == 200 and clicked.card is not None
    assert invoke_bytes(clicked.card) <= MAX_MESSAGE_BYTES
    assert clicked.card["body"][-1]["text"].endswith("more: say `status`")


async def test_a_click_on_a_long_warning_card_keeps_the_clicked_row_when_shortened(
    curfew_env: BotEnv,
) -> None:
    """Twenty-five running instances: the refreshed card is over the rule, so it is shortened; the row of the
    instance clicked comes first and stays, saying what happened."""
    from datetime import timedelta

    from storage.models import SimInstanceRow
    from tests.test_warning_protocol import WARN_AT, keep_button, run_warning

    with curfew_env.store.sessions.begin() as session:
        for n in range(25):
            session.add(
                SimInstanceRow(
                    workspace="demo",
                    name=f"extra-{n:02}",
                    size="Standard_NC6s_v3",
                    state="Running",
                    owner_object_id=DANA.aad_id,
                    owner_tenant_id=DANA.tenant_id,
                    last_started_at=WARN_AT - timedelta(hours=2),
                    idle_shutdown_minutes=None,
                    tags={},
                )
            )
    await run_warning(curfew_env)
    cards = [m.card for m in curfew_env.connector.messages_for(DANA.chat_id) if m.card]
    assert len(cards) >= 2  # 27 instances to stop: the warning went as several messages
    last = cards[-1]
    choosable = [r for r in last["body"] if r["type"] == "Container" and len(r["items"]) > 2]
    target = choosable[-1]["items"][0]["text"].split("**")[1]  # the last row of the last part
    clicked = await curfew_env.click("warning", keep_button(last, target, "keep_1h")["data"], DANA)
    assert clicked.card is not None and invoke_bytes(clicked.card) <= MAX_MESSAGE_BYTES
    rows = [r for r in clicked.card["body"] if r["type"] == "Container"]
    assert target in rows[0]["items"][0]["text"] and f"Kept {target} until" in json.dumps(rows[0])
    assert clicked.card["body"][-1]["text"].endswith("more: say `status`")  # shortened, the clicked row kept
