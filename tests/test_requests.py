"""Requests and approvals on the simulated fleet, turn by turn: the form, the approvers' cards, the first
decision winning, creation on the requester's behalf, Azure refusing, retries, keep-on approvals, expiry.
The fleet is the simulated one behind a spy that can refuse creations; the Messenger records every send
and rewrite. (The protocol-level version, against the ARM stand-in, is a separate test.)"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.flows.approvals import Approvals  # importing it registers the request commands and card verbs
from bot.flows.followups import FollowUps
from bot.turns import Inbound, InboundKind, Reply, SendOutcome, SendResult
from compute.port import CreateSpec, FleetError, InvalidRequest
from config.settings import Settings
from domain.model import InstanceKey, InstanceState, KeepOnState
from runtime import Runtime
from storage.repositories import ConversationRef, Store
from tests.bot_harness import words
from tests.conftest import FakeClock
from tests.sweep_fixtures import DEMO_OWNER, FleetSpy, demo_runtime, demo_settings
from wiring import Bot, build_bot

DANA, ALEX, MORGAN, SAM = (
    DEMO_OWNER,
    "00000000-0000-0000-0000-000000000021",
    "00000000-0000-0000-0000-000000000022",
    "00000000-0000-0000-0000-000000000023",
)
NAMES = {DANA: "Dana Scientist", ALEX: "Alex Approver", MORGAN: "Morgan Manager", SAM: "Sam Bystander"}
TENANT = "00000000-0000-0000-0000-0000000000aa"
SUNDAY = datetime(2026, 11, 29, 14, 0, tzinfo=UTC)
STUDIO = (
    "https://ml.azure.com/compute/list/instances?wsid=/subscriptions/00000000-0000-0000-0000-000000000001"
)

END = {"end_date": "2027-03-01"}
"""The project's end date every form here gives (`lifecycle.require_end_date`), within max_lifetime_days."""


@dataclass
class CreateSpy(FleetSpy):
    """The fleet spy, also recording create calls and refusing them while `refuse` is set."""

    creates: list[tuple[str, CreateSpec]] = field(default_factory=list)
    refuse: FleetError | None = None

    async def create(self, workspace: str, spec: CreateSpec) -> None:
        self.creates.append((workspace, spec))
        if self.refuse is not None:
            raise self.refuse
        await self.inner.create(workspace, spec)


