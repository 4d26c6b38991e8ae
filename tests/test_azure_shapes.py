"""Every shape Azure really returns, one row each: stand-in -> unmodified azure-ai-ml -> Curfew's
mapping -> `decide`, with the decision and reason each variant must give.

The stand-in answers in the REST specification's shapes (tests/arm_spec.py checks every answer);
`shape` edits one compute's JSON into a variant the specification allows: optional keys absent,
nullable ones null, every enum value, `createdBy` instead of an assigned user. One row breaks the
specification on purpose (an answer nobody can read) and asserts the check saw it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from compute.azureml import AzureMLFleet
from domain.decide import Action, RunKind, decide
from domain.model import CurfewPolicy, InstanceState, MorningPolicy, OwnerSource, WorkspacePolicy
from runtime import Runtime
from scheduler.outcomes import OutcomeKind
from scheduler.sweep import Sweeper
from storage.repositories import Store
from tests.arm_fixtures import (
    RESEARCH,
    TENANT,
    VISION,
    make_fleet,
    seed_instance,
    seed_job,
    workspace_settings,
)
from tests.arm_standin import ArmStandIn

ANNA = "00000000-0000-0000-0000-000000000020"
BEN = "00000000-0000-0000-0000-000000000021"
# 00:10 in Berlin on Fri 4 Dec 2026: ten minutes after the 00:00 curfew.
NOW = datetime(2026, 12, 3, 23, 10, tzinfo=UTC)
BEFORE = "2026-12-03T07:58:00.1234567Z"  # Azure writes seven fraction digits
AFTER = "2026-12-03T23:05:00Z"  # 00:05 Berlin, after the curfew
POLICY = WorkspacePolicy(ZoneInfo("Europe/Berlin"), CurfewPolicy(time(0, 0)), MorningPolicy(time(8, 0)))
AT_MIDNIGHT = "curfew at 00:00 Europe/Berlin"
BEN_CREATED = {"userId": BEN, "userOrgId": TENANT, "userName": "Ben Builder"}

Shape = Callable[[dict[str, Any]], None]


def inner(edit: Callable[[dict[str, Any]], None]) -> Shape:
    """A shape that edits `properties.properties` of the compute's JSON."""
    return lambda body: edit(body["properties"]["properties"])


def set_key(key: str, value: Any) -> Shape:
    return inner(lambda props: props.__setitem__(key, value))


def drop_key(key: str) -> Shape:
    return inner(lambda props: props.pop(key, None))


def last_op(name: str, status: str, at: str = BEFORE, trigger: str = "User") -> Shape:
    op = {"operationName": name, "operationTime": at, "operationStatus": status, "operationTrigger": trigger}
    return set_key("lastOperation", op)


@dataclass(frozen=True)
class Row:
    id: str
    action: Action
    reason: str
    state: str = "Running"
    owner: str | None = ANNA
    created_by: dict[str, Any] | None = None
    shape: Shape | None = None
    job_status: str | None = None
    job_shape: Shape | None = None
    last_started_at: str | None = BEFORE
    expect: dict[str, Any] = field(default_factory=dict)
    """Fields of the mapped Instance to check (besides the decision)."""


