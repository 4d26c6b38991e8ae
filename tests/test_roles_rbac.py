"""The shipped roles, proven: every call Curfew makes, through the unmodified SDK, against an ARM stand-in that
enforces RBAC with the role files of infra/ assigned at the scopes infra/ assigns them at.

Each Curfew operation is one test whose id names the REST operation and the RBAC action it needs; a 403 fails
it with the action and the scope ARM refused. A data scientist (infra/role-data-scientist.json on the
workspace) can start their instance and cannot create or delete one. Curfew's role can delete (the end of an
instance's life), and nothing beyond compute.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from azure.core.credentials import AccessToken

from compute.azureml import AzureMLFleet
from compute.port import ActionResult, CreateSpec, Forbidden, Workspace
from compute.rbac import NEEDS, Permission, missing
from tests.arm_fixtures import RESEARCH, TENANT, VISION, make_fleet, seed_instance, seed_job
from tests.arm_rbac import OPERATIONS, ArmRbac, RoleDefinition, operation_for
from tests.arm_standin import ArmStandIn
from tests.infra_roles import INFRA, grants

DANA = "00000000-0000-0000-0000-000000000020"


def scope_of(ws: Workspace, kind: str) -> str:
    subscription = f"/subscriptions/{ws.subscription_id}"
    group = f"{subscription}/resourceGroups/{ws.resource_group}"
    return {
        "subscription": subscription,
        "resourceGroup": group,
        "workspace": f"{group}/providers/Microsoft.MachineLearningServices/workspaces/{ws.workspace}",
    }[kind]


def assign_as_infra_does(rbac: ArmRbac, principal: str, workspaces: list[Workspace]) -> None:
    shipped = grants()
    assert shipped, "infra/main.bicep assigns Curfew no role"
    for grant in shipped:
        role = RoleDefinition.from_file(grant.role_file)
        for ws in workspaces:
            rbac.assign(principal, role, scope_of(ws, grant.scope_kind))


@pytest.fixture
async def curfew(arm: ArmStandIn, azure_env: Any) -> AsyncIterator[AzureMLFleet]:
    arm.rbac = ArmRbac()
    assign_as_infra_does(arm.rbac, arm.identity.principal_id, [RESEARCH, VISION])
    seed_instance(arm, RESEARCH, "ci-running", owner_object_id=DANA)
    seed_instance(arm, RESEARCH, "ci-stopped", state="Stopped", owner_object_id=DANA)
    seed_job(arm, RESEARCH, "job-1", "ci-running")
    fleet = make_fleet(arm)
    yield fleet
    await fleet.close()


@dataclass(frozen=True)
class CurfewCall:
    what: str
    run: Callable[[AzureMLFleet], Awaitable[object]]
    operations: tuple[str, ...]
    """The REST operations this call must send (and be allowed)."""


SPEC = CreateSpec("ci-new", "Standard_DS3_v2", DANA, TENANT, idle_shutdown_minutes=60)
CALLS = [
    CurfewCall("list instances", lambda f: f.list_instances("research"), ("Compute_List",)),
    CurfewCall("get an instance", lambda f: f.get_instance("research", "ci-running"), ("Compute_Get",)),
    CurfewCall("stop", lambda f: f.stop("research", "ci-running"), ("Compute_Stop",)),
    CurfewCall("start", lambda f: f.start("research", "ci-stopped"), ("Compute_Start",)),
    CurfewCall(
        "create on behalf", lambda f: f.create("research", SPEC), ("Workspaces_Get", "Compute_CreateOrUpdate")
    ),
    CurfewCall("running jobs", lambda f: f.list_active_jobs("research"), ("Jobs_List",)),
    CurfewCall(
        "idle shutdown",
        lambda f: f.set_idle_shutdown("research", "ci-running", 60),
        ("Compute_UpdateIdleShutdownSetting",),
    ),
    CurfewCall("delete at the end", lambda f: f.delete("research", "ci-stopped"), ("Compute_Delete",)),
    CurfewCall(
        "prices", lambda f: f.hourly_prices("research"), ("Workspaces_Get", "VirtualMachineSizes_List")
    ),
    CurfewCall(
        "doctor's permission listing", lambda f: f.permissions("research"), ("Permissions_ListForResource",)
    ),
]


def _call_id(call: CurfewCall) -> str:
    ops = [o for o in OPERATIONS if o.operation_id in call.operations]
    return f"{call.what}: " + ", ".join(f"{o.operation_id} needs {o.action.split('/', 1)[1]}" for o in ops)


@pytest.mark.parametrize("call", CALLS, ids=_call_id)
async def test_curfew_may_make_every_call_it_makes(
    arm: ArmStandIn, curfew: AzureMLFleet, call: CurfewCall
) -> None:
    assert arm.rbac is not None
    try:
        await call.run(curfew)
    except Forbidden as refused:
        denied = [
            f"{d.operation} needs {d.operation.action if d.operation else '?'}" for d in arm.rbac.denials
        ]
        pytest.fail(
            f"{call.what}: ARM answered 403 to {denied} at scope {arm.rbac.denials[-1].path}; "
            f"no role infra/ assigns grants it ({refused})"
        )
    assert not arm.rbac.unmapped, f"requests with no operation in tests/arm_rbac.py: {arm.rbac.unmapped}"
    sent = {}
    for request in arm.requests:
        op = operation_for(request.method, request.path)
        assert op is not None
        assert request.status != 403
        [grant, *_] = arm.rbac.grants(arm.identity.principal_id, op.action, request.path)
        sent[op.operation_id] = f"{op.action} by {grant.role.name} at {grant.scope}"
    assert set(call.operations) <= set(sent), f"{call.what} sent {sorted(sent)}, not {call.operations}"


def test_doctors_list_of_needs_is_every_action_curfews_calls_send() -> None:
    """compute/rbac.py NEEDS (what `doctor` checks) names exactly the actions of the calls above."""
    sent = {o.action for o in OPERATIONS for call in CALLS if o.operation_id in call.operations}
    assert {n.action for n in NEEDS} == sent


async def test_the_permission_listing_shows_the_shipped_roles_grant_every_write(
    arm: ArmStandIn, curfew: AzureMLFleet
) -> None:
    listed = await curfew.permissions("research")
    assert missing(listed) == []
    stop = "Microsoft.MachineLearningServices/workspaces/computes/stop/action"
    assert any(p.allows(stop) for p in listed)
    assert any(p.allows("Microsoft.MachineLearningServices/workspaces/computes/delete") for p in listed)
    assert not any(p.allows("Microsoft.MachineLearningServices/workspaces/listKeys/action") for p in listed)
    assert [
        n.action for n in missing([Permission(("Microsoft.MachineLearningServices/workspaces/*",), (stop,))])
    ] == [stop]


async def test_curfew_deletes_as_the_specification_says_and_only_at_its_workspaces(
    arm: ArmStandIn, curfew: AzureMLFleet
) -> None:
    """Compute_Delete with underlyingResourceAction=Delete, allowed by the shipped role at the workspace
    infra/ assigns it; at a workspace without the assignment ARM refuses it."""
    assert arm.rbac is not None
    await curfew.delete("research", "ci-stopped")
    [sent] = arm.requests_matching("DELETE", r"/computes/ci-stopped$")
    assert sent.status == 202 and sent.query["underlyingResourceAction"] == "Delete"
    assert arm.instance("ci-stopped").state == "Deleting"  # a long-running operation, followed by Azure
    outside = Workspace("elsewhere", RESEARCH.subscription_id, "rg-other", "ml-other", "UTC")
    arm.add_workspace(outside.subscription_id, outside.resource_group, outside.workspace)
    seed_instance(arm, outside, "ci-other", owner_object_id=DANA)
    fleet = make_fleet(arm, workspaces=[outside])
    try:
        with pytest.raises(Forbidden, match="workspaces/computes/delete"):
            await fleet.delete("elsewhere", "ci-other")
    finally:
        await fleet.close()
    [denial] = arm.rbac.denials
    assert denial.operation is not None and denial.operation.operation_id == "Compute_Delete"


class StaticToken:
    """A person's credential: one bearer token the stand-in issued for them."""

    def __init__(self, token: str) -> None:
        self.token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self.token, 2**31 - 1)


