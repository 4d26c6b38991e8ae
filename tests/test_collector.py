"""ops.collector: no full collection while a sweep runs; thresholds restored when the last holder leaves."""

from __future__ import annotations

import gc
from dataclasses import dataclass, field

import pytest

from compute.port import ActionResult
from ops.collector import DEFERRED, deferring, no_full_collections
from runtime import Runtime
from scheduler.outcomes import OutcomeKind
from scheduler.sweep import Sweeper
from storage.repositories import Store
from tests.conftest import FakeClock
from tests.sweep_fixtures import FleetSpy, demo_runtime


def test_full_collections_wait_while_held_and_the_thresholds_come_back_after_the_last_holder() -> None:
    before = gc.get_threshold()
    with no_full_collections():
        assert gc.get_threshold() == (before[0], before[1], DEFERRED) and deferring()
        with no_full_collections():  # a delayed stop inside the curfew's run
            assert gc.get_threshold()[2] == DEFERRED
        assert gc.get_threshold()[2] == DEFERRED and deferring()  # the curfew still runs
    assert gc.get_threshold() == before and not deferring()


def test_the_thresholds_come_back_when_the_holder_fails() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), no_full_collections():
        raise RuntimeError("the night failed")
    assert gc.get_threshold() == before


@dataclass
class Noting(FleetSpy):
    """Notes, at each write, whether full collections were deferred then."""

    deferred: list[bool] = field(default_factory=list)

    async def _write(self, verb: str, workspace: str, name: str) -> ActionResult:
        self.deferred.append(deferring())
        return await super()._write(verb, workspace, name)


async def test_a_curfew_stops_with_full_collections_deferred_and_restores_them(
    sqlite_store: Store, clock: FakeClock
) -> None:
    rt, spy = demo_runtime(sqlite_store, clock)
    noting = Noting(spy.inner)
    before = gc.get_threshold()
    report = await Sweeper(Runtime(rt.settings, sqlite_store, noting, clock)).curfew(forced=True)
    assert report.count(OutcomeKind.STOPPED) >= 1, report.summary()
    assert noting.deferred and all(noting.deferred)
    assert gc.get_threshold() == before and not deferring()
