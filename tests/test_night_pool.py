"""Issue 13, finding 2: more concurrent stops than the pool has connections, on PostgreSQL, at the
largest `azure.max_concurrency` the configuration allows; every stop is made and audited.

The fleet is in memory (the fault is the database's), its stops yield so that they overlap."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta

from compute.port import ActionResult, CreateSpec, Workspace
from compute.prices import simulated_prices
from config.settings import AzureSettings, Settings
from domain.model import Instance, InstanceState, Job
from domain.money import PriceList
from runtime import Runtime
from scheduler.outcomes import OutcomeKind
from scheduler.sweep import Sweeper
from storage.repositories import Store
from tests.conftest import FakeClock

WS = Workspace("pool", "sub", "rg", "ws-pool", "UTC")


class MemoryFleet:
    def __init__(self, names: Sequence[str]) -> None:
        self.state = dict.fromkeys(names, InstanceState.RUNNING)
        self.in_flight = 0
        self.peak = 0

    @property
    def workspaces(self) -> Sequence[Workspace]:
        return [WS]

    async def list_instances(self, workspace: str | None = None) -> list[Instance]:
        return [Instance(WS.alias, n, "Standard_DS3_v2", s) for n, s in self.state.items()]

    async def list_pages(self, workspace: str) -> AsyncIterator[list[Instance]]:
        yield await self.list_instances(workspace)

    async def recent_instances(
        self, workspace: str | None = None, *, owner: str | None = None, name: str | None = None
    ) -> list[Instance]:
        raise AssertionError("a curfew sweep never reads chat's cached view")

    async def get_instance(self, workspace: str, name: str) -> Instance:
        return Instance(WS.alias, name, "Standard_DS3_v2", self.state[name])

    async def reserve_write(self, workspace: str) -> None:
        return None

    async def stop(self, workspace: str, name: str) -> ActionResult:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        for _ in range(5):  # let the other stops in
            await asyncio.sleep(0)
        self.state[name] = InstanceState.STOPPED
        self.in_flight -= 1
        return ActionResult.ACCEPTED

    async def start(self, workspace: str, name: str) -> ActionResult:
        raise AssertionError("a curfew sweep never starts an instance")

    async def create(self, workspace: str, spec: CreateSpec) -> None:
        raise AssertionError("a curfew sweep never creates an instance")

    async def delete(self, workspace: str, name: str) -> None:
        raise AssertionError("a curfew sweep never deletes an instance")

    async def set_idle_shutdown(self, workspace: str, name: str, minutes: int | None) -> None:
        raise AssertionError("a curfew sweep never changes idle shutdown")

    async def list_active_jobs(self, workspace: str) -> list[Job]:
        return []

    async def recent_jobs(self, workspace: str) -> list[Job]:
        raise AssertionError("a curfew sweep never reads chat's cached view")

    async def hourly_prices(self, workspace: str) -> PriceList:
        return simulated_prices(datetime(2026, 11, 30, tzinfo=UTC))  # the sweep records its savings

    async def close(self) -> None:
        return None


async def test_more_concurrent_stops_than_pool_connections_all_stop_on_postgres(
    postgres_url: str, clock: FakeClock
) -> None:
    store = Store.open(postgres_url)
    try:
        pool = store.engine.pool
        connections = pool.size() + pool._max_overflow  # type: ignore[attr-defined]
        names = [f"ci-{n:03}" for n in range(3 * connections)]
        fleet = MemoryFleet(names)
        most = AzureSettings.model_fields["max_concurrency"].metadata[1].le
        settings = Settings.model_validate(
            {"timezone": "UTC", "azure": {"max_concurrency": most}, "curfew": {"verify_seconds": 0}}
        )
        assert settings.azure.max_concurrency > len(names) > connections
        rt = Runtime(settings, store, fleet, clock)
        report = await asyncio.wait_for(Sweeper(rt).curfew(forced=True), timeout=60)  # a hang guard
        assert {o.instance.name: o.kind for o in report.outcomes} == dict.fromkeys(names, OutcomeKind.STOPPED)
        assert fleet.peak > 1
        audit = await store.call(store.audit.since, report.started_at - timedelta(1))
        assert len(audit) == len(names)
    finally:
        store.close()
