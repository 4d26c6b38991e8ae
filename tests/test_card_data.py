"""Card data says which button, nothing more (issue 12, finding 1), at the protocol level.

Real Teams invokes and Action.Submit messages through /api/messages, answers through the connector
stand-in, on SQLite and PostgreSQL. A warning card's buttons carry which button, which instance and the
opaque id of the warning Curfew stored; an edited payload (a `curfew_at` of 2099, an unknown id, someone
else's instance, a forged duration) changes nothing in the database or the fleet and is answered with
the current state and one line saying why. A keep through the card and the same keep typed in chat reach
the same plan; a confirmation shows the year whenever it is not the current one.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from app import create_app
from domain.model import KeepOn, KeepOnState
from runtime import Runtime
from scheduler.sweep import Sweeper
from scheduler.warnings import Warner
from storage.models import ComputeRequestRow, KeepOnRow, OutboxRow, WarningRow
from storage.repositories import Store
from tests import card_check
from tests.arm_fixtures import RESEARCH, make_fleet, seed_instance, workspace_settings
from tests.arm_standin import ArmStandIn
from tests.bot_harness import ALEX, DANA, MORGAN, TENANT, BotEnv, TeamsActivities, TeamsUser, open_bot_env
from tests.conftest import FakeClock
from tests.connector_standin import ConnectorStandIn
from tests.protocol_env import QUICK
from tests.test_requests import END
from tests.test_warning_protocol import CURFEW, WARN_AT, keep_button
from wiring import SERVICE

Edit = Callable[[dict[str, Any]], dict[str, Any]]


@pytest.fixture
async def env(store: Store, clock: FakeClock) -> AsyncIterator[BotEnv]:
    """The service on the demo fleet over the connector stand-in, on both databases."""
    async with open_bot_env(store, clock, tuning=QUICK) as bot_env:
        yield bot_env


async def warn(env: BotEnv, at: datetime = WARN_AT) -> None:
    env.clock.now = at
    report = await Warner(env.runtime, env.service.notifier).warn()
    assert report.ok and report.warnings


def card_of(env: BotEnv, user: TeamsUser) -> dict[str, Any]:
    """The last warning card the user received."""
    cards = [m.card for m in env.connector.messages_for(user.chat_id) if m.card]
    assert cards, f"no card reached {user.name}"
    return cards[-1]


def until_button(
    card: dict[str, Any], instance: str, workspace: str = "demo", **inputs: str
) -> dict[str, Any]:
    """The instance's "Keep until…" form button with its inputs filled, as Teams sends it."""
    for row in card["body"]:
        for block in row.get("items", []) if row["type"] == "Container" else []:
            for action in block.get("actions", []) if block["type"] == "ActionSet" else []:
                submit = action["card"]["actions"][0] if action["type"] == "Action.ShowCard" else {}
                if submit.get("data", {}).get("instance") == instance:
                    own = {f"{field}:{workspace}:{instance}": value for field, value in inputs.items()}
                    return {**submit, "data": {**submit["data"], **own}}
    raise AssertionError(f"no Keep until… form for {instance}")


def said(result: Any) -> str:
    return json.dumps(result.card)


async def what_changes(env: BotEnv) -> tuple[dict[str, int], list[tuple[str, str, str]]]:
    """The rows of every table a click could write to, and every write call the fleet received."""

    def count() -> dict[str, int]:
        with env.store.sessions() as session:
            tables = (KeepOnRow, ComputeRequestRow, OutboxRow, WarningRow)
            return {t.__tablename__: session.scalar(select(func.count()).select_from(t)) or 0 for t in tables}

    return await env.store.call(count), [c for c in env.fleet.calls if c[0] != "list"]


async def keep_ons(env: BotEnv) -> list[KeepOn]:
    """Every keep-on, whatever its state (the repository's `get` for each stored id)."""

    def ids() -> list[int]:
        with env.store.sessions() as session:
            return list(session.scalars(select(KeepOnRow.id).order_by(KeepOnRow.id)))

    found = [await env.store.call(env.store.keep_ons.get, i) for i in await env.store.call(ids)]
    return [k for k in found if k is not None]


