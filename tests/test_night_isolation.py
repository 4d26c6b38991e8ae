"""Issue 13, finding 1: one odd answer fails only the instance or workspace it belongs to.

Shell level on the simulated fleet, with faults of types the port does not promise (AttributeError,
RuntimeError): the failing workspace or instance is a failed outcome with a reason, audited; every
other instance is still decided and acted on.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

import scheduler.sweep
from compute.port import Workspace
from runtime import Runtime
from scheduler.outcomes import OutcomeKind
from scheduler.sweep import Sweeper
from scheduler.warnings import Warner
from storage.repositories import in_force_for
from tests.sweep_fixtures import FleetSpy


async def test_a_workspace_listing_that_raises_attribute_error_fails_only_that_workspace(
    demo: tuple[Runtime, FleetSpy],
) -> None:
    rt, spy = demo
    spy.extra_workspaces.append(Workspace("team-b", "sub", "rg", "ws-b", "UTC"))
    spy.broken_workspaces["team-b"] = AttributeError("'str' object has no attribute 'get'")  # type: ignore[assignment]
    report = await Sweeper(rt).curfew(forced=True)
    stopped = {o.instance.name for o in report.outcomes if o.kind is OutcomeKind.STOPPED}
    assert stopped == {"gpu-ci", "cpu-ci", "alex-gpu"}
    [failure] = report.failures
    assert failure.instance.workspace == "team-b"
    assert "team-b" in failure.detail and "AttributeError" in failure.detail
    audit = await rt.store.call(rt.store.audit.since, report.started_at - timedelta(1))
    assert ("team-b", "failed") in {(e.workspace, e.outcome) for e in audit}


async def test_a_stop_that_raises_an_unexpected_error_fails_only_that_instance(
    demo: tuple[Runtime, FleetSpy],
) -> None:
    rt, spy = demo
    spy.failing[("demo", "cpu-ci")] = RuntimeError("boom")  # type: ignore[assignment]
    report = await Sweeper(rt).curfew(forced=True)
    got = {o.instance.name: o for o in report.outcomes}
    assert got["cpu-ci"].kind is OutcomeKind.FAILED
    assert "RuntimeError" in got["cpu-ci"].detail and "not stopped" in got["cpu-ci"].detail
    assert got["gpu-ci"].kind is OutcomeKind.STOPPED and got["alex-gpu"].kind is OutcomeKind.STOPPED
    audit = await rt.store.call(rt.store.audit.since, report.started_at - timedelta(1))
    assert {e.instance: e.outcome for e in audit}["cpu-ci"] == "failed"


async def test_a_failing_keep_on_recheck_leaves_that_instance_on_and_stops_the_rest(
    demo: tuple[Runtime, FleetSpy], monkeypatch: pytest.MonkeyPatch
) -> None:
    rt, spy = demo

    def in_force(session, now, key):  # type: ignore[no-untyped-def]
        if key.name == "gpu-ci":
            raise ConnectionError("database went away")
        return in_force_for(session, now, key)

    monkeypatch.setattr(scheduler.sweep, "in_force_for", in_force)
    report = await Sweeper(rt).curfew(forced=True)
    got = {o.instance.name: o for o in report.outcomes}
    assert got["gpu-ci"].kind is OutcomeKind.FAILED and "ConnectionError" in got["gpu-ci"].detail
    assert "gpu-ci" not in spy.writes("stop")
    assert got["cpu-ci"].kind is OutcomeKind.STOPPED


async def test_the_warning_run_goes_on_when_one_workspace_raises(demo: tuple[Runtime, FleetSpy]) -> None:
    from scheduler.notify import LoggingNotifier

    rt, spy = demo
    spy.extra_workspaces.append(Workspace("team-b", "sub", "rg", "ws-b", "UTC"))
    spy.broken_workspaces["team-b"] = KeyError("properties")  # type: ignore[assignment]
    report = await Warner(rt, LoggingNotifier()).warn()
    assert len(report.failures) == 1 and report.failures[0].startswith("team-b: ")
