"""The warning card and its clicks on the simulated fleet: content, keeps, refusals, outdated cards,
the race with the sweep, delayed stops, and splitting under Teams' size limit."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.cards.warning import WarningView, input_id, warning_card
from bot.flows.followups import FollowUps
from bot.flows.notifier import TeamsNotifier
from bot.turns import Inbound, InboundKind, Reply, SendOutcome, SendResult
from domain.decide import RunKind, decide
from domain.model import Instance, InstanceKey, InstanceState, OwnerSource
from runtime import Runtime
from scheduler.service import CurfewScheduler
from scheduler.sweep import Sweeper
from scheduler.warnings import Warner
from tests.sweep_fixtures import DEMO_OWNER, FleetSpy
from wiring import Bot, build_bot

ALEX = "00000000-0000-0000-0000-000000000021"
WARN_AT = datetime(2026, 11, 30, 22, 30, tzinfo=UTC)  # Mon 30 Nov 23:30 Europe/Berlin
CURFEW = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)


class Inbox:
    """A Messenger that records what each user received; some users cannot be reached."""

    def __init__(self, unreachable: tuple[str, ...] = ()) -> None:
        self.sent: list[tuple[str, Reply]] = []
        self.unreachable = unreachable

    async def send(self, aad_object_id: str, tenant_id: str | None, reply: Reply) -> SendResult:
        if aad_object_id in self.unreachable:
            return SendResult(SendOutcome.UNREACHABLE, detail="403 MessageWritesBlocked")
        self.sent.append((aad_object_id, reply))
        return SendResult(SendOutcome.SENT, f"a{len(self.sent)}")

    async def update(
        self, aad_object_id: str, tenant_id: str | None, activity_id: str, reply: Reply
    ) -> SendResult:
        return SendResult(SendOutcome.SENT, activity_id)

    def cards_for(self, user: str) -> list[dict[str, Any]]:
        return [dict(r.card) for u, r in self.sent if u == user and r.card]


@pytest.fixture
def env(demo: tuple[Runtime, FleetSpy]) -> tuple[Runtime, FleetSpy, Bot, Inbox]:
    rt, spy = demo
    rt.clock.now = WARN_AT  # type: ignore[attr-defined]
    inbox = Inbox()
    followups = FollowUps(rt.fleet, rt.store, rt.clock, lambda: inbox, poll_seconds=0.01, timeout_seconds=2)
    chat = build_bot(rt, lambda: inbox, followups=followups, with_requests=False)
    return rt, spy, chat, inbox


def buttons(card: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """(instance, title) -> the Action.Execute of each instance's buttons: Apply, Keep until…"""
    found = {}
    for row in card["body"]:
        for block in row.get("items", []) if row["type"] == "Container" else []:
            if block["type"] == "ActionSet":
                for action in block["actions"]:
                    target = action if action["type"] == "Action.Execute" else action["card"]["actions"][0]
                    found[(target["data"]["instance"], action["title"])] = target
    return found


def choices(card: dict[str, Any]) -> dict[str, list[str]]:
    """instance -> the labels of its choice input."""
    found = {}
    for row in card["body"]:
        for block in row.get("items", []) if row["type"] == "Container" else []:
            if block["type"] == "Input.ChoiceSet":
                found[block["id"].rsplit(":", 1)[1]] = [c["title"] for c in block["choices"]]
    return found


async def pick(
    chat: Bot, card: dict[str, Any], name: str, choice: str, user: str = DEMO_OWNER, **inputs: str
) -> dict[str, Any]:
    """Choose `choice` for instance `name` on the card and press its button (the inputs are its own)."""
    key = InstanceKey("demo", name)
    own = {input_id(key, field): value for field, value in inputs.items()}
    if choice == "keep_until":
        return await click(chat, buttons(card)[(name, "Keep until…")], user, **own)
    return await click(chat, buttons(card)[(name, "Apply")], user, **own, **{input_id(key, "choice"): choice})


def text_of(card: dict[str, Any]) -> str:
    return json.dumps(card)


async def click(chat: Bot, action: dict[str, Any], user: str = DEMO_OWNER, **inputs: str) -> dict[str, Any]:
    inbound = Inbound(
        InboundKind.ACTION,
        user,
        "Dana Scientist" if user == DEMO_OWNER else "Alex Approver",
        "t",
        "c",
        verb=action["verb"],
        value={**action["data"], **inputs},
        local_timezone="Europe/Berlin",
    )
    return dict((await chat.conversation.on_action(inbound)).card)


async def warn(rt: Runtime, inbox: Inbox) -> dict[str, Any]:
    report = await Warner(rt, TeamsNotifier(rt.settings, inbox, rt.clock)).warn()
    assert report.ok
    return inbox.cards_for(DEMO_OWNER)[-1]