class Inbox:
    """A Messenger that records what each user received and every card rewrite."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Reply, str]] = []
        self.updates: list[tuple[str, str, Reply]] = []
        self.unreachable: set[str] = set()

    async def send(self, aad_object_id: str, tenant_id: str | None, reply: Reply) -> SendResult:
        if aad_object_id in self.unreachable:
            return SendResult(SendOutcome.UNREACHABLE, detail="403 MessageWritesBlocked")
        activity = f"a{len(self.sent) + 1}"
        self.sent.append((aad_object_id, reply, activity))
        return SendResult(SendOutcome.SENT, activity)

    async def update(
        self, aad_object_id: str, tenant_id: str | None, activity_id: str, reply: Reply
    ) -> SendResult:
        self.updates.append((aad_object_id, activity_id, reply))
        return SendResult(SendOutcome.SENT, activity_id)

    def cards_for(self, user: str) -> list[dict[str, Any]]:
        return [dict(r.card) for u, r, _ in self.sent if u == user and r.card]

    def texts_for(self, user: str) -> list[str]:
        return [r.text for u, r, _ in self.sent if u == user and r.text]


@dataclass
class Env:
    rt: Runtime
    fleet: CreateSpy
    chat: Bot
    inbox: Inbox
    approvals: Approvals

    async def settle(self) -> None:
        await self.chat.drain()

    async def request(
        self, name: str = "dana-gpu", size: str = "Standard_NC6s_v3", **more: str
    ) -> dict[str, Any]:
        """Dana asks for the form and sends it filled in; the card that replaces the form."""
        form = (await say(self.chat, "I need a GPU"))[0].card
        assert form is not None
        inputs = {"workspace": "demo", "name": name, "size": size, "purpose": "fine-tuning", **END, **more}
        answer = await click(self.chat, action(dict(form), "Send request"), DANA, **inputs)
        await self.settle()
        return answer

    async def request_row(self, request_id: int = 1) -> Any:
        return await self.rt.store.call(self.rt.store.requests.get, request_id)


def make_env(store: Store, clock: FakeClock, inbox: Inbox | None = None, **settings: Any) -> Env:
    base = demo_settings().model_dump()
    base.update({"demo_approvers": [ALEX, MORGAN], "requests": {"max_per_user": 6}, **settings})
    rt, spy = demo_runtime(store, clock, Settings.model_validate(base))
    fleet = CreateSpy(spy.inner)
    rt.fleet = fleet
    clock.now = SUNDAY
    inbox = inbox or Inbox()
    followups = FollowUps(fleet, store, clock, lambda: inbox, poll_seconds=0.01, timeout_seconds=2)
    bot = build_bot(rt, lambda: inbox, followups=followups, poll_seconds=0.01, timeout_seconds=2)
    assert bot.approvals is not None
    return Env(rt, fleet, bot, inbox, bot.approvals)


@pytest.fixture
def env(sqlite_store: Store, clock: FakeClock) -> Env:
    return make_env(sqlite_store, clock)


async def say(chat: Bot, words: str, user: str = DANA, value: dict[str, Any] | None = None) -> list[Reply]:
    inbound = Inbound(
        InboundKind.MESSAGE,
        user,
        NAMES[user],
        TENANT,
        "c",
        text=words,
        value=value,
        local_timezone="Europe/Berlin",
    )
    return await chat.conversation.on_message(inbound)


async def click(chat: Bot, act: dict[str, Any], user: str, **inputs: str) -> dict[str, Any]:
    inbound = Inbound(
        InboundKind.ACTION,
        user,
        NAMES[user],
        TENANT,
        "c",
        verb=act["verb"],
        value={**act["data"], **inputs},
        local_timezone="Europe/Berlin",
    )
    return dict((await chat.conversation.on_action(inbound)).card)


def action(card: dict[str, Any], title: str) -> dict[str, Any]:
    found = {a["title"]: a for a in card.get("actions", [])}
    assert title in found, f"no {title!r} among {sorted(found)}"
    return found[title]


def text_of(card: Any) -> str:
    return json.dumps(card, ensure_ascii=False)


def beside(card: dict[str, Any], field_id: str) -> str | None:
    """The error shown right after the input `field_id`, if any."""
    body = card["body"]
    index = next(i for i, b in enumerate(body) if b.get("id") == field_id)
    after = body[index + 1] if index + 1 < len(body) else {}
    return after.get("text") if after.get("color") == "Attention" else None


async def audit(rt: Runtime, name: str) -> list[tuple[str, str, str]]:
    events = await rt.store.call(rt.store.audit.for_instance, InstanceKey("demo", name), 20)
    return [(e.actor, e.action, e.outcome) for e in reversed(events)]


async def test_the_form_offers_workspaces_sizes_with_details_and_preselects_a_gpu(env: Env) -> None:
    form = dict((await say(env.chat, "I need a GPU"))[0].card or {})
    inputs = {b["id"]: b for b in form["body"] if "id" in b}
    assert [c["value"] for c in inputs["workspace"]["choices"]] == ["demo"]
    assert [c["title"] for c in inputs["size"]["choices"]] == [
        "Standard_DS3_v2: 4 cores, 14 GB (no approval needed)",
        "Standard_NC6s_v3: 6 cores, 112 GB, 1 V100 GPU",
    ]
    assert inputs["size"]["value"] == "Standard_NC6s_v3"
    assert inputs["purpose"]["isRequired"] and inputs["morning_start"]["type"] == "Input.Toggle"
    submit = action(form, "Send request")
    assert submit["type"] == "Action.Execute" and submit["fallback"]["type"] == "Action.Submit"
    assert submit["fallback"]["data"] == submit["data"] == {"curfew": True, "verb": "request_submit"}
    unknown = dict((await say(env.chat, "request instance Standard_ND96asr_v4"))[0].card or {})
    assert (
        beside(unknown, "size") == "Standard_ND96asr_v4 is not a size you can request; choose one of these."
    )


async def test_approved_request_is_created_for_the_requester_and_she_is_told_it_is_ready(env: Env) -> None:
    answer = await env.request(morning_start="true")
    assert "Request #1 sent" in text_of(answer)
    alex_card = env.inbox.cards_for(ALEX)[0]
    assert len(env.inbox.cards_for(MORGAN)) == 1 and env.inbox.cards_for(DANA) == []
    shown = text_of(alex_card)
    assert "Dana Scientist asks for a compute instance" in shown and "fine-tuning" in shown
    assert '"title": "Ends", "value": "Mon 1 Mar 2027"' in shown  # the project's end date, for approvers
    assert "Standard_NC6s_v3 (6 cores, 112 GB, 1 V100 GPU)" in shown
    assert (
        "Current instances of Dana Scientist** (4)" in shown
        and "gpu-ci · Standard_NC6s_v3 · Running" in shown
    )
    approve = action(alex_card, "Approve")
    assert approve["type"] == "Action.Execute" and approve["fallback"]["data"] == approve["data"]

    decided = await click(env.chat, approve, ALEX, comment="enjoy")
    assert "Approved by Alex Approver: enjoy" in text_of(decided)
    await env.settle()
    workspace, spec = env.fleet.creates[0]
    assert (workspace, spec.name, spec.size) == ("demo", "dana-gpu", "Standard_NC6s_v3")
    assert (spec.owner_object_id, spec.owner_tenant_id, spec.idle_shutdown_minutes) == (DANA, TENANT, 60)
    assert spec.tags == {
        "curfew-request": "1",
        "curfew-purpose": "fine-tuning",
        "curfew-end-date": "2027-03-01",
    }
    life = await env.rt.store.call(env.rt.store.life.get, InstanceKey("demo", "dana-gpu"))
    assert life is not None and life.end == date(2027, 3, 1)  # its end date, in Curfew's database
    created = await env.fleet.get_instance("demo", "dana-gpu")
    assert (created.owner_object_id, created.state, created.idle_shutdown_minutes) == (
        DANA,
        InstanceState.RUNNING,
        60,
    )
    told = env.inbox.texts_for(DANA)
    assert told[0].startswith(
        "Alex Approver approved your request #1 for dana-gpu (Standard_NC6s_v3) in demo: enjoy."
    )
    assert told[-1].startswith("dana-gpu is ready in demo. Open it in Azure ML studio: " + STUDIO)
    assert (await env.request_row()).state == "ready"
    rewritten = {(aad, activity) for aad, activity, _ in env.inbox.updates}
    assert rewritten == {(ALEX, "a1"), (MORGAN, "a2")}
    assert "dana-gpu is ready." in text_of(env.inbox.updates[-1][2].card)
    mornings = await env.rt.store.call(env.rt.store.mornings.all)
    assert [(m.instance, m.enabled) for m in mornings] == [("dana-gpu", True)]
    status = text_of((await say(env.chat, "status"))[0].card)
    assert "Your compute instances (5)" in status and "dana-gpu" in status
    assert await audit(env.rt, "dana-gpu") == [
        (DANA, "request submit", "pending"),
        ("curfew", "request route", "sent"),
        (ALEX, "request approve", "approved"),
        ("curfew", "request create", "creating"),
        ("curfew", "request create", "ready"),
    ]


class DecidedOnTheWay(Inbox):
    """Alex rejects request #1 (through another replica) while its card to Morgan is on its way."""

    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store = store

    async def send(self, aad_object_id: str, tenant_id: str | None, reply: Reply) -> SendResult:
        if aad_object_id == MORGAN and reply.card is not None:
            requests = self.store.requests
            moved = await self.store.call(
                requests.transition, 1, ["pending"], "rejected", SUNDAY, decided_by=ALEX
            )
            assert moved is not None
        return await super().send(aad_object_id, tenant_id, reply)


