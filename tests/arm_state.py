"""The in-memory world behind the ARM stand-in: workspaces, computes, jobs, operations, throttling.

No HTTP here (that is tests/arm_standin.py) and no JSON shapes (tests/arm_json.py). Operations settle
lazily: an operation started at t finishes at t + op_seconds, and whoever looks at the instance
after that sees the new state. No background task is needed, and a fake clock makes it exact.

Errors are raised as `ArmError(status, code, message)`; the HTTP layer renders ARM's error JSON.
The error codes follow Azure ML's as far as they are known; the wording is close, not verbatim.
"""

from __future__ import annotations

import math
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

PROVIDER = "Microsoft.MachineLearningServices"
TRANSITIONAL = frozenset(
    {"Creating", "Deleting", "Starting", "Stopping", "Restarting", "Resizing", "SettingUp"}
)
RUNNING = frozenset({"Running", "JobRunning"})
# action -> (operation name, states it may start from, state while busy, state when done)
ACTIONS: dict[str, tuple[str, frozenset[str], str, str]] = {
    "start": ("Start", frozenset({"Stopped"}), "Starting", "Running"),
    "stop": ("Stop", RUNNING, "Stopping", "Stopped"),
    "restart": ("Restart", RUNNING | {"Stopped"}, "Restarting", "Running"),
}
WrongStateMode = Literal["conflict", "accept_then_fail"]


class ArmError(Exception):
    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class WorkspaceRecord:
    subscription: str
    resource_group: str
    name: str
    location: str = "westeurope"

    @property
    def arm_id(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/{PROVIDER}/workspaces/{self.name}"
        )


@dataclass
class Operation:
    id: str
    workspace: WorkspaceRecord
    compute: str
    name: str
    started_at: datetime
    done_at: float
    error: dict[str, str] | None = None

    def status(self, now: float) -> str:
        if now < self.done_at:
            return "InProgress"
        return "Failed" if self.error else "Succeeded"


@dataclass
class ComputeRecord:
    workspace: WorkspaceRecord
    name: str
    size: str
    state: str
    kind: str = "ComputeInstance"
    owner_object_id: str | None = None
    owner_tenant_id: str | None = None
    idle_shutdown_minutes: int | None = 60
    tags: dict[str, str] = field(default_factory=dict)
    created_at: datetime = field(default_factory=utcnow)
    created_by: dict[str, Any] | None = None
    """`createdBy` as Azure sends it: {userId, userOrgId, userName} (userId, userName nullable)."""
    sharing_policy: str = "Personal"
    shape: Callable[[dict[str, Any]], None] | None = None
    """Changes the answer's JSON in place: a variant the specification allows (or a known deviation)."""
    last_operation: dict[str, str] | None = None
    schedules: list[dict[str, object]] = field(default_factory=list)
    """`schedules.computeStartStop`, in the specification's ComputeStartStopSchedule shape."""
    pending: Operation | None = None
    done_state: str = ""
    prior_state: str = ""
    deleted: bool = False

    @property
    def arm_id(self) -> str:
        return f"{self.workspace.arm_id}/computes/{self.name}"

    def record_operation(self, name: str, at: datetime, status: str, trigger: str = "User") -> None:
        self.last_operation = {
            "operationName": name,
            "operationTime": at.isoformat().replace("+00:00", "Z"),
            "operationStatus": status,
            "operationTrigger": trigger,
        }


@dataclass
class JobRecord:
    workspace: WorkspaceRecord
    name: str
    compute: str
    status: str = "Running"
    display_name: str | None = None
    archived: bool = False
    created_at: datetime = field(default_factory=utcnow)
    shape: Callable[[dict[str, Any]], None] | None = None
    """Changes the job's JSON in place: a variant the specification allows."""


class ArmBucket:
    """ARM's token bucket for one subscription and one kind of request (reads, writes, deletes)."""

    def __init__(self, capacity: int, refill_per_s: float, clock: Callable[[], float]) -> None:
        self.capacity = capacity
        self.refill_per_s = refill_per_s
        self._clock = clock
        self._tokens = float(capacity)
        self._updated = clock()

    def take(self) -> bool:
        self._refill()
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True

    @property
    def remaining(self) -> int:
        self._refill()
        return int(self._tokens)

    def retry_after(self) -> int:
        """Whole seconds until a token is back, at least 1 (ARM sends integers)."""
        self._refill()
        return max(1, math.ceil((1 - self._tokens) / self.refill_per_s))

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.refill_per_s)
        self._updated = now