ROWS = [
    Row(
        "stop",
        Action.STOP,
        AT_MIDNIGHT,
        expect={"owner_object_id": ANNA, "owner_source": OwnerSource.ASSIGNED},
    ),
    Row(
        "owner-from-createdBy",
        Action.STOP,
        AT_MIDNIGHT,
        owner=None,
        created_by=BEN_CREATED,
        expect={
            "owner_object_id": BEN,
            "owner_tenant_id": TENANT,
            "owner_name": "Ben Builder",
            "owner_source": OwnerSource.CREATOR,
        },
    ),
    Row(
        "assigned-user-wins-over-creator",
        Action.STOP,
        AT_MIDNIGHT,
        created_by=BEN_CREATED,
        expect={"owner_object_id": ANNA, "owner_source": OwnerSource.ASSIGNED},
    ),
    Row(
        "assignedUser-null-owner-from-createdBy",
        Action.STOP,
        AT_MIDNIGHT,
        created_by=BEN_CREATED,
        shape=set_key("personalComputeInstanceSettings", {"assignedUser": None}),
        expect={"owner_object_id": BEN, "owner_source": OwnerSource.CREATOR},
    ),
    Row(
        "personal-settings-null-and-no-creator-has-no-owner",
        Action.STOP,
        AT_MIDNIGHT,
        shape=set_key("personalComputeInstanceSettings", None),
        expect={"owner_object_id": None, "owner_source": None},
    ),
    Row(
        "createdBy-userId-null-is-nobody",
        Action.STOP,
        AT_MIDNIGHT,
        owner=None,
        created_by={"userId": None, "userOrgId": TENANT, "userName": None},
        expect={"owner_object_id": None},
    ),
    Row(
        "job-not-responding-left-on",
        Action.LEAVE,
        "job train-42 is not responding; left on",
        job_status="NotResponding",
    ),
    Row("job-paused-left-on", Action.LEAVE, "job train-42 is paused; left on", job_status="Paused"),
    Row(
        "job-unknown-left-on",
        Action.LEAVE,
        "job train-42 is in status Unknown; left on",
        job_status="Unknown",
    ),
    Row("job-queued-left-on", Action.LEAVE, "job train-42 is queued; left on", job_status="Queued"),
    Row("job-running-left-on", Action.LEAVE, "job train-42 running", job_status="Running"),
    Row("job-completed-stops", Action.STOP, AT_MIDNIGHT, job_status="Completed"),
    Row("job-failed-stops", Action.STOP, AT_MIDNIGHT, job_status="Failed"),
    Row("job-canceled-stops", Action.STOP, AT_MIDNIGHT, job_status="Canceled"),
    Row(
        "state-Resizing",
        Action.LEAVE,
        "is Resizing; Curfew leaves instances in transition alone",
        state="Resizing",
    ),
    Row(
        "state-UserSettingUp",
        Action.LEAVE,
        "is UserSettingUp; Curfew leaves instances in transition alone",
        state="UserSettingUp",
    ),
    Row("state-Unusable", Action.LEAVE, "is Unusable; Curfew only stops running instances", state="Unusable"),
    Row(
        "state-UserSetupFailed",
        Action.LEAVE,
        "is UserSetupFailed; Curfew only stops running instances",
        state="UserSetupFailed",
    ),
    Row("state-Unknown", Action.LEAVE, "is Unknown; Curfew only stops running instances", state="Unknown"),
    Row(
        "state-newer-than-Curfew",
        Action.LEAVE,
        "is Hibernating, a state Curfew does not know; Curfew only stops running instances",
        state="Hibernating",
        expect={"state": InstanceState.UNKNOWN, "reported_state": "Hibernating"},
    ),
    Row("state-JobRunning", Action.LEAVE, "a job running (state JobRunning)", state="JobRunning"),
    Row(
        "properties-properties-missing",
        Action.LEAVE,
        "is Unknown; Curfew only stops running instances",
        shape=lambda body: body["properties"].pop("properties"),
        expect={"size": "", "owner_object_id": None, "last_started_at": None, "idle_shutdown_minutes": None},
    ),
    Row(
        "lastOperation-Start-succeeded-is-the-start",
        Action.STOP,
        AT_MIDNIGHT,
        expect={"last_started_at": datetime(2026, 12, 3, 7, 58, 0, 123456, tzinfo=UTC)},
    ),
    Row(
        "lastOperation-Restart-after-curfew",
        Action.LEAVE,
        "started at 00:05 Europe/Berlin, after the 00:00 curfew",
        shape=last_op("Restart", "Succeeded", AFTER),
        expect={"last_started_at": datetime(2026, 12, 3, 23, 5, tzinfo=UTC)},
    ),
    Row(
        "lastOperation-Start-by-schedule-after-curfew",
        Action.LEAVE,
        "started at 00:05 Europe/Berlin, after the 00:00 curfew",
        shape=last_op("Start", "Succeeded", AFTER, trigger="Schedule"),
    ),
    Row(
        "lastOperation-absent",
        Action.STOP,
        AT_MIDNIGHT,
        shape=drop_key("lastOperation"),
        expect={"last_started_at": None, "last_operation": None},
    ),
    Row("lastOperation-null", Action.STOP, AT_MIDNIGHT, shape=set_key("lastOperation", None)),
    Row(
        "lastOperation-Resize-is-no-start",
        Action.STOP,
        AT_MIDNIGHT,
        shape=last_op("Resize", "Succeeded", AFTER),
        expect={"last_started_at": None},
    ),
    Row(
        "lastOperation-Start-failed-is-no-start",
        Action.STOP,
        AT_MIDNIGHT,
        shape=last_op("Start", "StartFailed", AFTER),
        expect={"last_started_at": None},
    ),
    Row(
        "lastOperation-Start-in-progress",
        Action.LEAVE,
        "is Starting; Curfew leaves instances in transition alone",
        state="Starting",
        shape=last_op("Start", "InProgress", AFTER),
        expect={"last_started_at": None},
    ),
    Row(
        "stopped-by-idle-shutdown",
        Action.LEAVE,
        "already stopped",
        state="Stopped",
        shape=last_op("Stop", "Succeeded", AFTER, trigger="IdleShutdown"),
        expect={"last_operation.trigger": "IdleShutdown", "last_operation.name": "Stop"},
    ),
    Row(
        "idle-PT1H30M",
        Action.STOP,
        AT_MIDNIGHT,
        shape=set_key("idleTimeBeforeShutdown", "PT1H30M"),
        expect={"idle_shutdown_minutes": 90},
    ),
    Row(
        "idle-P1D",
        Action.STOP,
        AT_MIDNIGHT,
        shape=set_key("idleTimeBeforeShutdown", "P1D"),
        expect={"idle_shutdown_minutes": 1440},
    ),
    Row(
        "idle-PT1H",
        Action.STOP,
        AT_MIDNIGHT,
        shape=set_key("idleTimeBeforeShutdown", "PT1H"),
        expect={"idle_shutdown_minutes": 60},
    ),
    Row(
        "idle-absent",
        Action.STOP,
        AT_MIDNIGHT,
        shape=drop_key("idleTimeBeforeShutdown"),
        expect={"idle_shutdown_minutes": None},
    ),
    Row(
        "tags-null",
        Action.STOP,
        AT_MIDNIGHT,
        shape=lambda body: body.__setitem__("tags", None),
        expect={"tags": {}},
    ),
]

