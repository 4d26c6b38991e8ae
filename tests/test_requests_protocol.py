"""Requests at the protocol level, through the real SDK against the ARM stand-in: the requester's form
submit and the approver's click arrive as Teams invokes at /api/messages, the approval card and the
answers go through the connector stand-in, and ARM receives the PUT with the requester as assigned user."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from app import create_app
from bot.cards.requests import APPROVE, REJECT, SUBMIT
from config.settings import Settings
from runtime import Runtime
from storage.repositories import Store
from tests.arm_fixtures import RESEARCH, SUBSCRIPTION, make_fleet
from tests.arm_standin import ArmStandIn
from tests.bot_harness import ALEX, DANA, MORGAN, TEAM_CHANNEL, TENANT, TeamsActivities
from tests.connector_standin import ConnectorStandIn
from tests.test_requests import END
from wiring import BotTuning


@dataclass
class Env:
    client: Any
    connector: ConnectorStandIn
    teams: TeamsActivities
    arm: ArmStandIn

    async def post(self, activity: dict[str, Any]) -> Any:
        response = await self.client.post("/api/messages", json=activity)
        text = await response.text()
        return response.status, (json.loads(text) if text else None)

    def cards_to(self, user: Any) -> list[dict[str, Any]]:
        return [m.card for m in self.connector.messages_for(user.chat_id) if m.card]

    def texts_to(self, user: Any) -> list[str]:
        return [m.text for m in self.connector.messages_for(user.chat_id) if m.text]


@pytest.fixture(params=[None])
async def env(
    arm: ArmStandIn, azure_env: dict[str, str], sqlite_store: Store, request: pytest.FixtureRequest
) -> AsyncIterator[Env]:
    """The service on the ARM stand-in; the parameter is `teams.approvals_channel`."""
    async with ConnectorStandIn() as connector:
        teams = {"tenant_id": TENANT, "service_url": connector.url, "approvals_channel": request.param}
        settings = Settings.model_validate(
            {
                "timezone": "Europe/Berlin",
                "teams": teams,
                "requests": {
                    "sizes": {"Standard_DS3_v2": {"auto_approve": True}, "Standard_NC6s_v3": {}},
                    "idle_shutdown_minutes": 45,
                },
                "workspaces": [
                    {
                        "alias": "research",
                        "subscription_id": SUBSCRIPTION,
                        "resource_group": "rg-ml",
                        "workspace": "ws-research",
                        "approvers": [ALEX.aad_id, MORGAN.aad_id],
                    }
                ],
            }
        )
        rt = Runtime(settings, sqlite_store, make_fleet(arm, workspaces=[RESEARCH]))
        app = create_app(settings, runtime=rt, scheduler=False, tuning=BotTuning(poll_seconds=0.1))
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            yield Env(client, connector, TeamsActivities(connector.url), arm)
        await rt.fleet.close()


async def until(condition: Any, timeout: float = 15) -> None:
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


def form(name: str, size: str = "Standard_NC6s_v3") -> dict[str, Any]:
    return {
        "workspace": "research",
        "name": name,
        "size": size,
        "purpose": "fine-tuning",
        "morning_start": "false",
        **END,
    }


async def request(env: Env, name: str) -> int:
    for user in (DANA, ALEX):
        await env.post(env.teams.installation_update(user))
    status, body = await env.post(env.teams.card_action(SUBMIT, form(name), DANA))
    assert status == 200, body
    await until(lambda: any("asks for a compute instance" in json.dumps(c) for c in env.cards_to(ALEX)))
    card = next(c for c in env.cards_to(ALEX) if "asks for a compute instance" in json.dumps(c))
    return int(next(a["data"]["request"] for a in card["actions"] if a.get("verb") == APPROVE))


async def test_an_approved_request_is_created_on_behalf_of_the_requester(env: Env) -> None:
    request_id = await request(env, "dana-gpu-9")
    status, body = await env.post(env.teams.card_action(APPROVE, {"request": request_id}, ALEX))
    assert status == 200 and "Approved by Alex Approver" in json.dumps(body["value"])
    await until(lambda: bool(env.arm.requests_matching("PUT", r"/computes/dana-gpu-9$")))
    put = env.arm.requests_matching("PUT", r"/computes/dana-gpu-9$")[0].body
    settings = put["properties"]["properties"]
    assert settings["personalComputeInstanceSettings"]["assignedUser"] == {
        "objectId": DANA.aad_id,
        "tenantId": TENANT,
    }
    assert settings["idleTimeBeforeShutdown"] == "PT45M"
    assert put["properties"]["properties"]["vmSize"] == "Standard_NC6s_v3"
    await until(lambda: any("dana-gpu-9 is ready in research" in t for t in env.texts_to(DANA)))


async def test_a_rejection_with_a_comment_reaches_the_requester_and_creates_nothing(env: Env) -> None:
    request_id = await request(env, "dana-gpu-10")
    data = {"request": request_id, "comment": "use the shared cluster"}
    status, body = await env.post(env.teams.card_action(REJECT, data, ALEX))
    assert status == 200 and "Rejected by Alex Approver" in json.dumps(body["value"])
    await until(lambda: any("use the shared cluster" in t for t in env.texts_to(DANA)))
    assert env.arm.requests_matching("PUT", r"/computes/") == []


async def test_self_approval_and_non_approvers_are_refused(env: Env) -> None:
    for user in (DANA, ALEX, MORGAN):
        await env.post(env.teams.installation_update(user))
    status, body = await env.post(env.teams.card_action(SUBMIT, form("alex-gpu-1"), ALEX))
    assert "sent" in json.dumps(body), body
    await until(lambda: any("asks for a compute instance" in json.dumps(c) for c in env.cards_to(MORGAN)), 3)
    card = next(c for c in env.cards_to(MORGAN) if "asks for a compute instance" in json.dumps(c))
    request_id = next(a["data"]["request"] for a in card["actions"] if a.get("verb") == APPROVE)
    assert not any("asks for a compute instance" in json.dumps(c) for c in env.cards_to(ALEX))
    for clicker in (ALEX, DANA):  # the requester himself; someone who is no approver
        status, body = await env.post(env.teams.card_action(APPROVE, {"request": request_id}, clicker))
        assert status == 200 and "Approved by" not in json.dumps(body["value"])
    await asyncio.sleep(0.3)
    assert env.arm.requests_matching("PUT", r"/computes/") == []


async def test_azure_refusing_the_creation_is_told_in_plain_words(env: Env) -> None:
    env.arm.fail_next(
        "PUT",
        r"/computes/dana-gpu-12$",
        400,
        body={"error": {"code": "QuotaExceeded", "message": "Not enough NCSv3 cores quota in westeurope."}},
    )
    request_id = await request(env, "dana-gpu-12")
    await env.post(env.teams.card_action(APPROVE, {"request": request_id}, ALEX))
    await until(lambda: any("NCSv3 cores quota" in t for t in env.texts_to(DANA)))


@pytest.mark.parametrize("env", [TEAM_CHANNEL], indirect=True)
async def test_with_an_approvals_channel_the_card_goes_to_the_channel(env: Env) -> None:
    await env.post(env.teams.channel_message("help", ALEX))  # Curfew learns the channel's reference
    for user in (DANA, ALEX):
        await env.post(env.teams.installation_update(user))
    await env.post(env.teams.card_action(SUBMIT, form("dana-gpu-20"), DANA))
    channel = f"/v3/conversations/{TEAM_CHANNEL}/activities"
    await until(
        lambda: any(
            m.path.startswith(channel) and m.card and "asks for a compute instance" in json.dumps(m.card)
            for m in env.connector.sent()
        )
    )
    assert not any(
        "asks for a compute instance" in json.dumps(c) for c in env.cards_to(ALEX) + env.cards_to(MORGAN)
    )
    card = next(
        m.card
        for m in env.connector.sent()
        if m.path.startswith(channel) and m.card and "asks for a compute instance" in json.dumps(m.card)
    )
    request_id = next(a["data"]["request"] for a in card["actions"] if a.get("verb") == APPROVE)
    status, body = await env.post(env.teams.card_action(APPROVE, {"request": request_id}, ALEX))
    assert status == 200 and "Approved by Alex Approver" in json.dumps(body["value"])
    await until(lambda: bool(env.arm.requests_matching("PUT", r"/computes/dana-gpu-20$")))
