"""The specification check itself (tests/arm_spec.py): it refuses what the specification refuses and
accepts what it allows, so a clean run of the suite means something."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests import arm_json
from tests.arm_spec import violations
from tests.arm_state import ArmState, ComputeRecord, JobRecord, Operation


def compute(**changes: Any) -> dict[str, Any]:
    ws = ArmState().add_workspace("s", "rg", "ws", "westeurope")
    record = ComputeRecord(
        ws, "ci-anna", "Standard_DS3_v2", "Running", owner_object_id="a", owner_tenant_id="t"
    )
    record.record_operation("Start", datetime(2026, 12, 1, tzinfo=UTC), "Succeeded")
    body = arm_json.compute_json(record)
    body["properties"]["properties"].update(changes)
    return body


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"state": None}, "/properties/properties/state: None is not of type 'string'"),
        ({"vmSize": 3}, "/properties/properties/vmSize: 3 is not of type 'string'"),
        (
            {"personalComputeInstanceSettings": {"assignedUser": {"tenantId": "t"}}},
            "'objectId' is a required",
        ),
        ({"createdBy": {"userOrgId": None}}, "/createdBy/userOrgId: None is not of type 'string'"),
        ({"lastOperation": {"operationTime": "yesterday"}}, "'yesterday' is not a 'date-time'"),
        ({"enableSSO": "yes"}, "/enableSSO: 'yes' is not of type 'boolean'"),
    ],
)
def test_what_the_specification_forbids_is_a_violation(changes: dict[str, Any], problem: str) -> None:
    bad, known = violations("ComputeResource", compute(**changes))
    assert len(bad) == 1 and problem in bad[0] and known == []


@pytest.mark.parametrize(
    "changes",
    [
        {"state": "Hibernating"},  # ComputeInstanceState is an extensible enum (modelAsString)
        {"lastOperation": None},
        {"personalComputeInstanceSettings": None},
        {"createdBy": {"userId": None, "userOrgId": "t", "userName": None}},
        {"idleTimeBeforeShutdown": "P1D"},
        {"lastOperation": {"operationName": "Reimage", "operationStatus": "ReimageFailed"}},
    ],
)
def test_what_the_specification_allows_passes(changes: dict[str, Any]) -> None:
    assert violations("ComputeResource", compute(**changes)) == ([], [])


def test_assigned_user_null_is_a_known_deviation_not_a_violation() -> None:
    bad, known = violations(
        "ComputeResource", compute(personalComputeInstanceSettings={"assignedUser": None})
    )
    assert bad == [] and len(known) == 1


def test_a_missing_inner_properties_is_allowed_and_lists_pages_need_a_uri() -> None:
    body = compute()
    body["properties"].pop("properties")
    assert violations("PaginatedComputeResourcesList", {"value": [body]}) == ([], [])
    bad, _ = violations("PaginatedComputeResourcesList", {"value": [], "nextLink": "skip=50"})
    assert len(bad) == 1 and "is not a 'uri'" in bad[0]
    assert "'value' is a required" in violations("PaginatedComputeResourcesList", {})[0][0]


def test_jobs_operations_and_sizes_follow_their_definitions() -> None:
    ws = ArmState().add_workspace("s", "rg", "ws", "westeurope")
    job = arm_json.job_json(JobRecord(ws, "train-42", "ci-anna", "NotResponding"))
    assert violations("JobBaseResourceArmPaginatedResult", {"value": [job]}) == ([], [])
    del job["properties"]["command"]  # a CommandJob requires its command
    assert "'command' is a required" in violations("JobBase", job)[0][0]
    op = Operation("op-1", ws, "ci-anna", "Stop", datetime(2026, 12, 1, tzinfo=UTC), 0.0)
    status = arm_json.operation_json(op, "Succeeded", datetime(2026, 12, 1, 0, 1, tzinfo=UTC))
    assert violations("OperationStatusResult", status) == ([], [])
    assert "'status' is a required" in violations("OperationStatusResult", {"name": "op-1"})[0][0]
    sizes = arm_json.vm_sizes_json("westeurope")
    assert violations("VirtualMachineSizeListResult", sizes) == ([], [])
    sizes["value"][0]["estimatedVMPrices"]["values"][0].pop("vmTier")
    assert "'vmTier' is a required" in violations("VirtualMachineSizeListResult", sizes)[0][0]