async def night_outcomes(env: BotEnv) -> dict[str, str]:
    env.clock.now = CURFEW + timedelta(seconds=3)
    report = await Sweeper(env.runtime).curfew()
    return {o.instance.name: o.kind.value for o in report.outcomes}


def without_warning(data: dict[str, Any]) -> dict[str, Any]:
    """The card as today's main wrote it: the curfew's instant in the data, edited to 2099."""
    old = {k: v for k, v in data.items() if k != "warning"}
    return old | {"curfew_at": "2099-12-31T23:00:00+00:00"}


FORGED: dict[str, tuple[Edit, TeamsUser, str, str]] = {
    "curfew_at edited to 2099 on a card without a stored warning": (
        without_warning,
        DANA,
        "does not name a warning card Curfew sent",
        "gpu-ci",
    ),
    "an unknown warning id": (
        lambda d: d | {"warning": "AAAAAAAAAAAAAAAAAAAAAAAA"},
        DANA,
        "I sent no such warning card, so I did nothing.",
        "gpu-ci",
    ),
    "a warning id that is not a string": (
        lambda d: d | {"warning": {"id": 1, "curfew_at": "2099-12-31T23:00:00+00:00"}},
        DANA,
        "I sent no such warning card, so I did nothing.",
        "gpu-ci",
    ),
    "someone else's instance on my card": (
        lambda d: d | {"instance": "alex-gpu", "choice:demo:alex-gpu": "keep_tonight"},
        DANA,
        "Only the owner of alex-gpu or an admin of workspace demo can change it; your click changed nothing.",
        "alex-gpu",
    ),
    "my instance on a card that does not list it": (
        lambda d: d | {"instance": "alex-gpu", "choice:demo:alex-gpu": "keep_tonight"},
        ALEX,
        "This warning card does not list alex-gpu, so I did nothing.",
        "alex-gpu",
    ),
    "a duration the card never offered": (
        lambda d: d | {"choice": "keep_9999h"},
        DANA,
        "This button's data is incomplete, so I did nothing.",
        "gpu-ci",
    ),
    "a duration in the choice input": (
        lambda d: d | {"choice:demo:gpu-ci": {"hours": 99999}},
        DANA,
        "This button's data is incomplete, so I did nothing.",
        "gpu-ci",
    ),
}


@pytest.mark.parametrize("case", FORGED)
async def test_an_edited_warning_card_payload_changes_nothing_and_says_why(env: BotEnv, case: str) -> None:
    edit, user, reason, instance = FORGED[case]
    await warn(env)
    data = edit(keep_button(card_of(env, DANA), "gpu-ci", "keep_1h")["data"])
    before = await what_changes(env)

    result = await env.click("warning", data, user)
    assert result.status == 200 and result.card is not None
    assert reason in said(result)
    assert result.card["body"][0]["text"] == "Nothing changed"
    if "Only the owner" in reason or "does not list" in reason or "no such" in reason:
        facts = {
            f["title"]: f["value"] for b in result.card["body"] if b["type"] == "FactSet" for f in b["facts"]
        }
        assert facts == {"Instance": instance, "State": "Running", "Workspace": "demo"}  # the current state
    # the Action.Submit fallback of the same edited data: the same answer, rewriting the card in place
    [update] = await env.submit(data, user, reply_to_id="1:warning-card")
    assert update.is_update and reason in json.dumps(update.card)

    assert await what_changes(env) == before
    assert await keep_ons(env) == []
    night = await night_outcomes(env)
    assert (night["gpu-ci"], night["cpu-ci"], night["alex-gpu"]) == ("stopped", "stopped", "stopped")