async def test_cards_sent_while_the_request_was_decided_are_kept_and_rewritten(
    sqlite_store: Store, clock: FakeClock
) -> None:
    """The route adds the copies it sent to the request as it stands then, not as it was read before
    they went out, and has every copy rewritten to show the decision."""
    env = make_env(sqlite_store, clock, DecidedOnTheWay(sqlite_store))
    await env.request()
    row = await env.request_row()
    assert row.state == "rejected"
    assert [(c["aad"], c["activity_id"]) for c in row.cards] == [(ALEX, "a1"), (MORGAN, "a2")]
    assert {(aad, activity) for aad, activity, _ in env.inbox.updates} == {(ALEX, "a1"), (MORGAN, "a2")}
    assert all("Rejected by" in text_of(r.card) for _, _, r in env.inbox.updates)


async def test_reject_with_comment_tells_the_requester_and_creates_nothing(env: Env) -> None:
    await env.request()
    decided = await click(
        env.chat, action(env.inbox.cards_for(MORGAN)[0], "Reject"), MORGAN, comment="use cpu-ci"
    )
    assert "Rejected by Morgan Manager: use cpu-ci" in text_of(decided)
    assert "actions" not in decided
    await env.settle()
    assert env.fleet.creates == []
    assert env.inbox.texts_for(DANA) == [
        "Morgan Manager rejected your request #1 for dana-gpu in demo: use cpu-ci. Say `request an instance` "
        "to ask again."
    ]
    assert all("Rejected by Morgan Manager: use cpu-ci" in text_of(r.card) for _, _, r in env.inbox.updates)
    assert len(env.inbox.updates) == 2