async def test_a_data_scientist_can_start_their_instance_but_not_create_one(
    arm: ArmStandIn, azure_env: Any
) -> None:
    rbac = arm.rbac = ArmRbac()
    role = RoleDefinition.from_file(INFRA / "role-data-scientist.json")
    rbac.assign(DANA, role, scope_of(RESEARCH, "workspace"))
    seed_instance(arm, RESEARCH, "ci-dana", state="Stopped", owner_object_id=DANA)
    seed_instance(arm, RESEARCH, "ci-dana-cpu", state="Running", owner_object_id=DANA)
    token = rbac.token_for(arm.identity, DANA, arm.url.rstrip("/"))
    fleet = make_fleet(arm, workspaces=[RESEARCH], credential=StaticToken(token))
    try:
        assert await fleet.start("research", "ci-dana") == ActionResult.ACCEPTED
        assert await fleet.stop("research", "ci-dana-cpu") == ActionResult.ACCEPTED
        with pytest.raises(Forbidden, match="workspaces/computes/write"):
            await fleet.create("research", CreateSpec("ci-dana-2", "Standard_DS3_v2", DANA, TENANT))
        with pytest.raises(Forbidden, match="workspaces/computes/delete"):
            await fleet.delete("research", "ci-dana")
    finally:
        await fleet.close()
    assert [(d.principal_id, d.operation and d.operation.operation_id) for d in rbac.denials] == [
        (DANA, "Compute_CreateOrUpdate"),
        (DANA, "Compute_Delete"),
    ]
    assert "ci-dana-2" not in {i.name for i in arm.instances}


async def test_a_grant_at_one_workspace_does_not_reach_another(arm: ArmStandIn, azure_env: Any) -> None:
    """The stand-in's own check: scope is a prefix, not a match anywhere."""
    rbac = arm.rbac = ArmRbac()
    rbac.assign(
        arm.identity.principal_id,
        RoleDefinition.from_file(INFRA / "role-curfew.json"),
        scope_of(RESEARCH, "workspace"),
    )
    fleet = make_fleet(arm)
    try:
        assert await fleet.list_instances("research") == []
        with pytest.raises(Forbidden, match="workspaces/computes/read"):
            await fleet.list_instances("vision")
    finally:
        await fleet.close()
