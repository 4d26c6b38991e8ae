"""Build the fleet the configuration asks for: Azure ML, or the simulated demo fleet."""

from __future__ import annotations

from compute.port import Fleet, Workspace
from compute.simulated import SimulatedFleet, demo_workspace
from config.settings import Settings
from domain.lifecycle import ends_at
from storage.repositories import Store


def configured_workspaces(settings: Settings) -> list[Workspace]:
    if settings.simulated:
        return [demo_workspace(settings.timezone)]
    return [
        Workspace(ws.alias, ws.subscription_id, ws.resource_group, ws.workspace, settings.zone_name(ws.alias))
        for ws in settings.workspaces
    ]


def build_fleet(settings: Settings, store: Store) -> Fleet:
    """The simulated fleet when no workspace is configured, else Azure ML (imported only then)."""
    if settings.simulated:
        simulated = SimulatedFleet(store, demo_workspace(settings.timezone))
        policy = settings.policy(demo_workspace(settings.timezone).alias)
        simulated.seed_demo(lambda day: ends_at(policy, day))
        return simulated
    from compute.azureml import AzureMLFleet  # azure.ai.ml costs seconds to import: only when used

    fleet: Fleet = AzureMLFleet(
        configured_workspaces(settings),
        resource_manager_url=settings.azure.resource_manager_url,
        max_concurrency=settings.azure.max_concurrency,
        writes_per_second=settings.azure.writes_per_second,
        write_burst=settings.azure.write_burst,
        price_cache=store.prices,
        fleet_cache_seconds=settings.azure.fleet_cache_seconds,
    )
    return fleet
