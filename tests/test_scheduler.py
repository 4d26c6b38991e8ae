"""The scheduler: trigger configuration by inspection, exactly-once claims, catch-up and recovery.

No test waits for a trigger to fire: each calls the job function with a given `now`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from apscheduler.triggers.cron import CronTrigger

from runtime import Runtime
from scheduler.notify import LoggingNotifier
from scheduler.service import CurfewScheduler
from storage.ledger import RunState
from storage.repositories import Store
from tests.conftest import FakeClock
from tests.sweep_fixtures import FleetSpy, demo_runtime, demo_settings

CURFEW = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)  # Tue 1 Dec 00:00 Europe/Berlin
ZONE = "Europe/Berlin"


def scheduler(rt: Runtime, owner: str) -> CurfewScheduler:
    return CurfewScheduler(rt, LoggingNotifier(), owner=owner)


def fields(trigger: CronTrigger) -> dict[str, str]:
    return {f.name: str(f) for f in trigger.fields}


def test_triggers_per_zone_with_stable_ids(demo: tuple[Runtime, FleetSpy]) -> None:
    rt, _ = demo
    triggers = scheduler(rt, "a").triggers()
    assert set(triggers) == {
        f"warning:{ZONE}",
        f"curfew:{ZONE}",
        f"morning:{ZONE}",
        f"digest:{ZONE}",
        f"idle:{ZONE}",
        f"lifecycle:{ZONE}",
        "recover",
    }
    curfew, warning, morning = (triggers[f"{k}:{ZONE}"] for k in ("curfew", "warning", "morning"))
    assert (
        isinstance(curfew, CronTrigger)
        and isinstance(warning, CronTrigger)
        and isinstance(morning, CronTrigger)
    )
    assert str(curfew.timezone) == ZONE
    assert (fields(curfew)["hour"], fields(curfew)["minute"]) == ("0", "0")
    assert (fields(warning)["hour"], fields(warning)["minute"]) == ("23", "30")
    assert fields(warning)["day_of_week"] == "sun,mon,tue,wed,thu,fri,sat"  # the evening before each curfew
    assert (fields(morning)["hour"], fields(morning)["day_of_week"]) == ("8", "mon,tue,wed,thu,fri")
    assert curfew.get_next_fire_time(None, CURFEW - timedelta(minutes=1)) == CURFEW
    idle = triggers[f"idle:{ZONE}"]
    assert isinstance(idle, CronTrigger) and str(idle.timezone) == ZONE
    assert (fields(idle)["hour"], fields(idle)["minute"], fields(idle)["day_of_week"]) == ("12", "0", "*")
    life = triggers[f"lifecycle:{ZONE}"]
    assert isinstance(life, CronTrigger) and str(life.timezone) == ZONE
    assert (fields(life)["hour"], fields(life)["minute"], fields(life)["day_of_week"]) == ("10", "0", "*")


def test_a_2330_curfew_warns_the_same_day(sqlite_store: Store, clock: FakeClock) -> None:
    rt, _ = demo_runtime(sqlite_store, clock, demo_settings(stop_at="23:30", days=["mon", "fri"]))
    warning = scheduler(rt, "a").triggers()[f"warning:{ZONE}"]
    assert isinstance(warning, CronTrigger)
    assert (fields(warning)["hour"], fields(warning)["minute"], fields(warning)["day_of_week"]) == (
        "23",
        "0",
        "mon,fri",
    )


async def test_two_schedulers_run_one_curfew_once(sqlite_store: Store, clock: FakeClock) -> None:
    clock.now = CURFEW + timedelta(seconds=1)
    rt, spy = demo_runtime(sqlite_store, clock)
    first, second = scheduler(rt, "replica-1"), scheduler(rt, "replica-2")
    claim = await first.run("curfew", ZONE)
    assert claim is not None and claim.scheduled_for == CURFEW
    assert await second.run("curfew", ZONE) is None
    assert sorted(spy.writes("stop")) == ["alex-gpu", "cpu-ci", "gpu-ci"]  # each exactly once
    record = await rt.store.call(rt.store.runs.get, f"curfew:{ZONE}", CURFEW)
    assert record is not None and record.state is RunState.DONE and "3 stopped" in (record.summary or "")


async def test_catch_up_runs_a_missed_curfew_only_within_the_window(
    sqlite_store: Store, clock: FakeClock
) -> None:
    clock.now = CURFEW + timedelta(minutes=119)
    rt, spy = demo_runtime(sqlite_store, clock)
    claims = await scheduler(rt, "restarted").catch_up()
    assert [c.schedule_id for c in claims] == [f"curfew:{ZONE}"]
    assert len(spy.writes("stop")) == 3

    clock.now = CURFEW + timedelta(days=1, minutes=121)  # the next night, too late
    rt2, spy2 = demo_runtime(sqlite_store, clock)
    assert await scheduler(rt2, "late").catch_up() == []
    assert spy2.writes("stop") == []


async def test_catch_up_sends_a_missed_warning_before_the_curfew(
    sqlite_store: Store, clock: FakeClock
) -> None:
    clock.now = CURFEW - timedelta(minutes=10)
    rt, _ = demo_runtime(sqlite_store, clock)
    claims = await scheduler(rt, "restarted").catch_up()
    assert [c.schedule_id for c in claims] == [f"warning:{ZONE}"]
    events = await rt.store.call(rt.store.audit.since, CURFEW - timedelta(hours=1))
    assert {e.instance for e in events if e.action == "warning"} == {"gpu-ci", "cpu-ci", "alex-gpu"}


async def test_a_run_left_half_way_by_a_dead_process_is_finished(
    sqlite_store: Store, clock: FakeClock
) -> None:
    clock.now = CURFEW + timedelta(seconds=2)
    rt, spy = demo_runtime(sqlite_store, clock)
    dead = await rt.store.call(rt.store.runs.claim, f"curfew:{ZONE}", CURFEW, "dead:1", clock.now)
    assert dead is not None
    survivor = scheduler(rt, "survivor:2")
    assert await survivor.recover() == []  # the lease has not lapsed yet
    assert await survivor.run("curfew", ZONE) is None
    clock.advance(seconds=rt.settings.curfew.run_lease_seconds + 1)
    finished = await survivor.recover()
    assert [c.owner for c in finished] == ["survivor:2"] and finished[0].resumed
    assert len(spy.writes("stop")) == 3
    record = await rt.store.call(rt.store.runs.get, f"curfew:{ZONE}", CURFEW)
    assert record is not None and record.state is RunState.DONE and record.attempts == 2


async def test_a_failing_job_is_audited_and_never_raised(demo: tuple[Runtime, FleetSpy]) -> None:
    rt, _ = demo
    rt.clock.now = CURFEW + timedelta(seconds=1)  # type: ignore[attr-defined]

    def explode(*args: object) -> list[object]:  # the keep-ons cannot be read: no instance can be decided
        raise RuntimeError("database on fire")

    rt.store.keep_ons.in_force = explode  # type: ignore[method-assign,assignment]
    await scheduler(rt, "a")._guarded(f"curfew:{ZONE}", "curfew", ZONE)
    events = await rt.store.call(rt.store.audit.since, CURFEW - timedelta(1))
    assert [(e.action, e.outcome) for e in events] == [(f"curfew:{ZONE}", "failed")]
    assert "database on fire" in events[0].reason
    record = await rt.store.call(rt.store.runs.get, f"curfew:{ZONE}", CURFEW)
    assert record is not None and record.state is RunState.FAILED


async def test_the_service_starts_and_stops_the_scheduler(demo: tuple[Runtime, FleetSpy]) -> None:
    rt, _ = demo
    curfews = scheduler(rt, "a")
    await curfews.start()
    assert curfews.running
    await curfews.shutdown()
    assert not curfews.running


async def test_owners_morning_times_get_their_own_jobs(demo: tuple[Runtime, FleetSpy]) -> None:
    from datetime import time

    from domain.model import MorningStart

    rt, spy = demo
    curfews = scheduler(rt, "a")
    await rt.store.call(rt.store.mornings.set, MorningStart("demo", "old-ci", True, time(7, 30)), "u", CURFEW)
    assert f"morning:{ZONE}@07:30" in curfews.triggers({time(7, 30)})
    await curfews.start()
    try:
        assert f"morning:{ZONE}@07:30" in {job.id for job in curfews._scheduler.get_jobs()}
    finally:
        await curfews.shutdown()
    rt.clock.now = datetime(2026, 11, 30, 6, 30, 10, tzinfo=UTC)  # type: ignore[attr-defined]  # Mon 07:30 Berlin
    claim = await curfews.run("morning", f"{ZONE}@07:30")
    assert claim is not None and claim.schedule_id == f"morning:{ZONE}@07:30"
    assert spy.writes("start") == ["old-ci"]
