"""One tenant (issue 12, finding 3): another tenant's activity, of any kind, gets one short refusal
that names nothing of Curfew's, goes to the security log, and stores no conversation reference.

Real activity JSON through /api/messages of the service on the demo fleet, with `teams.tenant_id`
set to the harness's tenant; the answers are read where Teams would see them (the connector
stand-in, an invoke's response).
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from bot.adapter.tenant import REFUSAL
from domain.model import InstanceState
from tests.bot_harness import DANA, TENANT, BotEnv, TeamsUser

FOREIGN_TENANT = "99999999-0000-0000-0000-000000000999"
EVE = TeamsUser("00000000-0000-0000-0000-0000000000e5", "Eve Elsewhere", tenant_id=FOREIGN_TENANT)
DANA_ELSEWHERE = replace(DANA, tenant_id=FOREIGN_TENANT)
"""Dana's object id claimed from another tenant: still not Dana."""
SECRETS = ("gpu-ci", "cpu-ci", "alex-gpu", "demo", "Standard_", "USD", "Dana", "Alex")


def nothing_revealed(payload: Any) -> None:
    text = json.dumps(payload)
    assert not [word for word in SECRETS if word in text], text


def foreign_activities(env: BotEnv) -> dict[str, dict[str, Any]]:
    teams = env.teams
    return {
        "message": teams.message("status", EVE),
        "request form": teams.message("request a GPU instance", EVE),
        "whose instance": teams.message("stop gpu-ci", EVE),
        "submit": teams.submit({"verb": "run", "command": "status"}, EVE),
        "install": teams.installation_update(EVE),
        "conversationUpdate": teams.members_added(EVE),
        "channel message": teams.channel_message("status", EVE),
        "group chat": teams.channel_message("status", EVE, kind="groupChat"),
    }


@pytest.mark.parametrize(
    "kind",
    [
        "message",
        "request form",
        "whose instance",
        "submit",
        "install",
        "conversationUpdate",
        "channel message",
        "group chat",
    ],
)
async def test_another_tenant_gets_one_refusal_and_nothing_else(curfew_env: BotEnv, kind: str) -> None:
    result = await curfew_env.post(foreign_activities(curfew_env)[kind])
    assert result.status in (200, 201)
    assert [m.text for m in result.messages] == [REFUSAL]
    assert [m.body.get("attachments") for m in result.messages] == [None]
    nothing_revealed([m.body for m in result.messages])
    assert await curfew_env.store.call(curfew_env.store.conversations.get, EVE.aad_id) is None
    [logged] = await curfew_env.store.call(curfew_env.store.security.since)
    assert (logged.actor, logged.tenant_id, logged.kind) == (EVE.aad_id, FOREIGN_TENANT, "other tenant")
    assert [c for c in curfew_env.fleet.calls if c[0] != "list"] == []


async def test_a_card_click_from_another_tenant_is_answered_by_the_refusal(curfew_env: BotEnv) -> None:
    result = await curfew_env.click("keep", {"instance": "gpu-ci", "choice": "keep_tonight"}, EVE)
    assert result.status == 200
    assert result.body == {
        "statusCode": 200,
        "type": "application/vnd.microsoft.activity.message",
        "value": REFUSAL,
    }
    assert result.messages == []
    assert await curfew_env.store.call(curfew_env.store.keep_ons.in_force, curfew_env.clock()) == []


async def test_an_activity_without_a_tenant_is_refused(curfew_env: BotEnv) -> None:
    activity = curfew_env.teams.message("status", DANA)
    del activity["channelData"]["tenant"]
    del activity["conversation"]["tenantId"]
    result = await curfew_env.post(activity)
    assert [m.text for m in result.messages] == [REFUSAL]
    assert await curfew_env.store.call(curfew_env.store.conversations.get, DANA.aad_id) is None
    [logged] = await curfew_env.store.call(curfew_env.store.security.since)
    assert (logged.tenant_id, logged.reason) == (None, "no tenant in channelData")


async def test_dana_claimed_from_another_tenant_is_not_dana(curfew_env: BotEnv) -> None:
    await curfew_env.say("status", DANA)
    stored = await curfew_env.store.call(curfew_env.store.conversations.get, DANA.aad_id)
    result = await curfew_env.post(curfew_env.teams.message("stop gpu-ci", DANA_ELSEWHERE))
    assert [m.text for m in result.messages] == [REFUSAL]
    assert (await curfew_env.runtime.fleet.get_instance("demo", "gpu-ci")).state is InstanceState.RUNNING
    assert await curfew_env.store.call(curfew_env.store.conversations.get, DANA.aad_id) == stored
    assert (
        await curfew_env.store.call(curfew_env.store.conversations.get, DANA.aad_id, FOREIGN_TENANT) is None
    )


async def test_an_auto_approved_request_from_another_tenant_creates_nothing(curfew_env: BotEnv) -> None:
    submit = {"verb": "request_submit", "workspace": "demo", "name": "eve-box", "size": "Standard_DS3_v2"}
    result = await curfew_env.post(curfew_env.teams.submit({**submit, "purpose": "mine now"}, EVE))
    assert [m.text for m in result.messages] == [REFUSAL]
    await curfew_env.service.bot.drain()
    assert await curfew_env.store.call(curfew_env.store.requests.for_requester, EVE.aad_id) == []
    names = {i.name for i in await curfew_env.runtime.fleet.list_instances()}
    assert "eve-box" not in names


async def test_a_flood_from_another_tenant_is_one_row_counted(curfew_env: BotEnv) -> None:
    for _ in range(12):
        await curfew_env.say("status", EVE)
    [logged] = await curfew_env.store.call(curfew_env.store.security.since)
    assert (logged.actor, logged.count) == (EVE.aad_id, 12)


async def test_the_own_tenant_is_served_in_any_case(curfew_env: BotEnv) -> None:
    upper = replace(DANA, tenant_id=TENANT.upper())
    [answer] = await curfew_env.say("status", upper)
    assert answer.text != REFUSAL and "gpu-ci" in json.dumps(answer.body)
    assert await curfew_env.store.call(curfew_env.store.security.since) == []
