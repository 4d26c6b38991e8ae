"""`doctor`'s checks of each workspace, with Curfew's own identity, read-only.

Per workspace: the compute list and the active jobs (what every curfew reads), the price list of its
region asked of Azure now (the workspace read and the prices role, past every cache), and the actions
no harmless call can prove (stop, start, create) in ARM's permission listing of the workspace.
"""

from __future__ import annotations

from datetime import UTC, datetime

from cli.doctor_checkup import Checkup, Findings
from cli.doctor_idle import check_idle_shutdown
from compute.factory import build_fleet
from compute.port import Fleet, FleetError, Workspace
from compute.rbac import NEEDS, ReadsPermissions, missing


async def workspaces(c: Checkup) -> None:
    if c.store is None:
        return
    if c.settings.simulated and not c.schema_ready:
        c.found.warn("the simulated demo fleet lives in the database: checked once its schema is up to date")
        return
    fleet = build_fleet(c.settings, c.store)
    c.fleet = fleet
    for ws in fleet.workspaces:
        await _reads(c, fleet, ws)
        if isinstance(fleet, ReadsPermissions):
            await _prices(fleet, ws, c.found)
            await _actions(fleet, ws, c.found)
        else:
            c.found.ok(f"workspace {ws.alias}: simulated, with the simulated price list and no Azure roles")


async def _reads(c: Checkup, fleet: Fleet, ws: Workspace) -> None:
    found = c.found
    try:
        instances = await fleet.list_instances(ws.alias)
    except FleetError as error:
        found.fail(f"workspace {ws.alias}: cannot list compute instances: {error}")
    else:
        owners = sum(1 for i in instances if i.owner_object_id)
        found.ok(f"workspace {ws.alias}: {len(instances)} compute instance(s), {owners} with an owner")
        check_idle_shutdown(c.settings, ws.alias, instances, datetime.now(UTC), found.warn)
    try:
        jobs = await fleet.list_active_jobs(ws.alias)
    except FleetError as error:
        found.fail(f"workspace {ws.alias}: cannot list jobs: {error}")
    else:
        found.ok(f"workspace {ws.alias}: jobs readable, {len(jobs)} queued or running")


async def _prices(fleet: ReadsPermissions, ws: Workspace, found: Findings) -> None:
    try:
        region, priced = await fleet.fetch_prices(ws.alias)
    except FleetError as error:
        found.fail(f"workspace {ws.alias}: no prices, every cost would show as unknown: {error}")
        return
    if priced:
        found.ok(f"workspace {ws.alias}: prices in {region} readable, {priced} size(s) with a price")
    else:
        found.warn(f"workspace {ws.alias}: Azure lists no Linux price for any size in {region}")


async def _actions(fleet: ReadsPermissions, ws: Workspace, found: Findings) -> None:
    try:
        permissions = await fleet.permissions(ws.alias)
    except FleetError as error:
        found.fail(f"workspace {ws.alias}: cannot check that Curfew may stop, start and create: {error}")
        return
    lacking = missing(permissions)
    for need in lacking:
        found.fail(
            f"workspace {ws.alias}: Curfew's identity may not perform {need.action} (to {need.purpose}); "
            f"assign it the {need.role}"
        )
    if not lacking:
        writes = [n for n in NEEDS if n.probe is None]
        found.ok(
            f"workspace {ws.alias}: may "
            + ", ".join(n.purpose for n in writes)
            + " ("
            + ", ".join(n.action.rsplit("/workspaces/", 1)[-1] for n in writes)
            + ")"
        )
