"""The weekly digest: its trigger by inspection, its content (charts with table fallbacks, the week's
stops, keep-ons, unreachable owners, failed stops), its size, and exactly once with two replicas."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger

from bot.cards.money import MAX_LINES, money_card
from bot.flows.notifier import TeamsNotifier
from compute.port import Unavailable
from config.settings import ConfigError, Settings, load_settings
from domain.model import InstanceKey, KeepOnState
from domain.money import Money, Span
from domain.money_report import EntryKind, MoneyView, Period, Priced, build_report
from runtime import Runtime
from scheduler.notify import LoggingNotifier
from scheduler.service import CurfewScheduler
from scheduler.sweep import Sweeper
from storage.models import SimInstanceRow
from storage.repositories import AuditEvent, ConversationRef, NewKeepOn, Store
from tests.conftest import FakeClock
from tests.sweep_fixtures import DEMO_OWNER, demo_runtime, demo_settings
from tests.test_warning_card import Inbox

ZONE = "Europe/Berlin"
ALEX = "00000000-0000-0000-0000-000000000021"
ADMIN = "00000000-0000-0000-0000-000000000025"
CURFEW = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)  # Tue 1 Dec 00:00 Europe/Berlin
DIGEST = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)  # Mon 7 Dec 09:00 Europe/Berlin


def admin_runtime(store: Store, clock: FakeClock, **settings: Any) -> tuple[Runtime, Any, Inbox]:
    base = demo_settings().model_dump()
    base.update({"demo_admins": [ADMIN], **settings})
    rt, spy = demo_runtime(store, clock, Settings.model_validate(base))
    inbox = Inbox()
    return rt, spy, inbox


def fields(trigger: Any) -> dict[str, str]:
    assert isinstance(trigger, CronTrigger)
    return {f.name: str(f) for f in trigger.fields}


def test_the_digest_runs_weekly_in_each_zone_at_the_configured_time(
    sqlite_store: Store, clock: FakeClock
) -> None:
    rt, _, _ = admin_runtime(sqlite_store, clock)
    monday = CurfewScheduler(rt, LoggingNotifier()).triggers()[f"digest:{ZONE}"]
    assert (fields(monday)["day_of_week"], fields(monday)["hour"], fields(monday)["minute"]) == (
        "mon",
        "9",
        "0",
    )
    assert str(monday.timezone) == ZONE  # type: ignore[attr-defined]
    assert monday.get_next_fire_time(None, DIGEST - timedelta(minutes=1)) == DIGEST
    rt2, _, _ = admin_runtime(sqlite_store, clock, report={"weekly_at": "fri 17:30"})
    friday = CurfewScheduler(rt2, LoggingNotifier()).triggers()[f"digest:{ZONE}"]
    assert (fields(friday)["day_of_week"], fields(friday)["hour"], fields(friday)["minute"]) == (
        "fri",
        "17",
        "30",
    )


async def a_week(rt: Runtime, spy: Any) -> None:
    """A curfew that stops Dana's and Alex's instances (one stop fails), an unreachable owner, a keep-on."""
    rt.clock.now = CURFEW  # type: ignore[attr-defined]
    spy.failing[("demo", "alex-gpu")] = Unavailable("Azure could not be reached for workspace demo.")
    await Sweeper(rt).curfew(now=CURFEW)
    warned = AuditEvent(
        CURFEW - timedelta(minutes=30),
        "curfew",
        "warning",
        "unreachable",
        f"to {ALEX}: stops at 00:00 (403 MessageWritesBlocked)",
        "demo",
        "alex-gpu",
    )
    await rt.store.call(rt.store.audit.record, warned)
    alex = ConversationRef(ALEX, "t", "Alex Approver", {}, None, CURFEW - timedelta(days=1))
    await rt.store.call(rt.store.conversations.upsert, alex)  # Alex talked to Curfew once: his name is known
    end = (InstanceKey("demo", "train-ci"), None, None, DEMO_OWNER, CURFEW)
    await rt.store.call(rt.store.life.set_end, *end)  # no end date: a keep-on past the demo's end is cut
    kept = NewKeepOn(
        "demo",
        "train-ci",
        DEMO_OWNER,
        DIGEST - timedelta(days=1),
        DIGEST + timedelta(days=2),
        "long training",
        DEMO_OWNER,
        "Dana Scientist",
        KeepOnState.ACTIVE,
    )
    await rt.store.call(rt.store.keep_ons.add, kept, DIGEST - timedelta(days=1))


def texts(card: dict[str, Any]) -> str:
    return json.dumps(card, ensure_ascii=False)


async def test_the_digest_card_tells_the_admins_what_the_week_saved(
    sqlite_store: Store, clock: FakeClock
) -> None:
    rt, spy, inbox = admin_runtime(sqlite_store, clock)
    await a_week(rt, spy)
    stopped_by_azure(sqlite_store, "old-ci", "User", DIGEST - timedelta(days=41))  # stale: the sprawl section
    rt.clock.now = DIGEST + timedelta(seconds=5)  # type: ignore[attr-defined]
    claim = await CurfewScheduler(rt, TeamsNotifier(rt.settings, inbox, rt.clock), owner="a").run(
        "digest", ZONE
    )
    assert claim is not None and claim.scheduled_for == DIGEST
    [card] = inbox.cards_for(ADMIN)
    body = {b.get("type"): b for b in card["body"]}
    shown = texts(card)
    assert card["body"][0]["text"] == "Curfew's week: demo"
    assert "Mon 30 Nov 09:00 Europe/Berlin to Mon 7 Dec 09:00 Europe/Berlin" in shown
    assert "Simulated prices" in shown
    saved = GPU_H * (24 * 6 + 9) + CPU_H * (24 * 6 + 9)  # Tue 00:00 to Mon 09:00, never started again
    assert f"USD {saved:,.2f} (306.0 h stopped)" in shown
    assert "2 over 1 night(s)" in shown and "night of Mon 30 Nov: 2" in shown
    bars = body["Chart.VerticalBar"]
    assert [d["x"] for d in bars["data"]] == [
        "Mon 30 Nov",
        "Tue 1 Dec",
        "Wed 2 Dec",
        "Thu 3 Dec",
        "Fri 4 Dec",
        "Sat 5 Dec",
        "Sun 6 Dec",
        "Mon 7 Dec",
    ]
    assert bars["data"][1]["y"] == 80.47  # (3.06 + 0.293) * 24 h, to the cent
    fallback = bars["fallback"]  # the same numbers as a table, for a client without charts
    assert fallback["type"] == "Table" and len(fallback["rows"]) == 1 + len(bars["data"])
    assert [c["items"][0]["text"] for c in fallback["rows"][2]["cells"]] == ["Tue 1 Dec", "80.47"]
    donut = body["Chart.Donut"]
    assert donut["data"][0]["legend"] == "demo" and donut["fallback"]["type"] == "Table"
    assert "**Saved per day (USD)**" in shown and "**Cost by workspace (USD, estimated)**" in shown
    assert "Most expensive instances" in shown and "**train-ci** (demo, Standard_NC6s_v3" in shown
    assert "**train-ci** (demo) until Wed 9 Dec 09:00 Europe/Berlin by Dana Scientist: long training" in shown
    assert "**alex-gpu** (demo): owner Alex Approver, " in shown  # could not be warned: named, no GUID
    sprawl = shown[shown.index("Stale instances and instances without an end date") :]
    assert "**old-ci** (demo), owner Dana Scientist: stopped 41 days" in sprawl  # by Azure's last operation
    assert "Alex Approver: no end date on alex-gpu (demo)" in sprawl
    assert (
        "Dana Scientist: no end date on cpu-ci (demo), gpu-ci (demo), old-ci (demo), train-ci (demo)"
        in sprawl
    )
    assert ALEX not in shown and DEMO_OWNER not in shown
    assert not re.search(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", shown
    )  # no bare GUID
    assert "**alex-gpu** (demo) at Tue 1 Dec 00:00 Europe/Berlin" in shown and "could not be reached" in shown
    assert len(shown.encode()) < 80_000
    audit = [e for e in await rt.store.call(rt.store.audit.since, DIGEST) if e.action == "digest"]
    assert [(e.outcome, e.reason.startswith(f"to {ADMIN}: saved USD")) for e in audit] == [("sent", True)]


GPU_H, CPU_H = Decimal("3.06"), Decimal("0.293")


async def test_two_replicas_send_the_digest_once_a_week(sqlite_store: Store, clock: FakeClock) -> None:
    rt, _, inbox = admin_runtime(sqlite_store, clock)
    rt.clock.now = DIGEST + timedelta(seconds=1)  # type: ignore[attr-defined]
    first, second = (
        CurfewScheduler(rt, TeamsNotifier(rt.settings, inbox, rt.clock), owner=o)
        for o in ("replica-1", "replica-2")
    )
    claims = await asyncio.gather(first.run("digest", ZONE), second.run("digest", ZONE))
    assert sorted(c is not None for c in claims) == [False, True]
    assert len(inbox.cards_for(ADMIN)) == 1
    rt.clock.now = DIGEST + timedelta(hours=1)  # type: ignore[attr-defined]
    assert await second.run("digest", ZONE) is None  # a restart within the hour: the week's digest is done
    caught = [c.schedule_id for c in await second.catch_up()]
    assert caught == [f"morning:{ZONE}", f"lifecycle:{ZONE}"]  # no second digest (lifecycle is at 10:00)
    rt.clock.now = DIGEST + timedelta(days=7)  # type: ignore[attr-defined]
    assert await second.run("digest", ZONE) is not None and len(inbox.cards_for(ADMIN)) == 2


async def test_without_admins_no_digest_is_sent(sqlite_store: Store, clock: FakeClock) -> None:
    rt, _ = demo_runtime(sqlite_store, clock)
    inbox = Inbox()
    rt.clock.now = DIGEST  # type: ignore[attr-defined]
    claim = await CurfewScheduler(rt, TeamsNotifier(rt.settings, inbox, rt.clock)).run("digest", ZONE)
    record = await rt.store.call(rt.store.runs.get, f"digest:{ZONE}", DIGEST)
    assert claim is not None and inbox.sent == []
    assert record is not None and (record.summary or "").startswith("no admin to send the digest of demo to")


def test_a_digest_of_many_instances_stays_under_80_kb() -> None:
    zone = ZoneInfo(ZONE)
    period = Period(DIGEST - timedelta(days=30), DIGEST, zone, "the last 30 days")
    price = Money(Decimal("3.06"), "USD")
    entries, ran = [], []
    for n in range(1500):
        start = period.since + timedelta(hours=n % 700)
        span = Span(start, start + timedelta(hours=9), True)
        owner = f"00000000-0000-0000-0000-{n:012d}"
        entries.append(Priced(f"team-{n % 40}", f"ci-{n:04d}", "Standard_NC6s_v3", owner, span, price, False))
        kept = Priced(
            f"team-{n % 40}", f"ci-{n:04d}", "Standard_NC6s_v3", owner, span, price, False, EntryKind.KEPT
        )
        entries.append(kept)
        ran.append(Priced(f"team-{n % 40}", f"ci-{n:04d}", "Standard_NC6s_v3", owner, span, price))
    report = build_report(period, entries, ran)
    lines = [
        f"**ci-{n:04d}** (team-a) until soon by someone: a reason that is rather long" for n in range(900)
    ]
    card = money_card(MoneyView("Curfew's week", report, zone, lines, lines, lines, True, True))
    size = len(json.dumps(card).encode())
    assert size < 80_000, size
    assert f"…and {900 - MAX_LINES} more" in json.dumps(card, ensure_ascii=False)
    assert len(next(b for b in card["body"] if b["type"] == "Chart.VerticalBar")["data"]) == 31


def test_weekly_at_is_a_weekday_and_a_time(tmp_path: Path) -> None:
    assert Settings.model_validate({"report": {"weekly_at": "Friday 17:30"}}).report.weekly_at == "fri 17:30"
    assert Settings.model_validate({}).report.weekly_at == "mon 09:00"
    config = tmp_path / "curfew.yaml"
    for bad in ("9:00", "someday 09:00", "mon 9:00", "mon 24:00"):
        config.write_text(f"report: {{weekly_at: '{bad}'}}\n")
        with pytest.raises(ConfigError) as refused:
            load_settings(config, env={})
        assert refused.value.problems == [
            'report.weekly_at: expected a weekday and a time of day such as "mon 09:00"'
        ]
    config.write_text("report: {weekly: mon 09:00}\n")
    with pytest.raises(ConfigError) as unknown:
        load_settings(config, env={})
    assert unknown.value.problems[0].startswith("report.weekly: unknown key")


def stopped_by_azure(store: Store, name: str, trigger: str, at: datetime) -> None:
    """Azure stops a demo instance by itself (its idle shutdown, or its own schedule)."""
    with store.sessions.begin() as session:
        row = session.get(SimInstanceRow, ("demo", name))
        assert row is not None
        row.state = "Stopped"
        row.last_operation = {
            "operationName": "Stop",
            "operationTime": at.isoformat().replace("+00:00", "Z"),
            "operationStatus": "Succeeded",
            "operationTrigger": trigger,
        }


async def test_the_digest_shows_savings_by_who_stopped_and_counts_only_curfew_and_idle_shutdown(
    sqlite_store: Store, clock: FakeClock
) -> None:
    rt, spy, inbox = admin_runtime(sqlite_store, clock)
    await a_week(rt, spy)  # the curfew stops gpu-ci and cpu-ci; alex-gpu's stop fails; train-ci has a job
    stopped_by_azure(sqlite_store, "alex-gpu", "IdleShutdown", CURFEW + timedelta(hours=2))
    stopped_by_azure(sqlite_store, "train-ci", "Schedule", CURFEW + timedelta(days=1))
    rt.clock.now = DIGEST + timedelta(seconds=5)  # type: ignore[attr-defined]

    await CurfewScheduler(rt, TeamsNotifier(rt.settings, inbox, rt.clock), owner="a").run("digest", ZONE)

    [card] = inbox.cards_for(ADMIN)
    shown = texts(card)
    curfew = GPU_H * (24 * 6 + 9) + CPU_H * (24 * 6 + 9)
    idle = GPU_H * (24 * 6 + 7)  # alex-gpu, from 02:00 Tuesday (Berlin) to the digest
    schedule = GPU_H * (24 * 5 + 9)  # train-ci, from Wednesday 00:00
    assert "Saved by who stopped it" in shown
    assert f"the curfew: USD {curfew:,.2f} (Curfew's)" in shown
    assert f"idle shutdown: USD {idle:,.2f} (Curfew's)" in shown
    assert f"own schedules: USD {schedule:,.2f} (not Curfew's)" in shown
    assert f"USD {curfew + idle:,.2f} (457.0 h stopped)" in shown  # Curfew's total leaves out the schedule's
    assert "2 over 1 night(s)" in shown  # the nights count the curfew's stops only
