"""Read the fleet once for a run: one instance list and one job list per workspace, concurrently."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

from compute.port import FleetError
from domain.model import Instance, Job, KeepOn
from runtime import Runtime
from scheduler.outcomes import Outcome, unexpected

log = logging.getLogger(__name__)


@dataclass
class Snapshot:
    instances: list[Instance] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)
    keep_ons: list[KeepOn] = field(default_factory=list)
    failures: list[Outcome] = field(default_factory=list)
    """One failed outcome per workspace that could not be read; the others go on."""


async def read_fleet(
    rt: Runtime, workspaces: Collection[str] | None, now: datetime, *, jobs: bool = True
) -> Snapshot:
    aliases = [w.alias for w in rt.fleet.workspaces if workspaces is None or w.alias in workspaces]
    snap = Snapshot()
    results = await asyncio.gather(*(_read(rt, a, jobs) for a in aliases), return_exceptions=True)
    for alias, result in zip(aliases, results, strict=True):
        if isinstance(result, FleetError):
            snap.failures.append(Outcome.workspace_failed(alias, str(result)))
        elif isinstance(result, Exception):  # not the port's promise, but it fails this workspace only
            log.error("reading workspace %s failed", alias, exc_info=result)
            snap.failures.append(
                Outcome.workspace_failed(alias, unexpected(f"reading workspace {alias}", result))
            )
        elif isinstance(result, BaseException):  # cancellation, interpreter exit
            raise result
        else:
            snap.instances.extend(result[0])
            snap.jobs.extend(result[1])
    snap.keep_ons = await rt.store.call(rt.store.keep_ons.in_force, now)
    return snap


async def _read(rt: Runtime, alias: str, jobs: bool) -> tuple[list[Instance], list[Job]]:
    if not jobs:
        return await rt.fleet.list_instances(alias), []
    instances, active = await asyncio.gather(rt.fleet.list_instances(alias), rt.fleet.list_active_jobs(alias))
    return instances, active