async def test_fields_a_click_does_not_know_are_ignored(env: BotEnv) -> None:
    """Keep 1 hour with a forged end, duration, person and tenant in its data: one hour past the coming
    curfew, by the Teams sender, as if they were not there."""
    await warn(env)
    data = keep_button(card_of(env, DANA), "gpu-ci", "keep_1h")["data"]
    forged = data | {
        "curfew_at": "2099-12-31T23:00:00+00:00",
        "until": "2099-12-31T23:00:00+00:00",
        "hours": 99999,
        "days": 5000,
        "user": ALEX.aad_id,
        "aadObjectId": ALEX.aad_id,
        "tenant": "11111111-1111-1111-1111-111111111111",
    }
    result = await env.click("warning", forged, DANA)
    assert "Kept gpu-ci until 01:00 Europe/Berlin by Dana Scientist" in said(result)
    [kept] = await keep_ons(env)
    assert (kept.instance, kept.until, kept.state, kept.created_by) == (
        "gpu-ci",
        CURFEW + timedelta(hours=1),
        KeepOnState.ACTIVE,
        "Dana Scientist",
    )
    assert kept.stop_at_end

    def creator() -> str | None:
        with env.store.sessions() as session:
            return session.scalar(select(KeepOnRow.created_by))

    assert await env.store.call(creator) == DANA.aad_id  # the Teams sender, not the data's "user"


async def test_the_warning_card_data_names_no_instant_person_tenant_or_duration(env: BotEnv) -> None:
    await warn(env)
    card = card_of(env, DANA)
    datas = [keep_button(card, name, "keep_1h")["data"] for name in ("gpu-ci", "cpu-ci")]
    datas += [until_button(card, name)["data"] for name in ("gpu-ci", "cpu-ci")]
    for data in datas:
        assert {k for k in data if ":" not in k} == {
            "curfew",
            "verb",
            "choice",
            "warning",
            "instance",
            "workspace",
        }
        assert data["workspace"] == "demo" and len(data["warning"]) >= 24
    assert len({d["warning"] for d in datas}) == 1  # one stored warning per card
    assert (
        card_of(env, ALEX) != card
        and keep_button(card_of(env, ALEX), "alex-gpu", "keep_1h")["data"]["warning"] != datas[0]["warning"]
    )
    assert DANA.aad_id not in json.dumps(card) and TENANT not in json.dumps(card)


async def test_a_warning_whose_curfew_passed_changes_nothing(env: BotEnv) -> None:
    """Last night's card, clicked the next evening while gpu-ci runs again: the stored warning's curfew
    has passed, whatever the card might say."""
    await warn(env)
    data = keep_button(card_of(env, DANA), "gpu-ci", "keep_tonight")["data"]
    assert (await night_outcomes(env))["gpu-ci"] == "stopped"
    env.clock.now = WARN_AT + timedelta(days=1)
    await env.fleet.start("demo", "gpu-ci")
    assert (await env.fleet.get_instance("demo", "gpu-ci")).state.is_running
    before = await what_changes(env)
    result = await env.click("warning", data | {"curfew_at": (CURFEW + timedelta(days=1)).isoformat()}, DANA)
    assert "The curfew at Tue 1 Dec 00:00 Europe/Berlin has passed" in said(result)
    assert await what_changes(env) == before
    assert [k for k in await keep_ons(env) if k.state is not KeepOnState.RELEASED] == []


WITHIN, OVER, BEYOND = "2026-12-02", "2026-12-05", "2026-12-20"


@pytest.mark.parametrize(
    ("day", "state"),
    [(WITHIN, KeepOnState.ACTIVE), (OVER, KeepOnState.PENDING_APPROVAL), (BEYOND, None)],
    ids=["within approval_over_days", "over approval_over_days", "beyond max_days"],
)
async def test_the_same_keep_through_the_card_and_through_chat_reaches_the_same_plan(
    env: BotEnv, day: str, state: KeepOnState | None
) -> None:
    await warn(env)
    button = until_button(card_of(env, DANA), "gpu-ci", until_date=day, reason="eval run")
    by_card = await env.click("warning", button["data"], DANA)
    replies = await env.say(f"keep cpu-ci until {day} because eval run", DANA)
    [by_chat] = [m for m in replies if m.conversation_id == DANA.chat_id]
    kept = {k.instance: k for k in await keep_ons(env)}
    if state is None:
        assert kept == {}
        refusal = "Curfew keeps an instance on for at most 14 days"
        assert refusal in said(by_card) and refusal in (by_chat.text or json.dumps(by_chat.card))
        return
    card_keep, chat_keep = kept["gpu-ci"], kept["cpu-ci"]
    plan = ("until", "in_force_until", "state", "stop_at_end", "reason", "created_by", "starts_at")
    assert [getattr(card_keep, f) for f in plan] == [getattr(chat_keep, f) for f in plan]
    assert card_keep.state is state
    requests = await env.store.call(env.store.requests.for_requester, DANA.aad_id)
    assert sorted(r.name for r in requests if r.keep_on_id) == (
        ["cpu-ci", "gpu-ci"] if state is KeepOnState.PENDING_APPROVAL else []
    )


