"""Issue 13, finding 5: a heartbeat error is retried; a replica that lost its lease stops its run.

The heartbeat's sleep is a queue the test feeds (one item, one beat) and the clock is a fake one, so
nothing here waits on wall-clock time to pass; the timeouts are hang guards only.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from domain.model import Instance
from runtime import Runtime
from scheduler.notify import LoggingNotifier
from scheduler.service import CurfewScheduler, LeaseLost
from storage.ledger import RunState
from storage.repositories import Store
from tests.conftest import FakeClock
from tests.sweep_fixtures import FleetSpy, demo_runtime
from tests.test_scheduler import CURFEW, ZONE

HANG = 10


class Beats:
    """The heartbeat's sleep: each `tick()` lets one beat happen."""

    def __init__(self) -> None:
        self._ticks: asyncio.Queue[None] = asyncio.Queue()

    async def sleep(self, _seconds: float) -> None:
        await self._ticks.get()

    def tick(self) -> None:
        self._ticks.put_nowait(None)


class GatedFleet(FleetSpy):
    """Reads of the fleet wait until the gate opens: a replica caught half-way through its run."""

    gate: asyncio.Event
    waiting: int = 0

    async def list_instances(self, workspace: str | None = None) -> list[Instance]:
        self.waiting += 1
        await self.gate.wait()
        return await super().list_instances(workspace)


async def test_a_failed_heartbeat_is_retried_and_the_run_finishes(
    sqlite_store: Store, clock: FakeClock
) -> None:
    clock.now = CURFEW + timedelta(seconds=2)
    rt, _ = demo_runtime(sqlite_store, clock)
    beats = Beats()
    sched = CurfewScheduler(rt, LoggingNotifier(), owner="a", sleep=beats.sleep)
    runs, original = rt.store.runs, rt.store.runs.heartbeat
    results: list[Any] = []
    beaten = asyncio.Event()

    def heartbeat(claim: Any, now: Any) -> bool:
        if not results:
            results.append("error")
            raise ConnectionError("the database is restarting")
        results.append(ok := original(claim, now))
        beaten.set()
        return ok

    runs.heartbeat = heartbeat  # type: ignore[method-assign]
    real_curfew = sched._sweeper.curfew

    async def curfew_after_two_beats(**kwargs: Any) -> Any:
        beats.tick()  # the first beat fails
        clock.advance(seconds=60)
        beats.tick()  # the second is retried
        await asyncio.wait_for(beaten.wait(), HANG)
        return await real_curfew(**kwargs)

    sched._sweeper.curfew = curfew_after_two_beats  # type: ignore[method-assign]
    claim = await sched.run("curfew", ZONE)
    assert claim is not None and results == ["error", True]
    record = await rt.store.call(rt.store.runs.get, f"curfew:{ZONE}", CURFEW)
    assert record is not None and record.state is RunState.DONE


async def test_a_replica_that_lost_its_lease_stops_its_run(sqlite_store: Store, clock: FakeClock) -> None:
    clock.now = CURFEW + timedelta(seconds=2)
    rt_a, spy = demo_runtime(sqlite_store, clock)
    fleet_a = GatedFleet(spy.inner)
    fleet_a.gate = asyncio.Event()
    rt_a = Runtime(rt_a.settings, sqlite_store, fleet_a, clock)
    beats = Beats()
    a = CurfewScheduler(rt_a, LoggingNotifier(), owner="a", sleep=beats.sleep)
    run_a = asyncio.ensure_future(a.run("curfew", ZONE))
    for _ in range(500):  # until A is half-way: it has claimed the run and reads the fleet
        if fleet_a.waiting:
            break
        await asyncio.sleep(0.01)
    assert fleet_a.waiting

    clock.advance(seconds=rt_a.settings.curfew.run_lease_seconds + 1)  # A's beats did not get through
    fleet_b = FleetSpy(spy.inner)
    b = CurfewScheduler(Runtime(rt_a.settings, sqlite_store, fleet_b, clock), LoggingNotifier(), owner="b")
    assert [c.owner for c in await b.recover()] == ["b"]
    assert sorted(fleet_b.writes("stop")) == ["alex-gpu", "cpu-ci", "gpu-ci"]

    beats.tick()  # A's next beat learns that B holds the claim
    await asyncio.wait({run_a}, timeout=HANG)
    fleet_a.gate.set()  # had A run on, it would go on from here
    with pytest.raises(LeaseLost):
        await asyncio.wait_for(run_a, HANG)
    assert fleet_a.writes("stop") == []
    record = await sqlite_store.call(sqlite_store.runs.get, f"curfew:{ZONE}", CURFEW)
    assert record is not None and record.state is RunState.DONE and record.claimed_by == "b"
    audit = await sqlite_store.call(sqlite_store.audit.since, CURFEW - timedelta(1))
    curfew_events = [e for e in audit if e.action == "curfew"]
    assert len(curfew_events) == 6  # B's, once per instance (the demo has six); none from A