async def test_each_owner_gets_one_card_listing_what_stops_and_what_stays(env: Any) -> None:
    rt, _, _, inbox = env
    card = await warn(rt, inbox)
    assert len(inbox.cards_for(DEMO_OWNER)) == 1 and len(inbox.cards_for(ALEX)) == 1
    assert card["body"][0]["text"] == "2 instances stop at 00:00 Europe/Berlin"
    assert set(buttons(card)) == {(n, t) for n in ("gpu-ci", "cpu-ci") for t in ("Apply", "Keep until…")}
    assert [label.split(":")[0] for label in choices(card)["gpu-ci"]] == [
        "Keep 1 hour",
        "Keep 2 hours",
        "Keep tonight",  # with prices: "Keep tonight, to 00:00: USD 73.44 for 24 h"
        "Stop now",
    ]
    assert "Stays on: job train-42 running" in text_of(card)
    assert card["version"] == "1.5"
    fallback = buttons(card)[("gpu-ci", "Apply")]["fallback"]
    assert fallback["type"] == "Action.Submit" and fallback["data"]["choice"] == "chosen"
    # every input id on the card is its instance's own
    ids = [i for i in json.dumps(card).split('"id": "')[1:]]
    assert len(ids) == len(set(ids)) == 2 * 4


async def test_keep_one_hour_refreshes_the_card_and_survives_the_sweep(env: Any) -> None:
    rt, spy, chat, inbox = env
    card = await warn(rt, inbox)
    refreshed = await pick(chat, card, "gpu-ci", "keep_1h")
    assert "Kept gpu-ci until 01:00 Europe/Berlin by Dana Scientist; Curfew stops it then." in text_of(
        refreshed
    )
    assert "Curfew stops it then. Estimated cost: " in text_of(refreshed)
    assert "for 1 h past the curfew at " in text_of(refreshed) and "simulated" in text_of(refreshed)
    assert "Stays on: kept until" not in text_of(refreshed)  # one true thing per instance
    assert ("gpu-ci", "Apply") not in buttons(refreshed) and ("cpu-ci", "Apply") in buttons(refreshed)
    assert refreshed["body"][0]["text"] == "1 instance stop at 00:00 Europe/Berlin"
    rt.clock.now = CURFEW + timedelta(seconds=3)
    report = await Sweeper(rt).curfew()
    assert {o.instance.name: o.kind.value for o in report.outcomes}["gpu-ci"] == "left"
    assert "gpu-ci" not in spy.writes("stop") and "cpu-ci" in spy.writes("stop")
    # the delay ends at 01:00: the scheduler stops it then, once
    rt.clock.now = CURFEW + timedelta(hours=1, seconds=5)
    scheduler = CurfewScheduler(rt, TeamsNotifier(rt.settings, inbox, rt.clock), owner="a")
    assert await scheduler.end_delays() == 1
    assert await scheduler.end_delays() == 0
    assert spy.writes("stop").count("gpu-ci") == 1


async def test_a_click_committed_before_the_stop_call_prevents_the_stop(env: Any) -> None:
    """The race: the sweep has decided; the owner clicks before its stop call; the click wins."""
    rt, spy, chat, inbox = env
    card = await warn(rt, inbox)
    rt.clock.now = CURFEW - timedelta(seconds=1)
    repo = rt.store.keep_ons
    original = repo.in_force
    clicked: list[dict[str, Any]] = []

    async def owner_clicks() -> None:
        clicked.append(await pick(chat, card, "cpu-ci", "keep_2h"))

    main_loop = asyncio.get_running_loop()

    def in_force_then_click(now, keys=None):  # type: ignore[no-untyped-def]
        result = original(now, keys)
        if keys is None and not clicked:  # the sweep has read the keep-ons and decided: now the click
            asyncio.run_coroutine_threadsafe(owner_clicks(), main_loop).result(timeout=30)
        return result

    repo.in_force = in_force_then_click  # type: ignore[method-assign]
    report = await Sweeper(rt).curfew(now=CURFEW)
    outcome = {o.instance.name: (o.kind.value, o.detail) for o in report.outcomes}
    assert outcome["cpu-ci"] == ("left", "kept just before the stop: keep 2 hours")
    assert "cpu-ci" not in spy.writes("stop")
    assert "Kept cpu-ci until 02:00 Europe/Berlin" in text_of(clicked[0])