async def test_an_approval_click_decides_the_stored_keep_on_whatever_its_data_says(env: BotEnv) -> None:
    """Alex approves Dana's long keep-on from a card whose data also claims another end and another
    decider: the keep-on becomes active with the end Dana asked for, decided by Alex."""
    await warn(env)
    await env.click("warning", until_button(card_of(env, DANA), "gpu-ci", until_date=OVER)["data"], DANA)
    [pending] = await keep_ons(env)
    await env.service.bot.drain()
    approve = _approval_button(env)
    forged = approve["data"] | {"until": "2099-12-31T23:00:00+00:00", "decided_by": DANA.aad_id, "days": 900}
    result = await env.click(approve["verb"], forged, ALEX)
    assert result.status == 200
    [decided] = await keep_ons(env)
    assert (decided.id, decided.until, decided.state) == (pending.id, pending.until, KeepOnState.ACTIVE)
    [request] = [
        r for r in await env.store.call(env.store.requests.for_requester, DANA.aad_id) if r.keep_on_id
    ]
    assert request.decided_by == ALEX.aad_id


def _approval_button(env: BotEnv) -> dict[str, Any]:
    """The Approve button of the keep-on approval card the approver received."""
    for message in env.connector.messages_for(ALEX.chat_id):
        for action in (message.card or {}).get("actions", []):
            if action.get("title") == "Approve":
                return dict(action)
    raise AssertionError("no approval card reached the approver")


NEW_YEARS_EVE = datetime(2026, 12, 31, 22, 30, 5, tzinfo=UTC)  # Thu 31 Dec 23:30 Europe/Berlin


async def test_confirmations_show_the_year_when_it_is_not_the_current_one(env: BotEnv) -> None:
    await warn(env, NEW_YEARS_EVE)
    delayed = await env.click("warning", keep_button(card_of(env, DANA), "gpu-ci", "keep_1h")["data"], DANA)
    assert "Kept gpu-ci until Fri 1 Jan 2027 01:00 Europe/Berlin by Dana Scientist" in said(delayed)
    [typed] = await env.say("keep cpu-ci until 2027-01-02", DANA)
    assert "Kept cpu-ci until Sun 3 Jan 2027 00:00 Europe/Berlin; the curfew stops it then." in json.dumps(
        typed.card
    )
    [far] = await env.say("keep alex-gpu until 2027-03-01", ALEX)
    assert "at most 14 days (until " in (far.text or "") and " 2027 " in (far.text or "")
    trail = await env.store.call(env.store.audit.since, NEW_YEARS_EVE)
    assert any("Sun 3 Jan 2027" in e.reason for e in trail if e.action == "chat keep")