async def test_self_approval_and_a_non_approver_are_refused_and_audited(env: Env) -> None:
    form = (await say(env.chat, "request an instance", ALEX))[0].card
    assert form is not None
    inputs = {"workspace": "demo", "name": "alex-box", "size": "Standard_NC6s_v3", "purpose": "eval", **END}
    await click(env.chat, action(dict(form), "Send request"), ALEX, **inputs)
    await env.settle()
    assert env.inbox.cards_for(ALEX) == [] and len(env.inbox.cards_for(MORGAN)) == 1
    approve = action(env.inbox.cards_for(MORGAN)[0], "Approve")
    own = await click(env.chat, approve, ALEX)
    assert "You cannot decide on your own request; another approver of demo must." in text_of(own)
    assert action(own, "Approve")  # still pending: the buttons stay for the real approvers
    stranger = await click(env.chat, approve, SAM)
    assert "Only an approver of workspace demo can decide on this; nothing changed." in text_of(stranger)
    assert (await env.request_row()).state == "pending" and env.fleet.creates == []
    assert await audit(env.rt, "alex-box") == [
        (ALEX, "request submit", "pending"),
        ("curfew", "request route", "sent"),
    ]
    logged = await env.rt.store.call(env.rt.store.security.since)
    assert [(e.actor, e.action, e.instance, e.reason.split(" ", 1)[1]) for e in logged] == [
        (
            ALEX,
            "request approve",
            "alex-box",
            "You cannot decide on your own request; another approver of demo must.",
        ),
        (
            SAM,
            "request approve",
            "alex-box",
            "Only an approver of workspace demo can decide on this; nothing changed.",
        ),
    ]


async def test_the_first_decision_wins_and_a_later_click_is_told_who_decided(env: Env) -> None:
    await env.request()
    alex, morgan = env.inbox.cards_for(ALEX)[0], env.inbox.cards_for(MORGAN)[0]
    answers = await asyncio.gather(
        click(env.chat, action(alex, "Approve"), ALEX), click(env.chat, action(morgan, "Approve"), MORGAN)
    )
    lost = [a for a in answers if "decided first" in text_of(a)]
    assert len(lost) == 1
    assert "This request was already approved" in text_of(lost[0])
    late = await click(env.chat, action(morgan, "Reject"), MORGAN, comment="no")
    row = await env.request_row()
    winner = "Alex Approver" if row.decided_by == ALEX else "Morgan Manager"
    assert "This request was already approved" in text_of(late)
    assert f"so I cannot reject it. {winner} decided first." in text_of(late), late["body"][0]
    await env.settle()
    assert len(env.fleet.creates) == 1 and (await env.request_row()).state == "ready"


