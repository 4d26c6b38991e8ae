"""The fleet port: what Curfew needs from Azure ML, and nothing of the SDK.

Two implementations stand behind it: `compute.azureml.AzureMLFleet` (azure-ai-ml) and
`compute.simulated.SimulatedFleet` (the demo fleet in Curfew's own database). No SDK type or
exception crosses this module's boundary: implementations translate to `FleetError` subclasses,
whose messages are written for the person who will read them in chat.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from domain.model import Instance, Job
from domain.money import PriceList


class FleetError(Exception):
    """Base of every error a fleet reports; `str(error)` is safe to show a user."""

    code = "error"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotFound(FleetError):
    code = "not_found"


class Busy(FleetError):
    """The instance is in the middle of another operation (Azure answers 409)."""

    code = "busy"


class Forbidden(FleetError):
    code = "forbidden"


class Throttled(FleetError):
    """Azure asked us to slow down (429); `retry_after` is in seconds when Azure said."""

    code = "throttled"


class Unavailable(FleetError):
    """Azure could not be reached or failed (5xx, network, authentication)."""

    code = "unavailable"


class InvalidRequest(FleetError):
    """Azure refused the request as malformed or conflicting (400, name taken, quota)."""

    code = "invalid"


class ActionResult(StrEnum):
    ACCEPTED = "accepted"
    """Azure accepted the operation; it completes in the background."""
    ALREADY = "already"
    """The instance was already in (or on its way to) the wanted state."""


@dataclass(frozen=True, slots=True)
class Workspace:
    alias: str
    subscription_id: str
    resource_group: str
    workspace: str
    timezone: str

    @property
    def studio_url(self) -> str:
        return (
            "https://ml.azure.com/compute/list/instances?wsid=/subscriptions/"
            f"{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.MachineLearningServices/workspaces/{self.workspace}"
        )


@dataclass(frozen=True, slots=True)
class CreateSpec:
    """A compute instance to create on behalf of a user."""

    name: str
    size: str
    owner_object_id: str
    owner_tenant_id: str
    idle_shutdown_minutes: int | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


class Fleet(Protocol):
    """Every compute instance Curfew manages, across the configured workspaces."""

    @property
    def workspaces(self) -> Sequence[Workspace]: ...

    async def list_instances(self, workspace: str | None = None) -> list[Instance]:
        """All compute instances of one workspace alias, or of every workspace."""
        ...

    def list_pages(self, workspace: str) -> AsyncIterator[list[Instance]]:
        """One workspace's `list_instances`, in the pages Azure sends, each as it arrives: the sweep
        decides and stops a page's instances while the next pages are read."""
        ...

    async def recent_instances(
        self, workspace: str | None = None, *, owner: str | None = None, name: str | None = None
    ) -> list[Instance]:
        """Chat's view: the instances of one workspace alias or of every one, narrowed to one owner
        (AAD object id) or one name (case-insensitive), from a listing at most
        `azure.fleet_cache_seconds` old in which Curfew's own writes are read again. The sweep and
        the warnings never read it: they call `list_instances`, which always asks Azure."""
        ...

    async def get_instance(self, workspace: str, name: str) -> Instance: ...

    async def reserve_write(self, workspace: str) -> None:
        """Wait until the workspace's subscription has a write to spare and keep it for the next write
        there, so a caller can wait for the budget before it takes any shared slot."""
        ...

    async def stop(self, workspace: str, name: str) -> ActionResult:
        """Ask Azure to stop; returns once accepted, never waits for the operation."""
        ...

    async def start(self, workspace: str, name: str) -> ActionResult: ...

    async def create(self, workspace: str, spec: CreateSpec) -> None:
        """Ask Azure to create; returns once accepted. Follow with `get_instance`."""
        ...

    async def delete(self, workspace: str, name: str) -> None: ...

    async def set_idle_shutdown(self, workspace: str, name: str, minutes: int | None) -> None:
        """Azure ML's own idle shutdown of an existing instance: after `minutes` idle, None for off."""
        ...

    async def list_active_jobs(self, workspace: str) -> list[Job]:
        """Jobs of one workspace that are queued or running, with the compute they use."""
        ...

    async def recent_jobs(self, workspace: str) -> list[Job]:
        """Chat's view of `list_active_jobs`: at most `azure.fleet_cache_seconds` old."""
        ...

    async def hourly_prices(self, workspace: str) -> PriceList:
        """Estimated price per hour of each VM size in the workspace's region (cached for a day)."""
        ...

    async def close(self) -> None: ...


STOPPED_OR_STOPPING = ("Stopped", "Stopping")
RUNNING_OR_STARTING = ("Running", "JobRunning", "Starting")
