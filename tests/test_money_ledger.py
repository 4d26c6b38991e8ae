"""The savings ledger through the sweep on the simulated fleet: each stop saves until the instance next
runs (a start by anyone, a morning start), keep-ons cost until they end, dry runs record nothing; and
the money in the cards people decide on: status, warning, keep confirmation, request and approval."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from bot.conversation.router import Conversation
from bot.flows.approvals import Approvals  # registers the request commands
from bot.flows.followups import FollowUps
from bot.flows.notifier import TeamsNotifier
from bot.turns import Inbound, InboundKind, Reply
from compute.port import Unavailable
from compute.prices import PriceBook
from domain.model import MorningStart
from domain.money_report import EntryKind
from runtime import Runtime
from scheduler.digest import Audience, MoneyReports, period_for
from scheduler.sweep import Sweeper
from scheduler.warnings import Warner
from storage.repositories import NewKeepOn
from tests.bot_harness import words
from tests.sweep_fixtures import DEMO_OWNER, FleetSpy
from tests.test_warning_card import Inbox
from wiring import build_bot

CURFEW = datetime(
    2026, 11, 30, 23, 0, tzinfo=UTC
)  # Tue 1 Dec 00:00 Europe/Berlin (the demo is seeded at 22:00)
GPU, CPU = Decimal("3.06"), Decimal("0.293")
assert Approvals


async def entries(rt: Runtime, now: datetime) -> dict[tuple[str, str], Any]:
    found = await rt.store.call(rt.store.money.entries, now - timedelta(days=30), now, now)
    return {(e.kind.value, e.instance): e for e in found}


async def owner_report(rt: Runtime, now: datetime) -> Any:
    reports = MoneyReports(rt)
    period = period_for("week", now, rt.settings.policy("demo").zone)
    return await reports.ledger.report(period, now, Audience(owner=DEMO_OWNER).sees)


async def test_a_stop_saves_until_the_next_start_and_a_stopped_one_counts_up_to_now(
    demo: tuple[Runtime, FleetSpy],
) -> None:
    rt, _ = demo
    rt.clock.now = CURFEW  # type: ignore[attr-defined]
    await Sweeper(rt).curfew(now=CURFEW)
    found = await entries(rt, CURFEW + timedelta(minutes=1))
    assert {k for k in found} == {("saved", "gpu-ci"), ("saved", "cpu-ci"), ("saved", "alex-gpu")}
    assert found[("saved", "gpu-ci")].per_hour.amount == GPU and found[("saved", "gpu-ci")].simulated

    rt.clock.now = CURFEW + timedelta(hours=8, minutes=30)  # type: ignore[attr-defined]
    await rt.fleet.start("demo", "gpu-ci")  # Dana starts it at 08:30
    rt.clock.now = CURFEW + timedelta(hours=10)  # type: ignore[attr-defined]
    report = await owner_report(rt, rt.clock())
    mine = {i.instance: i for i in report.instances}
    assert mine["gpu-ci"].saved == {"USD": GPU * Decimal("8.5")}  # until it ran again
    assert mine["cpu-ci"].saved == {"USD": CPU * 10}  # not started again: up to now
    assert "alex-gpu" not in mine  # Alex's, not Dana's
    assert report.saved == {"USD": GPU * Decimal("8.5") + CPU * 10} and report.simulated
    closed = await entries(rt, rt.clock())
    assert closed[("saved", "gpu-ci")].span.closed and not closed[("saved", "cpu-ci")].span.closed


async def test_a_morning_start_ends_the_saving_and_costs_nothing(demo: tuple[Runtime, FleetSpy]) -> None:
    rt, _ = demo
    rt.clock.now = CURFEW  # type: ignore[attr-defined]
    await Sweeper(rt).curfew(now=CURFEW)
    await rt.store.call(rt.store.mornings.set, MorningStart("demo", "cpu-ci", True), DEMO_OWNER, CURFEW)
    morning = CURFEW + timedelta(hours=8)
    rt.clock.now = morning  # type: ignore[attr-defined]
    await Sweeper(rt).morning(now=morning)
    rt.clock.now = morning + timedelta(hours=3)  # type: ignore[attr-defined]
    found = await entries(rt, rt.clock())
    cpu = found[("saved", "cpu-ci")]
    assert cpu.span.closed and cpu.span.end == morning and cpu.span.hours == 8
    report = await owner_report(rt, rt.clock())
    assert {i.instance: i.saved for i in report.instances}["cpu-ci"] == {"USD": CPU * 8}
    assert report.kept == {}


async def test_a_keep_on_costs_from_the_curfew_it_skipped_until_it_ends(
    demo: tuple[Runtime, FleetSpy],
) -> None:
    rt, _ = demo
    before = CURFEW - timedelta(hours=1)
    keep = NewKeepOn(
        "demo",
        "gpu-ci",
        DEMO_OWNER,
        before,
        CURFEW + timedelta(hours=2),
        "demo",
        DEMO_OWNER,
        "Dana",
        *_active(),
    )
    await rt.store.call(rt.store.keep_ons.add, keep, before)
    rt.clock.now = CURFEW  # type: ignore[attr-defined]
    await Sweeper(rt).curfew(now=CURFEW)
    await Sweeper(rt).curfew(now=CURFEW)  # a second run does not count the same keep-on twice
    later = CURFEW + timedelta(hours=5)
    rt.clock.now = later  # type: ignore[attr-defined]
    report = await owner_report(rt, later)
    assert report.kept == {"USD": GPU * 2} and report.kept_hours == 2  # the 2 hours it was kept past 00:00
    kept = (await entries(rt, later))[("kept", "gpu-ci")]
    assert kept.kind is EntryKind.KEPT and kept.span.closed


async def test_a_dry_run_records_no_money(demo: tuple[Runtime, FleetSpy]) -> None:
    rt, _ = demo
    rt.clock.now = CURFEW  # type: ignore[attr-defined]
    await Sweeper(rt).curfew(now=CURFEW, dry_run=True)
    assert await entries(rt, CURFEW + timedelta(hours=1)) == {}


# -- the simulated "Done when": after a sweep and a later start, `report week` shows the saving --------


def inbound(words: str, user: str = DEMO_OWNER, **more: Any) -> Inbound:
    return Inbound(
        InboundKind.MESSAGE, user, "Dana", "t", "c", text=words, local_timezone="Europe/Berlin", **more
    )


def chat_for(rt: Runtime) -> Conversation:
    return build_bot(
        rt,
        lambda: None,
        followups=FollowUps(rt.fleet, rt.store, rt.clock, lambda: Inbox(), poll_seconds=0.01),
        with_requests=False,
    ).conversation


def said(replies: list[Reply]) -> str:
    return " ".join((r.text or "") + json.dumps(r.card or {}) for r in replies)


async def test_after_a_sweep_and_a_start_report_week_shows_the_saving_marked_simulated(
    demo: tuple[Runtime, FleetSpy],
) -> None:
    rt, _ = demo
    rt.clock.now = CURFEW  # type: ignore[attr-defined]
    await Sweeper(rt).curfew(now=CURFEW, forced=True, actor="operator:test")  # python app.py sweep
    rt.clock.now = CURFEW + timedelta(hours=9)  # type: ignore[attr-defined]
    chat = chat_for(rt)
    await rt.fleet.start("demo", "gpu-ci")
    rt.clock.now = CURFEW + timedelta(hours=10)  # type: ignore[attr-defined]
    [answer] = await chat.on_message(inbound("report week"))
    content = said([answer])
    assert "Your instances' money, the last 7 days" in content
    assert "Simulated prices: the demo fleet's own price list" in content
    assert "Saved by the curfew" in content and "USD 30.47 (19.0 h stopped)" in content  # 9 h GPU + 10 h CPU
    assert "**gpu-ci** (demo): saved USD 27.54 over 9.0 h" in content
    assert "alex-gpu" not in content
    assert {b["type"] for b in answer.card["body"]} >= {"Chart.VerticalBar"}  # type: ignore[index]


async def test_the_warning_card_says_what_each_keep_option_costs(demo: tuple[Runtime, FleetSpy]) -> None:
    rt, _ = demo
    rt.clock.now = CURFEW - timedelta(minutes=30)  # type: ignore[attr-defined]
    inbox = Inbox()
    notifier = TeamsNotifier(rt.settings, inbox, rt.clock, PriceBook(rt.fleet))
    assert (await Warner(rt, notifier).warn()).ok
    card = inbox.cards_for(DEMO_OWNER)[-1]
    rows = {
        row["items"][0]["text"].split("**")[1]: row["items"]
        for row in card["body"]
        if row["type"] == "Container"
    }
    line, options = rows["gpu-ci"][0]["text"], rows["gpu-ci"][1]["choices"]
    assert line.endswith(" · USD 3.06/h (simulated)")  # the one price format, simulated said once
    assert [o["title"] for o in options] == [
        "Keep 1 hour: USD 3.06",
        "Keep 2 hours: USD 6.12",
        "Keep tonight, to Wed 2 Dec 00:00: USD 73.44",  # 24 h to the following curfew
        "Stop now",
    ]
    until_form = rows["gpu-ci"][2]["actions"][1]["card"]
    assert until_form["body"][-1]["text"] == "Costs USD 3.06/h from the curfew."
    assert until_form["body"][0]["label"] == "Keep gpu-ci until (date, Europe/Berlin)"
    assert rows["cpu-ci"][1]["choices"][0]["title"] == "Keep 1 hour: USD 0.29"
    assert rows["cpu-ci"][0]["text"].endswith(" · USD 0.29/h (simulated)")


async def test_status_shows_each_price_and_the_cost_since_it_started(demo: tuple[Runtime, FleetSpy]) -> None:
    rt, _ = demo
    started = {i.name: i.last_started_at for i in await rt.fleet.list_instances()}
    rt.clock.now += timedelta(hours=1)  # type: ignore[attr-defined]
    [answer] = await chat_for(rt).on_message(inbound("status"))
    details = [d for b in answer.card["body"] if b.get("isVisible") is False for d in b["items"]]  # type: ignore[index]
    by_name = {d["text"].split("**")[1]: d["text"] for d in details}
    hours = (rt.clock() - started["gpu-ci"]) / timedelta(hours=1)  # type: ignore[operator]
    assert " · USD 3.06/h (simulated)  \nCost since started: " in by_name["gpu-ci"]
    assert f"Cost since started: USD {Decimal('3.06') * Decimal(hours):,.2f} since " in by_name["gpu-ci"]
    assert by_name["old-ci"].endswith("Cost since started: nothing now (Stopped)  \nEnd: no end date")
    [table] = [b for b in answer.card["body"] if b["type"] == "Table"]  # type: ignore[index]
    assert [c["items"][0]["text"] for c in table["rows"][2]["cells"]][::3] == ["gpu-ci", "3.06"]


async def test_the_keep_confirmation_states_the_estimated_cost(demo: tuple[Runtime, FleetSpy]) -> None:
    rt, _ = demo
    rt.clock.now = datetime(2026, 11, 29, 14, 0, tzinfo=UTC)  # type: ignore[attr-defined]
    [answer] = await chat_for(rt).on_message(inbound("keep cpu-ci tonight"))
    assert words(answer).endswith(
        "Estimated cost: USD 7.03 for 24 h past the curfew at USD 0.29/h (simulated)."
    )


async def test_the_request_form_and_the_approval_card_show_price_and_month(
    demo: tuple[Runtime, FleetSpy],
) -> None:
    rt, _ = demo
    rt.clock.now = datetime(2026, 11, 29, 14, 0, tzinfo=UTC)  # type: ignore[attr-defined]
    bot = build_bot(rt, lambda: Inbox(), poll_seconds=0.01)
    approvals, chat = bot.approvals, bot.conversation
    assert approvals is not None
    [form] = await chat.on_message(inbound("request a gpu instance"))
    shown = json.dumps(form.card)
    assert "What each size costs** in demo (simulated prices)" in shown
    assert (
        "Standard_NC6s_v3: USD 3.06/h (simulated); USD 2,233.80 a month if left on around the clock (730 h)"
        " (simulated)" in shown
    )
    request = await rt.store.call(
        rt.store.requests.add,
        requester_object_id=DEMO_OWNER,
        requester_tenant_id="t",
        requester_name="Dana",
        workspace="demo",
        name="gpu-new",
        size="Standard_NC6s_v3",
        purpose="fine-tuning",
        state="pending",
        created_at=rt.clock(),
        updated_at=rt.clock(),
        cards=[],
    )
    card = await approvals.approval_card(request)
    facts = {f["title"]: f["value"] for b in card["body"] if b["type"] == "FactSet" for f in b["facts"]}
    assert facts["Price"] == "USD 3.06/h (simulated)"
    assert facts["If never stopped"].startswith("USD 2,233.80 a month if left on around the clock (730 h)")


def _active() -> tuple[Any, ...]:
    from domain.model import KeepOnState

    return (KeepOnState.ACTIVE,)


async def test_without_prices_the_hours_still_count_and_the_amount_is_unknown(
    demo: tuple[Runtime, FleetSpy],
) -> None:
    rt, spy = demo

    async def no_prices(workspace: str) -> Any:
        raise Unavailable("Azure could not be reached for workspace demo.")

    spy.hourly_prices = no_prices  # type: ignore[method-assign]
    rt.clock.now = CURFEW  # type: ignore[attr-defined]
    report = await Sweeper(rt).curfew(now=CURFEW)
    assert report.ok  # money bookkeeping never fails a curfew
    rt.clock.now = CURFEW + timedelta(hours=2)  # type: ignore[attr-defined]
    found = await entries(rt, rt.clock())
    assert found[("saved", "gpu-ci")].per_hour is None
    money = await owner_report(rt, rt.clock())
    assert money.saved == {} and money.saved_hours == 4 and money.unpriced_hours >= 4  # gpu-ci and cpu-ci
