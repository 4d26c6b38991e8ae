"""Seeding the ARM stand-in (in-process API and seed JSON) and its command line.

The seed JSON format is documented in tests/arm_standin.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from domain.durations import duration_minutes
from tests.arm_identity import ManagedIdentityEndpoint
from tests.arm_state import ArmError, ArmState, ComputeRecord, JobRecord, WorkspaceRecord, parse_time, utcnow

if TYPE_CHECKING:
    from tests.arm_standin import ArmStandIn

DEFAULT_SIZE = "Standard_DS3_v2"


class SeedMixin:
    """Seeding methods of ArmStandIn; `self.state` is its ArmState."""

    state: ArmState

    def add_workspace(
        self, subscription: str, resource_group: str, workspace: str, location: str = "westeurope"
    ) -> WorkspaceRecord:
        return self.state.add_workspace(subscription, resource_group, workspace, location)

    def seed_instance(
        self,
        subscription: str,
        resource_group: str,
        workspace: str,
        name: str,
        *,
        size: str = DEFAULT_SIZE,
        state: str = "Running",
        owner_object_id: str | None = None,
        owner_tenant_id: str | None = None,
        last_started_at: datetime | str | None = None,
        idle_shutdown_minutes: int | None = 60,
        tags: Mapping[str, str] | None = None,
        created_by: Mapping[str, Any] | None = None,
        shape: Callable[[dict[str, Any]], None] | None = None,
    ) -> ComputeRecord:
        """`created_by` is Azure's createdBy ({userId, userOrgId, userName}): a self-made instance has
        it and no owner_object_id. `shape` edits the answer's JSON (a specification variant)."""
        ws = self.add_workspace(subscription, resource_group, workspace)
        record = ComputeRecord(
            workspace=ws,
            name=name,
            size=size,
            state=state,
            owner_object_id=owner_object_id,
            owner_tenant_id=owner_tenant_id,
            idle_shutdown_minutes=idle_shutdown_minutes,
            tags=dict(tags or {}),
            created_by=dict(created_by) if created_by is not None else None,
            sharing_policy="Personal" if owner_object_id else "Shared",
            shape=shape,
        )
        started = parse_time(last_started_at)
        if started is not None:
            record.record_operation("Start", started, "Succeeded")
        elif state == "Stopped":
            record.record_operation("Stop", utcnow(), "Succeeded", trigger="Schedule")
        else:
            record.record_operation("Create", record.created_at, "Succeeded")
        return self.state.add_compute(record)

    def seed_cluster(
        self, subscription: str, resource_group: str, workspace: str, name: str, *, size: str = DEFAULT_SIZE
    ) -> ComputeRecord:
        ws = self.add_workspace(subscription, resource_group, workspace)
        record = ComputeRecord(ws, name, size, state="Steady", kind="AmlCompute", idle_shutdown_minutes=None)
        return self.state.add_compute(record)

    def seed_job(
        self,
        subscription: str,
        resource_group: str,
        workspace: str,
        name: str,
        compute: str,
        status: str = "Running",
        *,
        display_name: str | None = None,
        archived: bool = False,
        shape: Callable[[dict[str, Any]], None] | None = None,
    ) -> JobRecord:
        ws = self.add_workspace(subscription, resource_group, workspace)
        return self.state.add_job(JobRecord(ws, name, compute, status, display_name, archived, shape=shape))

    def fail_next_operation(
        self, subscription: str, resource_group: str, workspace: str, compute: str, code: str, message: str
    ) -> None:
        """The next operation on the compute is accepted (202), then its status ends Failed."""
        ws = self.state.workspace(subscription, resource_group, workspace)
        self.state.fail_next_operation(ws, compute, code, message)

    def seed(self, document: Mapping[str, Any]) -> None:
        """Load a seed document (the JSON format in the module docstring of tests/arm_standin.py)."""
        for entry in document.get("workspaces", []):
            where = (entry["subscription"], entry["resource_group"], entry["workspace"])
            self.add_workspace(*where, location=entry.get("location", "westeurope"))
            for item in entry.get("instances", []):
                self.seed_instance(*where, **item)
            generate = dict(entry.get("generate_instances") or {})
            count, prefix = int(generate.pop("count", 0)), str(generate.pop("prefix", "ci-"))
            for number in range(count):
                self.seed_instance(*where, f"{prefix}{number:04d}", **generate)
            for item in entry.get("clusters", []):
                self.seed_cluster(*where, **item)
            for item in entry.get("jobs", []):
                self.seed_job(*where, **item)

    @staticmethod
    def parse_compute_body(
        ws: WorkspaceRecord, name: str, body: Any, caller: Mapping[str, Any] | None = None
    ) -> ComputeRecord:
        """A compute instance from a PUT body, validated as Azure ML does (roughly)."""
        properties = (body or {}).get("properties") or {}
        inner = properties.get("properties") or {}
        if properties.get("computeType") != "ComputeInstance":
            raise ArmError(400, "BadRequest", "The stand-in only creates compute instances (computeType).")
        if not body.get("location"):
            raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
        if not _valid_name(name):
            raise ArmError(
                400,
                "UserError",
                f"Compute name '{name}' is invalid: 3-24 characters, letters, digits and hyphens, starting with a "
                "letter.",
            )
        assigned = (inner.get("personalComputeInstanceSettings") or {}).get("assignedUser") or {}
        idle = inner.get("idleTimeBeforeShutdown")
        policy = inner.get("applicationSharingPolicy") or "Shared"  # the specification's default
        return ComputeRecord(
            workspace=ws,
            name=name,
            size=inner.get("vmSize") or DEFAULT_SIZE,
            state="Creating",
            owner_object_id=assigned.get("objectId"),
            owner_tenant_id=assigned.get("tenantId"),
            idle_shutdown_minutes=duration_minutes(idle if isinstance(idle, str) else None),
            tags=dict(body.get("tags") or {}),
            created_by=dict(caller) if caller is not None else None,
            sharing_policy=str(policy),
        )