async def test_a_request_form_with_forged_fields_is_the_senders_and_still_needs_an_approver(
    env: BotEnv,
) -> None:
    """The form's data names the request's fields only; who asks, in which tenant and whether it needs an
    approver come from the Teams sender and the configuration, whatever the data claims."""
    form = {
        "workspace": "demo",
        "name": "morgan-gpu",
        "size": "Standard_NC6s_v3",
        "purpose": "fine-tuning",
        **END,
    }
    forged = form | {
        "requester_object_id": ALEX.aad_id,
        "requester": ALEX.aad_id,
        "requester_tenant_id": "11111111-1111-1111-1111-111111111111",
        "auto_approve": True,
        "state": "approved",
        "decided_by": ALEX.aad_id,
    }
    result = await env.click("request_submit", forged, MORGAN)
    assert result.status == 200 and "Request #" in said(result)
    [request] = await env.store.call(env.store.requests.for_requester, MORGAN.aad_id)
    assert (request.requester_object_id, request.requester_tenant_id) == (MORGAN.aad_id, TENANT)
    assert (request.state, request.decided_by) == ("pending", None)
    assert await env.store.call(env.store.requests.for_requester, ALEX.aad_id) == []
    await env.service.bot.drain()
    assert "morgan-gpu" not in {i.name for i in await env.fleet.list_instances()}  # waits for an approver
    assert any(
        "asks for a compute instance" in json.dumps(m.card) for m in env.connector.messages_for(ALEX.chat_id)
    )


@pytest.fixture
async def arm_env(arm: ArmStandIn, azure_env: dict[str, str], sqlite_store: Store) -> AsyncIterator[ArmBot]:
    """The service on Azure through the unmodified SDK and the ARM stand-in, Teams through the connector."""
    clock = FakeClock(WARN_AT)
    async with ConnectorStandIn() as connector:
        teams = {"tenant_id": TENANT, "service_url": connector.url}
        settings = workspace_settings(
            RESEARCH, teams=teams, curfew={"verify_seconds": 2, "verify_interval_seconds": 0.2}
        )
        rt = Runtime(settings, sqlite_store, make_fleet(arm, workspaces=[RESEARCH]), clock)
        app = create_app(settings, runtime=rt, clock=clock, scheduler=False, tuning=QUICK)
        try:
            async with TestClient(TestServer(app, host="127.0.0.1")) as client:
                yield ArmBot(client, connector, rt, clock, TeamsActivities(connector.url), arm)
        finally:
            await rt.fleet.close()


@dataclass
class ArmBot:
    client: TestClient[Any, Any]
    connector: ConnectorStandIn
    runtime: Runtime
    clock: FakeClock
    teams: TeamsActivities
    arm: ArmStandIn

    async def click(self, data: dict[str, Any]) -> dict[str, Any]:
        response = await self.client.post("/api/messages", json=self.teams.card_action("warning", data, DANA))
        assert response.status == 200
        body = await response.json()
        card_check.record_invoke(body)
        return dict(body["value"])

    def writes(self) -> list[str]:
        return [
            r.path.rsplit("/", 1)[-1]
            for r in self.arm.requests_matching("POST", r"/computes/[^/]+/(start|stop)$")
        ]


async def test_on_azure_an_edited_card_neither_keeps_nor_spares_the_instance(arm_env: ArmBot) -> None:
    started = WARN_AT - timedelta(hours=6)
    seed_instance(arm_env.arm, RESEARCH, "ci-dana", owner_object_id=DANA.aad_id, last_started_at=started)
    assert (await Warner(arm_env.runtime, arm_env.client.server.app[SERVICE].notifier).warn()).ok
    [card] = [m.card for m in arm_env.connector.messages_for(DANA.chat_id) if m.card]
    legit = until_button(card, "ci-dana", "research", until_date="2099-12-31")["data"]
    for data, reason in (
        (without_warning(legit), "does not name a warning card Curfew sent"),
        (legit | {"warning": "AAAAAAAAAAAAAAAAAAAAAAAA"}, "I sent no such warning card"),
        (legit, "Curfew keeps an instance on for at most 14 days"),
    ):
        assert reason in json.dumps(await arm_env.click(data))
    assert await arm_env.runtime.store.call(arm_env.runtime.store.keep_ons.in_force, WARN_AT) == []
    assert arm_env.writes() == []

    arm_env.clock.now = CURFEW + timedelta(seconds=2)
    night = await Sweeper(arm_env.runtime).curfew()
    assert {o.instance.name: o.kind.value for o in night.outcomes} == {"ci-dana": "stopped"}
    assert arm_env.writes() == ["stop"] and arm_env.arm.instance("ci-dana").state in ("Stopping", "Stopped")
