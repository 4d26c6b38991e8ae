"""The contract suite's view of a fleet: the fleet, its workspace, and a way to let time pass."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from compute.port import Fleet
from compute.simulated import SimulatedFleet, Timings, demo_workspace
from domain.model import InstanceState
from storage.models import SimInstanceRow, SimJobRow
from storage.repositories import Store

OWNER = "00000000-0000-0000-0000-000000000020"
TENANT = "00000000-0000-0000-0000-000000000001"

# name, size, state, job: the fleet every contract test starts from
CONTRACT_FLEET = (
    ("gpu-ci", "Standard_NC6s_v3", InstanceState.RUNNING, None),
    ("cpu-ci", "Standard_DS3_v2", InstanceState.RUNNING, None),
    ("train-ci", "Standard_NC6s_v3", InstanceState.RUNNING, "train-42"),
    ("old-ci", "Standard_DS11_v2", InstanceState.STOPPED, None),
)


@dataclass
class FleetHarness:
    fleet: Fleet
    alias: str
    settle: Callable[[], Awaitable[None]]


@pytest.fixture(params=["simulated", "azureml"])
async def harness(
    request: pytest.FixtureRequest, sqlite_store: Store, clock: object, arm: Any, azure_env: Any
) -> AsyncIterator[FleetHarness]:
    if request.param == "simulated":
        yield await _simulated(sqlite_store, clock)
    else:
        from tests.arm_contract import azure_harness

        async with azure_harness(arm, CONTRACT_FLEET, OWNER, TENANT) as h:
            yield h


async def _simulated(store: Store, clock: object) -> FleetHarness:
    from tests.conftest import FakeClock

    assert isinstance(clock, FakeClock)
    fleet = SimulatedFleet(store, demo_workspace("Europe/Berlin"), clock=clock, timings=Timings(5, 6, 10))
    with store.sessions.begin() as session:
        for name, size, state, job in CONTRACT_FLEET:
            session.add(
                SimInstanceRow(
                    workspace="demo",
                    name=name,
                    size=size,
                    state=state.value,
                    owner_object_id=OWNER,
                    owner_tenant_id=TENANT,
                    tags={},
                    last_started_at=clock.now - timedelta(hours=2),
                )
            )
            if job:
                session.add(SimJobRow(workspace="demo", name=job, compute=name, status="Running"))

    async def settle() -> None:
        clock.advance(seconds=30)

    return FleetHarness(fleet, "demo", settle)
