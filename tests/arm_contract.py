"""The fleet contract's Azure ML side: AzureMLFleet through the unmodified SDK, against the ARM stand-in."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from domain.model import InstanceState
from tests.arm_fixtures import RESEARCH, make_fleet, seed_instance, seed_job
from tests.arm_standin import ArmStandIn
from tests.fleet_harness import FleetHarness


@asynccontextmanager
async def azure_harness(
    arm: ArmStandIn, fleet_spec: Sequence[tuple[str, str, InstanceState, str | None]], owner: str, tenant: str
) -> AsyncIterator[FleetHarness]:
    """Needs the `arm` and `azure_env` fixtures (tests/arm_fixtures.py) to be active."""
    fleet = make_fleet(arm, workspaces=[RESEARCH])
    for name, size, state, job in fleet_spec:
        seed_instance(
            arm, RESEARCH, name, size=size, state=state.value, owner_object_id=owner, owner_tenant_id=tenant
        )
        if job:
            seed_job(arm, RESEARCH, job, name)

    async def settle() -> None:
        await asyncio.sleep(arm.state.op_seconds * 2 + 0.2)

    try:
        yield FleetHarness(fleet, RESEARCH.alias, settle)
    finally:
        await fleet.close()


__all__: list[Any] = ["azure_harness"]
