"""Read the fleet once and decide: instances, active jobs and keep-ons, then `domain.decide`.

One function serves the sweep, the warnings, the `status` card and the warning card's refresh:
`read_fleet` lists each workspace's instances and jobs concurrently, always fresh from Azure. `owner`
(one person's instances) and `keys` (the instances a warning card lists) are chat's view instead:
`Fleet.recent_instances` (a listing at most `azure.fleet_cache_seconds` old, indexed by owner and
name, or one get), and jobs only where those instances live.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from compute.port import FleetError
from domain.decide import Decision, RunKind, decide, tonight
from domain.model import Instance, InstanceKey, Job, KeepOn, WorkspacePolicy, with_known_start
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

    def decide(
        self, kind: RunKind, now: datetime, policies: Mapping[str, WorkspacePolicy], *, forced: bool = False
    ) -> list[Decision]:
        return decide(kind, now, self.instances, self.keep_ons, self.jobs, policies, forced=forced)

    def tonight(self, now: datetime, instance: Instance, policy: WorkspacePolicy) -> Decision:
        """What the coming curfew does to one instance (the `status` card's line)."""
        return tonight(now, instance, self.keep_ons, self.jobs, policy)


async def read_fleet(
    rt: Runtime,
    workspaces: Collection[str] | None,
    now: datetime,
    *,
    jobs: bool = True,
    owner: str | None = None,
    keys: Collection[InstanceKey] | None = None,
) -> Snapshot:
    """`owner` or `keys` (the instances a warning card lists): chat's view, not a fresh listing."""
    named = _names_by_workspace(keys)
    aliases = [
        w.alias
        for w in rt.fleet.workspaces
        if (workspaces is None or w.alias in workspaces) and (named is None or w.alias in named)
    ]
    snap = Snapshot()
    view = owner is not None or named is not None
    both = jobs and not view
    results = await asyncio.gather(
        *(_read(rt, a, both, owner, None if named is None else named[a]) for a in aliases),
        return_exceptions=True,
    )
    for alias, result in zip(aliases, results, strict=True):
        if isinstance(result, Exception):  # not the port's promise, but it fails this workspace only
            snap.failures.append(_unread(alias, result))
        elif isinstance(result, BaseException):  # cancellation, interpreter exit
            raise result
        else:
            snap.instances.extend(result[0])
            snap.jobs.extend(result[1])
    if jobs and view:
        wanted = sorted({i.workspace for i in snap.instances})
        for listed in await asyncio.gather(*(rt.fleet.recent_jobs(a) for a in wanted)):
            snap.jobs.extend(listed)
    snap.instances = await _with_known_starts(rt, snap.instances)
    keys = [i.key for i in snap.instances] if view else None
    snap.keep_ons = await rt.store.call(rt.store.keep_ons.in_force, now, keys)
    return snap


async def read_pages(rt: Runtime, alias: str, keep_ons: list[KeepOn]) -> AsyncIterator[Snapshot]:
    """One workspace read fresh for the sweep, a snapshot a page of its listing as Azure sends it:
    that page's instances with the workspace's active jobs and the given keep-ons in force, so its
    decisions and stops begin while the next pages are read. A read that fails ends it with a
    snapshot of that one failure (the pages before it stand)."""
    jobs = asyncio.ensure_future(rt.fleet.list_active_jobs(alias))
    pages = aiter(rt.fleet.list_pages(alias))
    try:
        while True:
            try:
                page = await anext(pages)
                active = await jobs
            except StopAsyncIteration:
                return
            except Exception as error:
                yield Snapshot(failures=[_unread(alias, error)])
                return
            yield Snapshot(await _with_known_starts(rt, page), list(active), keep_ons)
    finally:
        if not jobs.done():
            jobs.cancel()
        elif not jobs.cancelled():
            jobs.exception()  # a failure after a failed page is the page's to report


def _unread(alias: str, error: Exception) -> Outcome:
    if isinstance(error, FleetError):
        return Outcome.workspace_failed(alias, str(error))
    log.error("reading workspace %s failed", alias, exc_info=error)  # not the port's promise
    return Outcome.workspace_failed(alias, unexpected(f"reading workspace {alias}", error))


async def _with_known_starts(rt: Runtime, instances: list[Instance]) -> list[Instance]:
    """Running instances whose start Azure does not say get Curfew's own knowledge of it."""
    unknown = [i.key for i in instances if i.last_started_at is None and i.state.is_running]
    if not unknown:
        return instances
    known = await rt.store.call(rt.store.start_times.known_starts, unknown)
    found = [(i, known.get(i.key)) for i in instances]
    return [with_known_start(i, k.started_at, k.seen_running_since) if k else i for i, k in found]


def _names_by_workspace(keys: Collection[InstanceKey] | None) -> dict[str, list[str]] | None:
    if keys is None:
        return None
    named: dict[str, list[str]] = {}
    for key in keys:
        named.setdefault(key.workspace, []).append(key.name)
    return named


async def _read(
    rt: Runtime, alias: str, jobs: bool, owner: str | None, names: list[str] | None
) -> tuple[list[Instance], list[Job]]:
    if names is not None:
        found = await asyncio.gather(*(rt.fleet.recent_instances(alias, name=n) for n in names))
        return [instance for batch in found for instance in batch], []
    if owner is not None:
        return await rt.fleet.recent_instances(alias, owner=owner), []
    if not jobs:
        return await rt.fleet.list_instances(alias), []
    instances, active = await asyncio.gather(rt.fleet.list_instances(alias), rt.fleet.list_active_jobs(alias))
    return instances, active