async def test_quota_counts_instances_and_open_requests(env: Env) -> None:
    await env.request("first-one")
    await env.request("second-one")
    third = await env.request("third-one")
    assert "You already have 6 instance(s) or open request(s); the limit is 6." in text_of(third)
    assert (await env.rt.store.call(env.rt.store.requests.get, 3)) is None
    form = dict((await say(env.chat, "request an instance"))[0].card or {})
    assert "the limit is 6" in form["body"][1]["text"]
    events = await audit(env.rt, "third-one")
    assert events == [(DANA, "request submit", "invalid")]


async def test_mistakes_are_shown_beside_their_fields_and_the_values_kept(env: Env) -> None:
    answer = await env.request("GPU-CI", purpose="  ")
    assert beside(answer, "name") == "GPU-CI is already taken in demo; choose another name."
    assert beside(answer, "purpose") == "Say what the instance is for; the approvers decide on it."
    assert beside(answer, "size") is None
    values = {b["id"]: b.get("value") for b in answer["body"] if "id" in b}
    assert values["name"] == "GPU-CI" and values["size"] == "Standard_NC6s_v3"
    await env.request("dana-gpu")
    taken = await env.request("Dana-GPU")
    assert beside(taken, "name") == "Dana-GPU is already taken in demo; choose another name."
    bad = await env.request("9lives")
    assert beside(bad, "name") == "A name starts with a letter (a to z)."


async def test_azure_refusing_the_creation_is_explained_and_retry_from_the_card_works(env: Env) -> None:
    env.fleet.refuse = InvalidRequest("Azure has no Standard NCSv3 quota left in this region.")
    await env.request()
    await click(env.chat, action(env.inbox.cards_for(ALEX)[0], "Approve"), ALEX)
    await env.settle()
    assert (await env.request_row()).state == "failed"
    assert env.inbox.texts_for(DANA)[-1] == (
        "I could not create dana-gpu in demo: Azure has no Standard NCSv3 quota left in this region. Ask "
        "again with another name or size, or ask an admin to raise the Azure quota and retry from the card."
    )
    failed_card = dict(env.inbox.updates[-1][2].card or {})
    assert "The creation failed: Azure has no Standard NCSv3 quota" in text_of(failed_card)
    retry = action(failed_card, "Retry creation")
    refused = await click(env.chat, retry, SAM)
    assert "Only an approver or admin of workspace demo can retry" in text_of(refused)
    env.fleet.refuse = None
    retried = await click(env.chat, retry, MORGAN)
    assert "Retrying the creation of dana-gpu, as Morgan Manager asked." in text_of(retried)
    again = await click(env.chat, retry, ALEX)
    assert "decided first" in text_of(again) or "cannot retry it" in text_of(again)
    await env.settle()
    assert len(env.fleet.creates) == 2 and (await env.request_row()).state == "ready"
    assert env.inbox.texts_for(DANA)[-1].startswith("dana-gpu is ready in demo.")
    outcomes = [e[1:] for e in await audit(env.rt, "dana-gpu")]
    assert ("request create", "failed") in outcomes and ("request retry", "approved") in outcomes


async def test_an_auto_approved_size_is_created_at_once(env: Env) -> None:
    answer = await env.request("dana-cpu", "Standard_DS3_v2")
    assert "Creating it now" in text_of(answer)
    assert env.inbox.cards_for(ALEX) == [] and env.inbox.cards_for(MORGAN) == []
    assert (await env.fleet.get_instance("demo", "dana-cpu")).owner_object_id == DANA
    assert env.inbox.texts_for(DANA)[-1].startswith("dana-cpu is ready in demo.")
    assert (await audit(env.rt, "dana-cpu"))[0] == (DANA, "request submit", "approved")
    mine = text_of((await say(env.chat, "my requests"))[0].card)
    assert "dana-cpu (demo), Standard_DS3_v2: **ready**" in mine
    assert "Approved automatically: this size needs no approval" in mine