TRANSITIONAL = ("Creating", "Deleting", "Restarting", "SettingUp", "Stopping")
NOT_RUNNING = ("CreateFailed", "SetupFailed")
ROWS += [
    Row(f"state-{s}", Action.LEAVE, f"is {s}; Curfew leaves instances in transition alone", state=s)
    for s in TRANSITIONAL
]
ROWS += [
    Row(f"state-{s}", Action.LEAVE, f"is {s}; Curfew only stops running instances", state=s)
    for s in NOT_RUNNING
]
ROWS += [Row("state-Stopped", Action.LEAVE, "already stopped", state="Stopped")]
JOB_WORDS = {
    "NotStarted": "not started",
    "Starting": "starting",
    "Provisioning": "provisioning",
    "Preparing": "preparing",
    "Finalizing": "finalizing",
    "CancelRequested": "being canceled",
}
ROWS += [
    Row(f"job-{status}-left-on", Action.LEAVE, f"job train-42 is {words}; left on", job_status=status)
    for status, words in JOB_WORDS.items()
]
ROWS += [
    Row(
        "lastOperation-Create-after-curfew",
        Action.LEAVE,
        "started at 00:05 Europe/Berlin, after the 00:00 curfew",
        shape=last_op("Create", "Succeeded", AFTER),
    )
]
ROWS += [
    Row(
        f"lastOperation-{name}-{status}-is-no-start",
        Action.STOP,
        AT_MIDNIGHT,
        shape=last_op(name, status, AFTER),
        expect={"last_started_at": None, "last_operation.name": name, "last_operation.status": status},
    )
    for name, status in (
        ("Reimage", "Succeeded"),
        ("Reimage", "ReimageFailed"),
        ("Delete", "DeleteFailed"),
        ("Stop", "StopFailed"),
        ("Restart", "RestartFailed"),
        ("Resize", "ResizeFailed"),
        ("Create", "CreateFailed"),
        ("Restart", "InProgress"),
    )
]

ROWS += [
    Row(
        "job-without-compute-is-not-on-it",
        Action.STOP,
        AT_MIDNIGHT,
        job_status="Running",
        job_shape=lambda job: job["properties"].__setitem__("computeId", None),
    ),
    Row(
        "job-display-name-null",
        Action.LEAVE,
        "job train-42 is not responding; left on",
        job_status="NotResponding",
        job_shape=lambda job: job["properties"].__setitem__("displayName", None),
    ),
]