def _key(*parts: str) -> tuple[str, ...]:
    return tuple(p.lower() for p in parts)


class ArmState:
    """Workspaces and what is in them. Names compare case-insensitively, as in ARM."""

    def __init__(
        self,
        *,
        op_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        wrong_state: WrongStateMode = "conflict",
    ) -> None:
        self.op_seconds = op_seconds
        self.clock = clock
        self.wrong_state: WrongStateMode = wrong_state
        self.workspaces: dict[tuple[str, ...], WorkspaceRecord] = {}
        self.computes: dict[tuple[str, ...], ComputeRecord] = {}
        self.jobs: dict[tuple[str, ...], JobRecord] = {}
        self.operations: dict[str, Operation] = {}
        self._failing_next: dict[tuple[str, ...], dict[str, str]] = {}

    # Seeding ---------------------------------------------------------------------------------

    def add_workspace(
        self, subscription: str, resource_group: str, workspace: str, location: str
    ) -> WorkspaceRecord:
        record = WorkspaceRecord(subscription, resource_group, workspace, location)
        return self.workspaces.setdefault(_key(subscription, resource_group, workspace), record)

    def add_compute(self, record: ComputeRecord) -> ComputeRecord:
        self.computes[self._compute_key(record.workspace, record.name)] = record
        return record

    def add_job(self, record: JobRecord) -> JobRecord:
        self.jobs[self._compute_key(record.workspace, record.name)] = record
        return record

    def fail_next_operation(self, workspace: WorkspaceRecord, compute: str, code: str, message: str) -> None:
        """The next operation on `compute` is accepted, then ends Failed with this error."""
        self._failing_next[self._compute_key(workspace, compute)] = {"code": code, "message": message}

    # Reading ---------------------------------------------------------------------------------

    def workspace(self, subscription: str, resource_group: str, name: str) -> WorkspaceRecord:
        found = self.workspaces.get(_key(subscription, resource_group, name))
        if found is None:
            raise ArmError(
                404,
                "ResourceNotFound",
                f"The Resource '{PROVIDER}/workspaces/{name}' under resource group '{resource_group}' "
                "was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
            )
        return found

    def compute(self, ws: WorkspaceRecord, name: str) -> ComputeRecord:
        record = self.computes.get(self._compute_key(ws, name))
        if record is not None:
            self.settle(record)
        if record is None or record.deleted:
            raise ArmError(
                404, "ResourceNotFound", f"Compute '{name}' was not found in workspace '{ws.name}'."
            )
        return record

    def list_computes(self, ws: WorkspaceRecord) -> list[ComputeRecord]:
        found = [r for r in self.computes.values() if r.workspace is ws]
        for record in found:
            self.settle(record)
        return [r for r in found if not r.deleted]

    def list_jobs(self, ws: WorkspaceRecord, *, include_archived: bool = False) -> list[JobRecord]:
        return [j for j in self.jobs.values() if j.workspace is ws and (include_archived or not j.archived)]

    def operation(self, operation_id: str) -> Operation:
        found = self.operations.get(operation_id)
        if found is None:
            raise ArmError(404, "ResourceNotFound", f"Operation '{operation_id}' was not found.")
        self.settle_compute_of(found)
        return found

    # Changing --------------------------------------------------------------------------------

    def act(self, ws: WorkspaceRecord, name: str, action: str) -> Operation:
        """start, stop or restart: the operation that was accepted, or ArmError 409."""
        record = self.compute(ws, name)
        op_name, allowed, busy_state, done_state = ACTIONS[action]
        if record.kind != "ComputeInstance":
            raise ArmError(400, "BadRequest", f"{op_name} is only supported for compute instances.")
        self._refuse_if_busy(record, op_name)
        if record.state not in allowed:
            if self.wrong_state == "conflict":
                raise ArmError(
                    409,
                    "UserError",
                    f"Compute instance is in {record.state} state. {op_name} is not allowed in this state.",
                )
            code = (
                f"{op_name}ComputeInstanceOnlyAllowedIn{'Stopped' if action == 'start' else 'Running'}State"
            )
            self.fail_next_operation(ws, name, code, f"{op_name} is not allowed in state {record.state}.")
            busy_state = record.state
            done_state = record.state
        return self._begin(record, op_name, busy_state, done_state)

    def create(self, ws: WorkspaceRecord, record: ComputeRecord) -> Operation:
        existing = self.computes.get(self._compute_key(ws, record.name))
        if existing is not None:
            self.settle(existing)
            if not existing.deleted:
                raise ArmError(
                    409,
                    "Conflict",
                    f"A compute named '{record.name}' already exists in workspace '{ws.name}'. Choose another name.",
                )
        self.add_compute(record)
        return self._begin(record, "Create", "Creating", "Running")

    def delete(self, ws: WorkspaceRecord, name: str) -> Operation:
        record = self.compute(ws, name)
        if record.state in ("Creating", "Deleting"):
            self._refuse_if_busy(record, "Delete")
        record.pending = None
        return self._begin(record, "Delete", "Deleting", "Deleted")

    def update_idle_shutdown(self, ws: WorkspaceRecord, name: str, body: object) -> None:
        """`updateIdleShutdownSetting` with an IdleShutdownSetting body: {"idleTimeBeforeShutdown": "PT60M"}."""
        record = self.compute(ws, name)
        if record.kind != "ComputeInstance":
            raise ArmError(400, "BadRequest", "Idle shutdown is only supported for compute instances.")
        value = body.get("idleTimeBeforeShutdown", "") if isinstance(body, dict) else ""
        if value is None:
            record.idle_shutdown_minutes = None
            return
        minutes = iso_minutes(value) if isinstance(value, str) else None
        if minutes is None or not 15 <= minutes <= 3 * 24 * 60:
            raise ArmError(
                400,
                "InvalidIdleTimeBeforeShutdown",
                f"idleTimeBeforeShutdown '{value}' must be an ISO 8601 duration from PT15M to P3D.",
            )
        record.idle_shutdown_minutes = minutes

    def stop_by(self, ws: WorkspaceRecord, name: str, trigger: str) -> None:
        """Azure stops the instance by itself: its idle shutdown ("IdleShutdown") or its schedule ("Schedule")."""
        record = self.compute(ws, name)
        record.state = "Stopped"
        record.record_operation("Stop", utcnow(), "Succeeded", trigger)

    def start_by_schedule(self, ws: WorkspaceRecord, name: str) -> None:
        record = self.compute(ws, name)
        record.state = "Running"
        record.record_operation("Start", utcnow(), "Succeeded", "Schedule")

    def settle_compute_of(self, op: Operation) -> None:
        record = self.computes.get(self._compute_key(op.workspace, op.compute))
        if record is not None:
            self.settle(record)

    def settle(self, record: ComputeRecord) -> None:
        """Apply the pending operation once its time is up."""
        op = record.pending
        if op is None or self.clock() < op.done_at:
            return
        record.pending = None
        failed = op.error is not None
        if op.name == "Delete" and not failed:
            record.deleted = True
            return
        if failed:
            record.state = "CreateFailed" if op.name == "Create" else record.prior_state
        else:
            record.state = record.done_state
        status = f"{op.name}Failed" if failed else "Succeeded"
        record.record_operation(op.name, op.started_at, status)

    # Internals -------------------------------------------------------------------------------

    def _refuse_if_busy(self, record: ComputeRecord, op_name: str) -> None:
        if record.pending is not None or record.state in TRANSITIONAL:
            raise ArmError(
                409,
                "Conflict",
                f"Compute instance '{record.name}' is busy with another operation ({record.state}). "
                f"{op_name} can be requested once it has finished.",
            )

    def _begin(self, record: ComputeRecord, op_name: str, busy_state: str, done_state: str) -> Operation:
        now = utcnow()
        op = Operation(
            id=str(uuid.uuid4()),
            workspace=record.workspace,
            compute=record.name,
            name=op_name,
            started_at=now,
            done_at=self.clock() + self.op_seconds,
            error=self._failing_next.pop(self._compute_key(record.workspace, record.name), None),
        )
        self.operations[op.id] = op
        record.prior_state = record.state
        record.state = busy_state
        record.done_state = done_state
        record.pending = op
        record.record_operation(op_name, now, "InProgress")
        return op

    @staticmethod
    def _compute_key(ws: WorkspaceRecord, name: str) -> tuple[str, ...]:
        return (*_key(ws.subscription, ws.resource_group, ws.name), name.lower())


def parse_time(value: str | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


_ISO_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?$")


def iso_minutes(value: str) -> int | None:
    """ "PT60M", "PT1H", "P1D", "P1DT2H" -> minutes; None when it is no such duration."""
    found = _ISO_DURATION.match(value.strip().upper())
    if found is None or value.strip().upper() in ("P", "PT"):
        return None
    days, hours, minutes = (int(part or 0) for part in found.groups())
    return days * 24 * 60 + hours * 60 + minutes