async def test_someone_else_clicking_a_forwarded_card_is_refused(env: Any) -> None:
    rt, _, chat, inbox = env
    card = await warn(rt, inbox)
    answer = await pick(chat, card, "gpu-ci", "keep_tonight", user=ALEX)
    assert "Only the owner of gpu-ci or an admin of workspace demo can change it" in text_of(answer)
    assert await rt.store.call(rt.store.keep_ons.in_force, rt.clock()) == []
    events = await rt.store.call(rt.store.audit.for_instance, InstanceKey("demo", "gpu-ci"))
    assert [e for e in events if e.actor == ALEX] == []  # not in gpu-ci's history: the security log's
    [logged] = await rt.store.call(rt.store.security.since)
    assert (logged.actor, logged.instance, logged.kind) == (ALEX, "gpu-ci", "not authorized")


async def test_an_outdated_card_answers_with_the_current_state(env: Any) -> None:
    rt, _, chat, inbox = env
    card = await warn(rt, inbox)
    rt.clock.now = CURFEW + timedelta(seconds=30)
    await Sweeper(rt).curfew()
    answer = await pick(chat, card, "cpu-ci", "keep_1h")
    assert "The curfew at Tue 1 Dec 00:00 Europe/Berlin has passed; cpu-ci is Stopped now." in text_of(answer)
    assert next(a["data"]["command"] for a in answer["actions"]) == "start cpu-ci@demo"
    assert await rt.store.call(rt.store.keep_ons.in_force, rt.clock()) == []


async def test_keep_until_a_date_with_reason_and_the_approval_threshold(env: Any) -> None:
    rt, _, chat, inbox = env
    card = await warn(rt, inbox)
    answer = await pick(chat, card, "gpu-ci", "keep_until", until_date="2026-12-02", reason="eval run")
    assert (
        "Kept gpu-ci until Thu 3 Dec 00:00 Europe/Berlin; the curfew stops it then by Dana Scientist."
        in text_of(answer)
    )
    long = await pick(chat, card, "cpu-ci", "keep_until", until_date="2026-12-08", until_time="18:00")
    assert "Pending approval: keeping cpu-ci until Tue 8 Dec 18:00 Europe/Berlin waits for an approver;" in (
        text_of(long)
    )
    assert "stops it then waits" not in text_of(long)
    bad = await pick(chat, card, "cpu-ci", "keep_until", until_date="2027-12-08")
    assert "already kept" in text_of(bad) or "at most 14 days" in text_of(bad)


async def test_malformed_payloads_change_nothing(env: Any) -> None:
    rt, _, chat, _ = env
    for value in (
        {"verb": "warning"},
        {
            "verb": "warning",
            "choice": "keep_1h",
            "instance": "gpu-ci",
            "workspace": "demo",
            "curfew_at": "yesterday",
        },
    ):
        answer = await chat.conversation.on_action(
            Inbound(InboundKind.ACTION, DEMO_OWNER, None, "t", "c", verb="warning", value=value)
        )
        assert "did nothing" in text_of(dict(answer.card))
    assert await rt.store.call(rt.store.keep_ons.in_force, rt.clock()) == []


async def test_unreachable_owners_are_audited_and_admins_get_a_summary(env: Any) -> None:
    rt, _, _, _ = env
    rt.settings = rt.settings.model_copy(update={"demo_admins": ["00000000-0000-0000-0000-000000000025"]})
    inbox = Inbox(unreachable=(DEMO_OWNER,))
    report = await Warner(rt, TeamsNotifier(rt.settings, inbox, rt.clock)).warn()
    assert {d.owner_object_id: d.delivery.value for d in report.deliveries}[DEMO_OWNER] == "unreachable"
    summary = text_of(inbox.cards_for("00000000-0000-0000-0000-000000000025")[0])
    assert "2 instance(s) whose owner I could not warn" in summary and "gpu-ci" in summary
    assert "Teams blocks messages to this person (they blocked Curfew)" in summary  # not "403 ..."
    assert "MessageWritesBlocked" not in summary and DEMO_OWNER not in summary
    events = await rt.store.call(rt.store.audit.for_instance, InstanceKey("demo", "gpu-ci"))
    assert (events[0].action, events[0].outcome) == ("warning", "unreachable")


