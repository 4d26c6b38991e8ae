"""The sweep shell on the simulated fleet: decisions applied, outcomes recorded, failures contained."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from compute.port import Unavailable, Workspace
from domain.model import InstanceKey, InstanceState, KeepOnState
from runtime import Runtime
from scheduler import sweep as sweep_module
from scheduler.outcomes import OutcomeKind
from scheduler.sweep import Sweeper
from storage.repositories import NewKeepOn
from tests.sweep_fixtures import DEMO_OWNER, FleetSpy

CURFEW = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)  # Tue 1 Dec 00:00 Europe/Berlin


def outcomes(report: object) -> dict[str, tuple[str, str]]:
    return {o.instance.name: (o.kind.value, o.decision.reason) for o in report.outcomes}  # type: ignore[attr-defined]


async def states(rt: Runtime) -> dict[str, InstanceState]:
    return {i.name: i.state for i in await rt.fleet.list_instances()}


async def test_a_manual_sweep_stops_running_instances_and_leaves_the_busy_one(
    demo: tuple[Runtime, FleetSpy],
) -> None:
    rt, spy = demo
    report = await Sweeper(rt).curfew(forced=True, actor="operator:test")
    got = outcomes(report)
    assert {n for n, (k, _) in got.items() if k == "stopped"} == {"gpu-ci", "cpu-ci", "alex-gpu"}
    assert got["train-ci"] == ("left", "job train-42 running")
    assert got["old-ci"] == ("left", "already stopped")
    assert report.ok
    assert all(o.detail == "confirmed Stopped" for o in report.outcomes if o.kind is OutcomeKind.STOPPED)
    assert (await states(rt))["gpu-ci"] is InstanceState.STOPPED
    assert sorted(spy.writes("stop")) == ["alex-gpu", "cpu-ci", "gpu-ci"]
    audit = await rt.store.call(rt.store.audit.since, report.started_at - timedelta(1))
    assert len(audit) == 6 and {e.actor for e in audit} == {"operator:test"}
    assert {e.run_id for e in audit} == {report.run_id}


async def test_a_dry_run_changes_nothing(demo: tuple[Runtime, FleetSpy]) -> None:
    rt, spy = demo
    before = await states(rt)
    report = await Sweeper(rt).curfew(forced=True, dry_run=True)
    assert {o.instance.name for o in report.outcomes if o.kind is OutcomeKind.WOULD_STOP} == {
        "gpu-ci",
        "cpu-ci",
        "alex-gpu",
    }
    assert await states(rt) == before
    assert spy.writes("stop") == []
    assert await rt.store.call(rt.store.audit.since, report.started_at - timedelta(1)) == []


async def keep(rt: Runtime, name: str, hours: float = 3) -> None:
    now = rt.clock()
    await rt.store.call(
        rt.store.keep_ons.add,
        NewKeepOn(
            "demo",
            name,
            DEMO_OWNER,
            now,
            now + timedelta(hours=hours),
            "training",
            DEMO_OWNER,
            "Dana",
            KeepOnState.ACTIVE,
        ),
        now,
    )


async def test_a_keep_on_covering_the_curfew_leaves_the_instance(demo: tuple[Runtime, FleetSpy]) -> None:
    rt, spy = demo
    rt.clock.now = CURFEW + timedelta(seconds=5)  # type: ignore[attr-defined]
    await keep(rt, "gpu-ci")
    report = await Sweeper(rt).curfew()
    kind, reason = outcomes(report)["gpu-ci"]
    assert kind == "left" and reason.startswith("kept until Tue 1 Dec 03:00 Europe/Berlin by Dana: training")
    assert "gpu-ci" not in spy.writes("stop")


async def test_a_keep_on_written_after_the_decision_and_before_the_stop_call_wins(
    demo: tuple[Runtime, FleetSpy],
) -> None:
    rt, spy = demo
    repo = rt.store.keep_ons
    original = repo.in_force
    written: list[bool] = []

    def in_force_then_click(now, keys=None):  # type: ignore[no-untyped-def]
        result = original(now, keys)
        if keys is None and not written:  # the snapshot has read the keep-ons: now the owner clicks
            written.append(True)
            now_ = rt.clock()
            repo.add(
                NewKeepOn(
                    "demo",
                    "cpu-ci",
                    DEMO_OWNER,
                    now_,
                    now_ + timedelta(hours=1),
                    "one more hour",
                    DEMO_OWNER,
                    "Dana",
                    KeepOnState.ACTIVE,
                ),
                now_,
            )
        return result

    repo.in_force = in_force_then_click  # type: ignore[method-assign]
    report = await Sweeper(rt).curfew(forced=True)
    assert written == [True]
    assert outcomes(report)["cpu-ci"] == ("left", "manual sweep at 23:00 Europe/Berlin")
    assert [o.detail for o in report.outcomes if o.instance.name == "cpu-ci"] == [
        "kept just before the stop: one more hour"
    ]
    assert "cpu-ci" not in spy.writes("stop")
    assert (await states(rt))["cpu-ci"] is InstanceState.RUNNING


async def test_one_failing_instance_never_stops_the_rest(demo: tuple[Runtime, FleetSpy]) -> None:
    rt, spy = demo
    spy.failing[("demo", "gpu-ci")] = Unavailable("Azure could not be reached; try again.")
    report = await Sweeper(rt).curfew(forced=True)
    assert outcomes(report)["gpu-ci"][0] == "failed"
    assert [o.detail for o in report.failures] == ["Azure could not be reached; try again."]
    assert (await states(rt))["cpu-ci"] is InstanceState.STOPPED
    assert not report.ok
    audit = await rt.store.call(rt.store.audit.for_instance, InstanceKey("demo", "gpu-ci"))
    assert audit[0].outcome == "failed" and "could not be reached" in audit[0].reason


async def test_an_unreadable_workspace_is_a_failure_and_the_others_go_on(
    demo: tuple[Runtime, FleetSpy],
) -> None:
    rt, spy = demo
    spy.extra_workspaces.append(Workspace("team-b", "sub", "rg", "ws", "Europe/Berlin"))
    spy.broken_workspaces["team-b"] = Unavailable("Azure is unavailable")
    report = await Sweeper(rt).curfew(forced=True)
    assert [(o.instance.workspace, o.kind.value) for o in report.failures] == [("team-b", "failed")]
    assert report.count(OutcomeKind.STOPPED) == 3


async def test_the_scheduled_curfew_respects_the_hour(demo: tuple[Runtime, FleetSpy]) -> None:
    rt, spy = demo
    rt.clock.now = CURFEW - timedelta(hours=3)  # type: ignore[attr-defined]
    report = await Sweeper(rt).curfew()
    assert report.count(OutcomeKind.STOPPED) == 0 and spy.writes("stop") == []
    assert outcomes(report)["gpu-ci"][1].startswith("no curfew due now in Europe/Berlin")


async def test_the_morning_start_starts_opted_in_stopped_instances(demo: tuple[Runtime, FleetSpy]) -> None:
    from domain.model import MorningStart

    rt, spy = demo
    monday_8 = datetime(2026, 11, 30, 7, 0, 30, tzinfo=UTC)  # Mon 30 Nov 08:00:30 Europe/Berlin
    rt.clock.now = monday_8  # type: ignore[attr-defined]
    await rt.store.call(rt.store.mornings.set, MorningStart("demo", "old-ci", True), DEMO_OWNER, monday_8)
    await rt.store.call(rt.store.mornings.set, MorningStart("demo", "proj-old", True), DEMO_OWNER, monday_8)
    report = await Sweeper(rt).morning()
    assert outcomes(report)["old-ci"] == ("started", "morning start at 08:00 Europe/Berlin")
    assert "proj-old" not in outcomes(report)  # the demo's proj-old ended twenty days ago: no morning start
    assert spy.writes("start") == ["old-ci"]
    assert (await states(rt))["old-ci"] is InstanceState.RUNNING


async def test_a_night_that_fails_in_one_workspace_leaves_no_other_workspaces_stops_running(
    demo: tuple[Runtime, FleetSpy], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure outside the fleet's promise (here a broken read of one workspace) fails the night, and
    the other workspaces' reads and stops, on their way or queued, end with it: none is left running
    unaudited in the background, none waits forever for a stop that will not come."""
    rt, spy = demo
    spy.extra_workspaces.append(Workspace("broken", "sub-2", "rg", "ws-broken", "Europe/Berlin"))
    real = sweep_module.read_pages

    async def read(ctx: Runtime, alias: str, keep_ons: list[Any]) -> AsyncIterator[Any]:
        if alias == "broken":
            await asyncio.sleep(0)  # after demo's read began
            raise RuntimeError("the database went away")
        async for snap in real(ctx, alias, keep_ons):
            yield snap

    monkeypatch.setattr(sweep_module, "read_pages", read)
    before = asyncio.all_tasks()
    with pytest.raises(RuntimeError, match="database went away"):
        await Sweeper(rt).curfew(forced=True)
    for _ in range(20):  # let the cancelled ones end
        await asyncio.sleep(0)
    assert asyncio.all_tasks() == before