async def test_the_forms_end_date_is_required_and_one_past_the_limit_needs_an_approver(env: Env) -> None:
    form = (await say(env.chat, "I need a GPU"))[0].card
    assert form is not None
    [field] = [b for b in form["body"] if b.get("id") == "end_date"]
    today = env.rt.clock().astimezone(ZoneInfo(env.rt.settings.timezone)).date()
    assert field["type"] == "Input.Date" and field["isRequired"] is True and field["min"] == today.isoformat()
    missing = await env.request("dana-cpu", "Standard_DS3_v2", end_date="")
    assert beside(missing, "end_date") == "Give the project's end date: the instance is stopped then."
    past = await env.request("dana-cpu", "Standard_DS3_v2", end_date="2026-11-01")
    assert beside(past, "end_date") == "The end date is in the past; pick a day from today on."
    assert env.fleet.creates == [] and env.inbox.cards_for(ALEX) == []
    far = await env.request("dana-cpu", "Standard_DS3_v2", end_date="2027-12-31")  # 396 days: over 180
    assert "more than 180 days away, so it needs an approver" in text_of(far)
    assert env.fleet.creates == [] and len(env.inbox.cards_for(ALEX)) == 1  # not created at once
    assert '"title": "Ends", "value": "Fri 31 Dec 2027"' in text_of(env.inbox.cards_for(ALEX)[0])


async def test_a_failed_auto_approved_creation_goes_to_approvers_and_admins_to_retry(
    sqlite_store: Store, clock: FakeClock
) -> None:
    env = make_env(sqlite_store, clock, demo_admins=[SAM])
    env.fleet.refuse = InvalidRequest("The name dana-cpu is not available in this region.")
    await env.request("dana-cpu", "Standard_DS3_v2")
    for person in (ALEX, MORGAN, SAM):
        assert action(env.inbox.cards_for(person)[-1], "Retry creation")
    env.fleet.refuse = None
    await click(env.chat, action(env.inbox.cards_for(SAM)[-1], "Retry creation"), SAM)
    await env.settle()
    assert (await env.request_row()).state == "ready"


async def test_a_long_keep_on_waits_for_an_approver_and_becomes_active(env: Env) -> None:
    replies = await say(env.chat, "keep gpu-ci until Friday because training")
    assert "needs an approver's yes" in words(replies[0])
    await env.settle()
    card = env.inbox.cards_for(ALEX)[0]
    shown = text_of(card)
    assert "Dana Scientist asks to keep gpu-ci on" in shown and "Sat 5 Dec 00:00 Europe/Berlin" in shown
    assert "training" in shown
    decided = await click(env.chat, action(card, "Approve"), ALEX)
    assert "Approved by Alex Approver" in text_of(decided)
    keeps = await env.rt.store.call(env.rt.store.keep_ons.in_force, env.rt.clock())
    assert [(k.instance, k.state) for k in keeps] == [("gpu-ci", KeepOnState.ACTIVE)]
    await env.settle()
    assert (
        env.inbox.texts_for(DANA)[-1]
        == "Alex Approver approved keeping gpu-ci on until Sat 5 Dec 00:00 Europe/Berlin."
    )
    assert env.fleet.creates == []
    mine = text_of((await say(env.chat, "my requests"))[0].card)
    assert "keep gpu-ci (demo) on: **approved**" in mine


async def test_a_rejected_keep_on_stops_holding_and_the_requester_is_told(env: Env) -> None:
    await say(env.chat, "keep gpu-ci until Friday")
    await env.settle()
    await click(env.chat, action(env.inbox.cards_for(MORGAN)[0], "Reject"), MORGAN, comment="not that long")
    assert await env.rt.store.call(env.rt.store.keep_ons.in_force, env.rt.clock()) == []
    await env.settle()
    assert env.inbox.texts_for(DANA)[-1] == (
        "Morgan Manager rejected keeping gpu-ci on until Sat 5 Dec 00:00 Europe/Berlin: not that long. "
        "The curfew applies to it again."
    )


async def test_pending_requests_expire_after_pending_days_with_a_notice(env: Env) -> None:
    await env.request()
    env.rt.clock.now = SUNDAY + timedelta(days=6)  # type: ignore[attr-defined]
    assert await env.approvals.expire_pending() == 0
    env.rt.clock.now = SUNDAY + timedelta(days=7, minutes=1)  # type: ignore[attr-defined]
    assert await env.approvals.expire_pending() == 1
    assert await env.approvals.expire_pending() == 0
    await env.settle()
    assert (await env.request_row()).state == "expired"
    assert env.inbox.texts_for(DANA)[-1] == (
        "Nobody decided on request #1 for dana-gpu in demo within 7 days, so it expired. You can ask again."
    )
    assert all("Expired: nobody decided within 7 days" in text_of(r.card) for _, _, r in env.inbox.updates)
    late = await click(env.chat, action(env.inbox.cards_for(ALEX)[0], "Approve"), ALEX)
    assert "This request expired without a decision, so I cannot approve it." in text_of(late)


