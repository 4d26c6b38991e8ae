"""The sweep's pipeline through the real SDK against the ARM stand-in: a workspace's stops begin as
soon as its listing arrives (not after the last workspace is listed), and the verification after
the stops still catches an instance that Azure accepted to stop but that came back Running, reading
the few still in transition with gets instead of listing the workspace again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from compute.port import Workspace
from runtime import Runtime
from scheduler.outcomes import OutcomeKind
from scheduler.sweep import Sweeper
from storage.repositories import Store
from tests.arm_fixtures import RESEARCH, TENANT, VISION, make_fleet, seed_instance, workspace_settings
from tests.arm_standin import ArmStandIn

OWNER = "00000000-0000-0000-0000-000000000020"
CURFEW = {"verify_seconds": 8, "verify_interval_seconds": 1}


def seed(arm: ArmStandIn, ws: Workspace, count: int) -> list[str]:
    names = [f"ci-{ws.alias}-{n:02}" for n in range(count)]
    for name in names:
        seed_instance(
            arm,
            ws,
            name,
            state="Running",
            owner_object_id=OWNER,
            owner_tenant_id=TENANT,
            last_started_at=datetime.now(UTC) - timedelta(hours=3),
        )
    return names


async def test_a_workspaces_stops_begin_before_the_last_workspace_is_listed(
    arm: ArmStandIn, azure_env: dict[str, str], sqlite_store: Store
) -> None:
    seed(arm, RESEARCH, 4)
    seed(arm, VISION, 4)
    # ARM throttles vision's first listing and says when to come back; research's is answered at once
    arm.fail_next("GET", r"ws-vision/computes$", 429, headers={"Retry-After": "2"})
    rt = Runtime(workspace_settings(RESEARCH, VISION, curfew=CURFEW), sqlite_store, make_fleet(arm))
    report = await Sweeper(rt).curfew(forced=True)
    await rt.fleet.close()

    assert report.count(OutcomeKind.STOPPED) == 8, report.summary()
    log = arm.requests
    vision_listed = next(
        n
        for n, r in enumerate(log)
        if r.method == "GET" and r.path.endswith("ws-vision/computes") and r.status == 200
    )
    first_stop = next(n for n, r in enumerate(log) if r.method == "POST" and r.path.endswith("/stop"))
    assert log[first_stop].path.split("/computes/")[1].startswith("ci-research-")
    assert first_stop < vision_listed  # research's stops did not wait for vision's listing


async def test_the_verification_reads_the_few_in_transition_with_gets_and_catches_one_back_running(
    arm: ArmStandIn, azure_env: dict[str, str], sqlite_store: Store
) -> None:
    arm.state.op_seconds = 2.0  # the first check, right after the stops, sees them all Stopping
    names = seed(arm, RESEARCH, 6)
    failing = names[3]
    arm.fail_next_operation(
        RESEARCH.subscription_id,
        RESEARCH.resource_group,
        RESEARCH.workspace,
        failing,
        "StopComputeInstanceFailed",
        "The instance could not be stopped.",
    )
    rt = Runtime(
        workspace_settings(RESEARCH, curfew=CURFEW), sqlite_store, make_fleet(arm, workspaces=[RESEARCH])
    )
    report = await Sweeper(rt).curfew(forced=True)
    await rt.fleet.close()

    [failed] = report.failures
    assert failed.instance.name == failing
    assert f"{failing} is Running again" in failed.detail
    confirmed = sorted(o.instance.name for o in report.outcomes if o.detail == "confirmed Stopped")
    assert confirmed == [n for n in names if n != failing]
    listings = arm.requests_matching("GET", r"ws-research/computes$")
    assert len(listings) == 2  # the sweep's own read and the first check; no listing after that
    gets = arm.requests_matching("GET", rf"ws-research/computes/{failing}$")
    assert gets and all(g.at > listings[-1].at for g in gets)
    assert arm.instance(failing).state == "Running"