def _field(instance: Any, dotted: str) -> Any:
    value = instance
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
async def test_each_shape_maps_and_decides(arm: ArmStandIn, azure_fleet: AzureMLFleet, row: Row) -> None:
    arm.page_size = 2  # three computes: two pages, behind an opaque continuation token
    seed_instance(arm, RESEARCH, "ci-other-1", owner_object_id=BEN, last_started_at=BEFORE)
    seed_instance(
        arm,
        RESEARCH,
        "ci-row",
        state=row.state,
        owner_object_id=row.owner,
        owner_tenant_id=TENANT,
        last_started_at=row.last_started_at,
        created_by=row.created_by,
        shape=row.shape,
    )
    seed_instance(arm, RESEARCH, "ci-other-2", owner_object_id=BEN, last_started_at=BEFORE)
    if row.job_status:
        seed_job(arm, RESEARCH, "train-42", "ci-row", row.job_status, shape=row.job_shape)

    instances = await azure_fleet.list_instances("research")
    jobs = await azure_fleet.list_active_jobs("research")
    decisions = decide(RunKind.CURFEW, NOW, instances, [], jobs, {"research": POLICY})

    by_name = {d.instance.name: d for d in decisions}
    assert len(decisions) == 3 and set(by_name) == {"ci-other-1", "ci-row", "ci-other-2"}
    mine = by_name["ci-row"]
    assert (mine.action, mine.reason) == (row.action, row.reason)
    for name, wanted in row.expect.items():
        assert _field(mine.instance, name) == wanted, name
    assert by_name["ci-other-1"].action is Action.STOP  # the neighbours are read and decided as ever
    skips = [r.query.get("$skip") for r in arm.requests_matching("GET", r"/computes$")]
    assert len(skips) == 2 and skips[1] is not None and not skips[1].isdigit()
    assert arm.spec_checked.get("PaginatedComputeResourcesList") == 2
    assert arm.spec_checked.get("JobBaseResourceArmPaginatedResult") == 1
    assert not arm.spec_violations


async def test_assigned_user_null_is_a_known_deviation_and_get_reads_it(
    arm: ArmStandIn, azure_fleet: AzureMLFleet
) -> None:
    """The specification does not allow assignedUser: null; Azure sends it. It is counted, not hidden."""
    seed_instance(
        arm,
        RESEARCH,
        "ci-orphan",
        created_by=BEN_CREATED,
        shape=set_key("personalComputeInstanceSettings", {"assignedUser": None}),
    )

    instance = await azure_fleet.get_instance("research", "ci-orphan")

    assert (instance.owner_object_id, instance.owner_name) == (BEN, "Ben Builder")
    assert len(arm.spec_deviations) == 1 and "assignedUser" in arm.spec_deviations[0]
    assert not arm.spec_violations


async def test_an_answer_nobody_can_read_is_one_failed_instance_and_the_check_sees_it(
    arm: ArmStandIn, azure_fleet: AzureMLFleet
) -> None:
    seed_instance(arm, RESEARCH, "ci-fine", owner_object_id=ANNA, last_started_at=BEFORE)
    seed_instance(arm, RESEARCH, "ci-garbled", shape=set_key("personalComputeInstanceSettings", "anna"))

    instances = await azure_fleet.list_instances("research")
    decisions = {
        d.instance.name: d for d in decide(RunKind.CURFEW, NOW, instances, [], [], {"research": POLICY})
    }

    garbled = decisions["ci-garbled"]
    assert (
        garbled.instance.unreadable is not None
        and "personalComputeInstanceSettings" in garbled.instance.unreadable
    )
    assert garbled.action is Action.LEAVE and garbled.reason.startswith("not decided: Azure's answer")
    assert decisions["ci-fine"].action is Action.STOP
    # the stand-in's own check caught the off-specification answer; clear it so the fixture passes
    assert len(arm.spec_violations) == 1 and "personalComputeInstanceSettings" in arm.spec_violations[0]
    arm.spec_violations.clear()


async def test_a_sweep_with_an_unreadable_instance_fails_it_alone(
    arm: ArmStandIn, azure_env: dict[str, str], sqlite_store: Store
) -> None:
    """The run goes on: the healthy instances of both workspaces are stopped, the unreadable one
    is one failed line with the reason."""
    settings = workspace_settings(
        RESEARCH, VISION, timezone="UTC", curfew={"verify_seconds": 3, "verify_interval_seconds": 0.3}
    )
    rt = Runtime(settings, sqlite_store, make_fleet(arm))
    seed_instance(arm, RESEARCH, "ci-garbled", shape=set_key("createdBy", ["Ben"]))
    seed_instance(arm, RESEARCH, "ci-research", owner_object_id=ANNA)
    seed_instance(arm, VISION, "ci-vision", created_by=BEN_CREATED)
    try:
        report = await Sweeper(rt).curfew(forced=True)
    finally:
        await rt.fleet.close()

    got = {o.instance.name: o for o in report.outcomes}
    assert got["ci-garbled"].kind is OutcomeKind.FAILED and "createdBy is list" in got["ci-garbled"].detail
    assert got["ci-research"].kind is OutcomeKind.STOPPED and got["ci-vision"].kind is OutcomeKind.STOPPED
    assert arm.instance("ci-garbled").state == "Running"
    # the garbled answer, once per listing of its workspace (the sweep's and its verification's)
    listings = arm.requests_matching("GET", r"/workspaces/ws-research/computes$")
    assert len(listings) >= 2 and len(arm.spec_violations) == len(listings)
    arm.spec_violations.clear()
