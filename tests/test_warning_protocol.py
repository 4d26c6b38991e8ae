"""The pre-curfew warning at the protocol level: the scheduled warning job reaches each owner through
the connector (creating the 1:1 chat when none is stored), Action.Execute clicks refresh the card, and
the following sweep honours them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from scheduler.service import CurfewScheduler
from scheduler.sweep import Sweeper
from tests.bot_harness import ALEX, DANA, BotEnv

WARN_AT = datetime(2026, 11, 30, 22, 30, 5, tzinfo=UTC)  # Mon 30 Nov 23:30 Europe/Berlin
CURFEW = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
ZONE = "Europe/Berlin"


def keep_button(card: dict[str, Any], instance: str, choice: str) -> dict[str, Any]:
    """The instance's Apply button with `choice` picked in its own choice input, as Teams sends it:
    the inputs of the whole card merged into the data (another instance's choice left empty)."""
    inputs = {}
    for row in card["body"]:
        for block in row.get("items", []) if row["type"] == "Container" else []:
            if block["type"] == "Input.ChoiceSet":
                inputs[block["id"]] = choice if block["id"] == f"choice:demo:{instance}" else ""
    assert f"choice:demo:{instance}" in inputs, f"no choice for {instance}"
    for row in card["body"]:
        for block in row.get("items", []) if row["type"] == "Container" else []:
            for action in block.get("actions", []) if block["type"] == "ActionSet" else []:
                if action["title"] == "Apply" and action["data"]["instance"] == instance:
                    merged = {**action["data"], **inputs}
                    return {**action, "data": merged, "fallback": {**action["fallback"], "data": merged}}
    raise AssertionError(f"no Apply button for {instance}")


async def run_warning(env: BotEnv) -> None:
    env.clock.now = WARN_AT
    scheduler = CurfewScheduler(env.runtime, env.service.notifier, owner="replica-1")
    claim = await scheduler.run("warning", ZONE)
    assert claim is not None and claim.scheduled_for == CURFEW
    assert (
        await CurfewScheduler(env.runtime, env.service.notifier, owner="replica-2").run("warning", ZONE)
        is None
    )  # exactly once


async def test_each_owner_gets_a_card_through_a_new_1to1_chat(curfew_env: BotEnv) -> None:
    await run_warning(curfew_env)
    created = {json.dumps(c.body["members"]) for c in curfew_env.connector.created()}
    assert (
        len(created) == 2
        and any(DANA.aad_id in c for c in created)
        and any(ALEX.aad_id in c for c in created)
    )
    dana = curfew_env.connector.messages_for(DANA.chat_id)
    assert len(dana) == 1 and dana[0].card is not None
    assert dana[0].card["body"][0]["text"] == "2 instances stop at 00:00 Europe/Berlin"
    assert len(curfew_env.connector.messages_for(ALEX.chat_id)) == 1


async def test_keep_one_hour_click_refreshes_the_card_and_the_sweep_leaves_it(curfew_env: BotEnv) -> None:
    await run_warning(curfew_env)
    card = curfew_env.connector.messages_for(DANA.chat_id)[0].card
    assert card is not None
    button = keep_button(card, "gpu-ci", "keep_1h")
    result = await curfew_env.click(button["verb"], button["data"], DANA)
    assert result.status == 200 and result.body["type"] == "application/vnd.microsoft.card.adaptive"
    assert "Kept gpu-ci until 01:00 Europe/Berlin by Dana Scientist" in json.dumps(result.card)
    curfew_env.clock.now = CURFEW + timedelta(seconds=2)
    report = await Sweeper(curfew_env.runtime).curfew()
    outcome = {o.instance.name: o.kind.value for o in report.outcomes}
    assert (outcome["gpu-ci"], outcome["cpu-ci"], outcome["alex-gpu"]) == ("left", "stopped", "stopped")


async def test_the_same_click_from_someone_else_is_refused(curfew_env: BotEnv) -> None:
    await run_warning(curfew_env)
    card = curfew_env.connector.messages_for(DANA.chat_id)[0].card
    assert card is not None
    button = keep_button(card, "cpu-ci", "keep_tonight")
    result = await curfew_env.click(button["verb"], button["data"], ALEX)
    assert result.status == 200
    assert "Only the owner of cpu-ci or an admin of workspace demo can change it" in json.dumps(result.card)
    assert await curfew_env.store.call(curfew_env.store.keep_ons.in_force, curfew_env.clock()) == []


async def test_the_fallback_submit_click_rewrites_the_card_in_place(curfew_env: BotEnv) -> None:
    await run_warning(curfew_env)
    message = curfew_env.connector.messages_for(DANA.chat_id)[0]
    assert message.card is not None
    fallback = keep_button(message.card, "cpu-ci", "keep_2h")["fallback"]
    await curfew_env.submit(fallback["data"], DANA, reply_to_id="1:warning-card")
    updates = curfew_env.connector.updates()
    assert len(updates) == 1 and updates[0].updated_id == "1:warning-card"
    assert "Kept cpu-ci until 02:00 Europe/Berlin" in json.dumps(updates[0].card)


async def test_a_throttling_connector_loses_no_card(curfew_env: BotEnv) -> None:
    curfew_env.connector.fail_next(r"/activities", 429, headers={"Retry-After": "1"}, times=2)
    await run_warning(curfew_env)
    assert len(curfew_env.connector.messages_for(DANA.chat_id)) == 1
    assert len(curfew_env.connector.messages_for(ALEX.chat_id)) == 1
    events = await curfew_env.store.call(curfew_env.store.audit.since, WARN_AT - timedelta(minutes=1))
    assert {e.outcome for e in events if e.action == "warning"} == {"sent"}
