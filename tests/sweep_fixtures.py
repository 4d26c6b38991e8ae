"""A runtime on the simulated fleet with a hand-moved clock, and a fleet spy for shell tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from compute.port import ActionResult, CreateSpec, Fleet, FleetError, Workspace
from compute.simulated import DEMO_OWNER, SimulatedFleet, Timings, demo_workspace
from config.settings import Settings
from domain.model import Instance, Job
from domain.money import PriceList
from runtime import Runtime
from storage.repositories import Store
from tests.conftest import FakeClock


@dataclass
class FleetSpy:
    """Delegates to a real fleet; counts calls and fails the ones a test asks to fail."""

    inner: Fleet
    calls: list[tuple[str, str, str]] = field(default_factory=list)
    failing: dict[tuple[str, str], FleetError] = field(default_factory=dict)
    broken_workspaces: dict[str, FleetError] = field(default_factory=dict)
    extra_workspaces: list[Workspace] = field(default_factory=list)

    @property
    def workspaces(self) -> Sequence[Workspace]:
        return [*self.inner.workspaces, *self.extra_workspaces]

    async def list_instances(self, workspace: str | None = None) -> list[Instance]:
        self.calls.append(("list", workspace or "*", ""))
        if workspace in self.broken_workspaces:
            raise self.broken_workspaces[workspace]
        return await self.inner.list_instances(workspace)

    async def list_pages(self, workspace: str) -> AsyncIterator[list[Instance]]:
        """One page, through `list_instances` (counted there, and what a subclass gates)."""
        yield await self.list_instances(workspace)

    async def recent_instances(
        self, workspace: str | None = None, *, owner: str | None = None, name: str | None = None
    ) -> list[Instance]:
        if workspace in self.broken_workspaces:  # a read, as `list` is; `calls` keeps lists and writes
            raise self.broken_workspaces[workspace]
        return await self.inner.recent_instances(workspace, owner=owner, name=name)

    async def get_instance(self, workspace: str, name: str) -> Instance:
        return await self.inner.get_instance(workspace, name)

    async def reserve_write(self, workspace: str) -> None:
        await self.inner.reserve_write(workspace)

    async def stop(self, workspace: str, name: str) -> ActionResult:
        return await self._write("stop", workspace, name)

    async def start(self, workspace: str, name: str) -> ActionResult:
        return await self._write("start", workspace, name)

    async def _write(self, verb: str, workspace: str, name: str) -> ActionResult:
        self.calls.append((verb, workspace, name))
        if (workspace, name) in self.failing:
            raise self.failing[(workspace, name)]
        result: ActionResult = await getattr(self.inner, verb)(workspace, name)
        return result

    async def create(self, workspace: str, spec: CreateSpec) -> None:
        await self.inner.create(workspace, spec)

    async def delete(self, workspace: str, name: str) -> None:
        await self.inner.delete(workspace, name)

    async def set_idle_shutdown(self, workspace: str, name: str, minutes: int | None) -> None:
        self.calls.append(("idle", workspace, name))
        if (workspace, name) in self.failing:
            raise self.failing[(workspace, name)]
        await self.inner.set_idle_shutdown(workspace, name, minutes)

    async def list_active_jobs(self, workspace: str) -> list[Job]:
        if workspace in self.broken_workspaces:
            raise self.broken_workspaces[workspace]
        return await self.inner.list_active_jobs(workspace)

    async def recent_jobs(self, workspace: str) -> list[Job]:
        if workspace in self.broken_workspaces:
            raise self.broken_workspaces[workspace]
        return await self.inner.recent_jobs(workspace)

    async def hourly_prices(self, workspace: str) -> PriceList:
        return await self.inner.hourly_prices(workspace)

    async def close(self) -> None:
        await self.inner.close()

    def writes(self, verb: str) -> list[str]:
        return [name for v, _, name in self.calls if v == verb]


def demo_settings(**curfew: Any) -> Settings:
    return Settings.model_validate(
        {
            "timezone": "Europe/Berlin",
            "curfew": {"stop_at": "00:00", "verify_seconds": 2, "verify_interval_seconds": 0.05, **curfew},
        }
    )


def demo_runtime(
    store: Store, clock: FakeClock, settings: Settings | None = None
) -> tuple[Runtime, FleetSpy]:
    sim = SimulatedFleet(store, demo_workspace("Europe/Berlin"), clock=clock, timings=Timings(0, 0, 0))
    sim.seed_demo()
    spy = FleetSpy(sim)
    return Runtime(settings or demo_settings(), store, spy, clock), spy


@pytest.fixture
def demo(sqlite_store: Store, clock: FakeClock) -> tuple[Runtime, FleetSpy]:
    return demo_runtime(sqlite_store, clock)


__all__ = ["DEMO_OWNER", "FleetSpy", "demo", "demo_runtime", "demo_settings"]