def _valid_name(name: str) -> bool:
    ok = all(c.isalnum() or c == "-" for c in name)
    return ok and 3 <= len(name) <= 24 and name[0].isalpha() and name.isascii()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tests.arm_standin", description="Local ARM stand-in.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seed", type=Path)
    parser.add_argument("--ca-out", type=Path)
    parser.add_argument("--op-seconds", type=float, default=1.0)
    parser.add_argument("--page-size", type=int, default=50)
    parser.add_argument("--mi-port", type=int, default=0)
    parser.add_argument("--identity-header")
    for kind, size, refill in (("read", 250, 25.0), ("write", 200, 10.0), ("delete", 200, 10.0)):
        parser.add_argument(f"--{kind}-bucket", type=int, default=size)
        parser.add_argument(f"--{kind}-refill", type=float, default=refill)
    return parser


async def _serve(args: argparse.Namespace, workdir: Path) -> None:
    from tests.arm_standin import ArmStandIn, Limits

    limits = Limits(
        reads=(args.read_bucket, args.read_refill),
        writes=(args.write_bucket, args.write_refill),
        deletes=(args.delete_bucket, args.delete_refill),
    )
    identity = ManagedIdentityEndpoint(port=args.mi_port, identity_header=args.identity_header)
    arm: ArmStandIn = ArmStandIn(
        workdir,
        port=args.port,
        op_seconds=args.op_seconds,
        page_size=args.page_size,
        limits=limits,
        identity=identity,
    )
    if args.seed:
        arm.seed(json.loads(args.seed.read_text(encoding="utf-8")))
    ca = arm.ca_path
    if args.ca_out:
        shutil.copyfile(arm.ca_path, args.ca_out)
        ca = args.ca_out.resolve()
    async with arm:
        lines = [f"ARM_URL={arm.url}", f"ARM_CA={ca}", *(f"{k}={v}" for k, v in arm.env.items()), "READY"]
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    if arm.spec_violations:  # answers off the REST specification: a stand-in bug, said loudly
        sys.stderr.write("\n".join(f"SPEC_VIOLATION {line}" for line in arm.spec_violations) + "\n")
        raise SystemExit(3)


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="arm-standin-") as workdir:
        asyncio.run(_serve(args, Path(workdir)))