async def test_the_approvals_channel_gets_one_card_when_its_conversation_is_stored(
    sqlite_store: Store, clock: FakeClock
) -> None:
    channel = "19:approvals@thread.tacv2"
    env = make_env(sqlite_store, clock, teams={"approvals_channel": channel})
    ref = ConversationRef(channel, TENANT, "Approvals", {"conversation": {"id": channel}}, None, SUNDAY)
    await env.rt.store.call(env.rt.store.conversations.upsert, ref)
    await env.request()
    assert len(env.inbox.cards_for(channel)) == 1 and env.inbox.cards_for(ALEX) == []
    await click(env.chat, action(env.inbox.cards_for(channel)[0], "Approve"), ALEX)
    await env.settle()
    assert env.inbox.updates[0][:2] == (channel, "a1")


async def test_an_action_submit_fallback_click_rewrites_the_card_it_came_from(env: Env) -> None:
    await env.request()
    fallback = action(env.inbox.cards_for(ALEX)[0], "Reject")["fallback"]
    inbound = Inbound(
        InboundKind.MESSAGE,
        ALEX,
        NAMES[ALEX],
        TENANT,
        "c",
        value={**fallback["data"], "comment": "later"},
        reply_to_id="a1",
    )
    replies = await env.chat.conversation.on_message(inbound)
    assert replies[0].update_activity_id == "a1"
    assert "Rejected by Alex Approver: later" in text_of(replies[0].card)
    assert (await env.request_row()).state == "rejected"


async def test_unreachable_approvers_leave_the_request_waiting_and_the_requester_told(env: Env) -> None:
    env.inbox.unreachable = {ALEX, MORGAN}
    await env.request()
    assert (await env.request_row()).state == "pending"
    assert env.inbox.texts_for(DANA) == [
        "I could not reach any approver of demo about request #1, so it waits. Ask them to open Curfew in "
        "Teams, or ask a workspace admin to add approvers."
    ]
    assert ("curfew", "request route", "unreachable") in await audit(env.rt, "dana-gpu")


async def test_a_keep_on_nobody_decides_expires_with_its_request(env: Env) -> None:
    await say(env.chat, "keep gpu-ci until Friday")
    await env.settle()
    env.rt.clock.now = SUNDAY + timedelta(days=7)  # type: ignore[attr-defined]
    assert await env.approvals.expire_pending() == 1
    await env.settle()
    keep = await env.rt.store.call(env.rt.store.keep_ons.get, 1)
    assert keep is not None and keep.state is KeepOnState.EXPIRED
    assert env.inbox.texts_for(DANA)[-1].startswith("Nobody decided on keeping gpu-ci on within 7 days")


async def test_a_malformed_or_foreign_payload_changes_nothing(env: Env) -> None:
    await env.request()
    for value in ({"verb": "request_approve"}, {"verb": "request_approve", "request": "7"}):
        answer = await click(env.chat, {"verb": "request_approve", "data": value}, ALEX)
        assert "did nothing" in text_of(answer)
    keep_verb = await click(
        env.chat, {"verb": "keep_approve", "data": {"verb": "keep_approve", "request": 1}}, ALEX
    )
    assert "I know no such request (#1)" in text_of(keep_verb)
    assert (await env.request_row()).state == "pending"


async def test_without_approvals_wired_the_commands_say_so(demo: tuple[Runtime, FleetSpy]) -> None:
    rt, spy = demo
    chat = build_bot(
        rt, lambda: None, followups=FollowUps(spy, rt.store, rt.clock, lambda: None), with_requests=False
    )
    replies = await say(chat, "request an instance")
    assert replies[0].text == "Requests for compute instances are not switched on in this Curfew."