def test_an_owner_with_many_instances_gets_several_cards_within_the_size_rule() -> None:
    """400 instances: the messenger's size rule splits the card at its rows, every instance on one part."""
    from datetime import time
    from zoneinfo import ZoneInfo

    from bot.adapter.teams_size import MAX_MESSAGE_BYTES, fit_for_teams, teams_bytes
    from domain.model import CurfewPolicy, MorningPolicy, WorkspacePolicy

    policy = WorkspacePolicy(
        ZoneInfo("Europe/Berlin"), CurfewPolicy(stop_at=time(0, 0)), MorningPolicy(time(8, 0))
    )
    instances = [
        Instance(
            "demo",
            f"instance-{n:03}",
            "Standard_NC6s_v3",
            InstanceState.RUNNING,
            DEMO_OWNER,
            last_started_at=WARN_AT - timedelta(hours=3),
        )
        for n in range(400)
    ]
    decisions = tuple(decide(RunKind.WARNING, WARN_AT, instances, [], [], {"demo": policy}))
    whole = Reply(
        card=warning_card(WarningView(CURFEW, ZoneInfo("Europe/Berlin"), decisions, WARN_AT, warning_id="w"))
    )
    assert teams_bytes(whole) > MAX_MESSAGE_BYTES
    parts = fit_for_teams(whole)
    assert len(parts) > 1
    assert all(teams_bytes(p) <= MAX_MESSAGE_BYTES for p in parts)
    assert sum(len({k[0] for k in buttons(dict(p.card or {}))}) for p in parts) == 400
    assert [dict(p.card or {})["body"][0]["text"] for p in parts][-1].endswith(f"({len(parts)}/{len(parts)})")


async def test_with_stop_unwarned_off_an_unreachable_owners_instances_stay_on(env: Any) -> None:
    rt, spy, _, _ = env
    rt.settings = rt.settings.model_copy(
        update={"curfew": rt.settings.curfew.model_copy(update={"stop_unwarned": False})}
    )
    await Warner(rt, TeamsNotifier(rt.settings, Inbox(unreachable=(DEMO_OWNER,)), rt.clock)).warn()
    rt.clock.now = CURFEW + timedelta(seconds=5)
    report = await Sweeper(rt).curfew()
    outcome = {o.instance.name: (o.kind.value, o.detail) for o in report.outcomes}
    assert outcome["gpu-ci"] == ("left", "its owner could not be warned (curfew.stop_unwarned is false)")
    assert outcome["cpu-ci"][0] == "left" and outcome["alex-gpu"][0] == "stopped"
    assert spy.writes("stop") == ["alex-gpu"]


async def test_by_default_unwarned_owners_are_still_stopped(env: Any) -> None:
    rt, spy, _, _ = env
    await Warner(rt, TeamsNotifier(rt.settings, Inbox(unreachable=(DEMO_OWNER,)), rt.clock)).warn()
    rt.clock.now = CURFEW + timedelta(seconds=5)
    await Sweeper(rt).curfew()
    assert sorted(spy.writes("stop")) == ["alex-gpu", "cpu-ci", "gpu-ci"]


async def test_a_long_keep_from_the_card_asks_the_approvers(env: Any) -> None:
    rt, _, chat, inbox = env
    chat = build_bot(rt, lambda: inbox, followups=chat.followups, poll_seconds=0.01)
    card = await warn(rt, inbox)
    answer = await pick(chat, card, "gpu-ci", "keep_until", until_date="2026-12-06", reason="long run")
    assert "waits for an approver" in text_of(answer)
    await chat.drain()
    approver_cards = [text_of(c) for c in inbox.cards_for(ALEX)]
    assert any("gpu-ci" in c and "long run" in c for c in approver_cards), approver_cards


async def test_a_self_made_instance_warns_its_creator_who_may_keep_it_and_no_one_else(env: Any) -> None:
    """cpu-ci has no assigned user; Dana created it (createdBy): she is its owner (DECISIONS rule 3)."""
    rt, spy, chat, inbox = env
    cpu = await rt.fleet.get_instance("demo", "cpu-ci")
    assert (cpu.owner_object_id, cpu.owner_source, cpu.owner_name) == (
        DEMO_OWNER,
        OwnerSource.CREATOR,
        "Dana Scientist",
    )
    card = await warn(rt, inbox)
    assert "keep_tonight" in [c for c in _choice_values(card, "cpu-ci")]
    assert all(name != "cpu-ci" for name, _ in buttons(inbox.cards_for(ALEX)[-1]))

    refused = await pick(chat, card, "cpu-ci", "keep_tonight", user=ALEX)
    assert "Only the owner of cpu-ci or an admin of workspace demo can change it" in text_of(refused)
    assert await rt.store.call(rt.store.keep_ons.in_force, rt.clock()) == []

    kept = await pick(chat, card, "cpu-ci", "keep_tonight")
    assert "Kept cpu-ci until" in text_of(kept)
    report = await Sweeper(rt).curfew(now=CURFEW)
    assert {o.instance.name: o.kind.value for o in report.outcomes}["cpu-ci"] == "left"
    assert "cpu-ci" not in spy.writes("stop")


def _choice_values(card: dict[str, Any], name: str) -> list[str]:
    """The values of instance `name`'s choice input on the card."""
    for row in card["body"]:
        for block in row.get("items", []) if row["type"] == "Container" else []:
            if block["type"] == "Input.ChoiceSet" and block["id"].endswith(f":{name}"):
                return [c["value"] for c in block["choices"]]
    return []
