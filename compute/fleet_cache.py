"""The short-lived listing of each workspace that chat reads (`azure.fleet_cache_seconds`); no SDK here.

Chat asks "which instances are mine" and "which is called X" on every turn; listing every workspace
at ARM for that made a turn's cost and its ARM reads grow with the fleet. A listing (and the list of
active jobs) is kept per workspace, indexed by owner and by name, for at most `seconds`:

- every listing Curfew makes refreshes it (the sweep's and the warnings' own lists included; they
  never read from it);
- a stop, start or delete Azure accepted (202) is recorded as the state Azure gives the instance
  on accepting it (Stopping, Starting, Deleting), so chat answers "stopping" without asking Azure
  (the sweep's ten thousand stops would otherwise send each owner's next turn to an ARM busy with
  them); its other fields stay as listed;
- Curfew's other writes (create, idle shutdown) and any write that failed or whose outcome is
  unknown mark that one instance stale: the next reader that needs it asks Azure for it alone (one
  get), or re-lists when many are stale; so does an accepted write to an instance not in the
  listing;
- a write that lands while a list is in flight stays recorded (or stale) after the list: the list
  may predate it;
- a listing just expired answers once more while a new one is listed in the background (up to
  REFRESH_WITHIN times `seconds` old), so a turn never waits for a workspace's whole listing; the
  list of active jobs likewise;
- the sweep's own listing, once expired, is not listed again in the background while Curfew's
  writes to that workspace go on (one accepted or failed within `seconds`), up to REFRESH_WITHIN
  times `seconds` old: those writes are in it (recorded or stale), and during a sweep of thousands
  chat's re-listings were hundreds of list pages at an ARM busy with the sweep's stops; nor is
  any listing while the sweep's own listing of that workspace is on its way.

Clock: `time.monotonic` unless a test gives another.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from domain.model import Instance, InstanceState, Job

REFRESH_WITHIN = 4
"""A listing up to this many times `seconds` old answers while the new one is being listed."""
STALE_GETS = 3
"""More stale instances than this among those a reader needs: re-list the workspace instead."""


@dataclass
class Listing:
    at: float
    by_name: dict[str, Instance]
    by_owner: dict[str, list[str]]
    stale: dict[str, float] = field(default_factory=dict)
    """Lower-case names Curfew wrote to since this listing, with the time of the write."""
    recorded: dict[str, tuple[float, InstanceState]] = field(default_factory=dict)
    """Lower-case names whose state is that of Curfew's own accepted write, with the time of it."""
    by_sweep: bool = False
    """The sweep's own listing (`store(..., by_sweep=True)`)."""

    @classmethod
    def of(cls, at: float, instances: Iterable[Instance]) -> Listing:
        listing = cls(at, {}, {})
        for instance in instances:
            listing.by_name[instance.name.lower()] = instance
        listing._index()
        return listing

    def record(self, name: str, state: InstanceState, at: float) -> bool:
        """Azure accepted a write that puts the instance in `state` at `at`; False if not listed."""
        key = name.lower()
        instance = self.by_name.get(key)
        if instance is None:
            return False
        self.by_name[key] = replace(instance, state=state)  # same name and owner: the index holds
        self.recorded[key] = (at, state)
        self.stale.pop(key, None)
        return True

    def carry(self, earlier: Listing) -> None:
        """The marks of writes to `earlier` that this listing (asked for at `self.at`) may predate."""
        self.stale = {n: at for n, at in earlier.stale.items() if at >= self.at}
        for name, (at, state) in earlier.recorded.items():
            if at >= self.at and not self.record(name, state, at):
                self.stale[name] = at  # gone from the new listing, or not in it yet: ask Azure

    def _index(self) -> None:
        self.by_owner = {}
        for key, instance in self.by_name.items():
            self.by_owner.setdefault((instance.owner_object_id or "").lower(), []).append(key)

    def needed(self, owner: str | None, name: str | None) -> list[str]:
        """Names a reader with this filter needs, as far as this listing knows."""
        if name is not None:
            return [name.lower()]
        if owner is not None:
            return list(self.by_owner.get(owner.lower(), []))
        return list(self.by_name)

    def stale_among(self, owner: str | None, name: str | None) -> list[str]:
        """Stale names this reader needs: its own, by name or owner, and any whose owner is unknown
        (a created instance not yet read back)."""
        wanted = set(self.needed(owner, name))
        return [n for n in self.stale if n in wanted or n not in self.by_name]

    def select(self, owner: str | None, name: str | None) -> list[Instance]:
        found = (self.by_name.get(n) for n in self.needed(owner, name))
        return sorted((i for i in found if i is not None), key=lambda i: i.name)

    def put(self, name: str, instance: Instance | None) -> None:
        """What a get just read (None: gone); no longer stale."""
        key = name.lower()
        self.stale.pop(key, None)
        self.recorded.pop(key, None)
        if instance is None:
            self.by_name.pop(key, None)
        else:
            self.by_name[key] = instance
        self._index()


class FleetCache:
    """Each workspace's latest listing, for at most `seconds` (0: never kept)."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._listings: dict[str, Listing] = {}
        self._jobs: dict[str, tuple[float, list[Job]]] = {}
        self._written: dict[str, float] = {}
        """When Curfew last wrote to an instance of each workspace."""
        self._sweep_listing: dict[str, float] = {}
        """When the sweep last began listing each workspace."""

    def now(self) -> float:
        return self._clock()

    def fresh(self, workspace: str) -> Listing | None:
        listing = self._listings.get(workspace)
        if listing is None or self._clock() - listing.at >= self.seconds:
            return None
        return listing

    def refreshable(self, workspace: str) -> Listing | None:
        """A listing just past `seconds` (under REFRESH_WITHIN times it): good for one more answer
        while a new one is asked for, so a turn never waits for a whole workspace's listing."""
        listing = self._listings.get(workspace)
        if listing is None or self._clock() - listing.at >= self.seconds * REFRESH_WITHIN:
            return None
        return listing

    def sweep_lists(self, workspace: str) -> float:
        """The sweep begins a listing of the workspace (stored with `by_sweep`); when it began."""
        self._sweep_listing[workspace] = now = self._clock()
        return now

    def held(self, workspace: str) -> bool:
        """A listing past `seconds` that answers without a re-listing (within REFRESH_WITHIN times
        `seconds`, as `refreshable`): the sweep's, while Curfew's writes to the workspace go on, or
        any while the sweep's own listing of the workspace is on its way."""
        listing = self.refreshable(workspace)
        if listing is None:
            return False
        if self._sweep_listing.get(workspace, float("-inf")) > listing.at:
            return True
        written = self._written.get(workspace, float("-inf"))
        return listing.by_sweep and self._clock() - written < self.seconds

    def store(
        self, workspace: str, instances: Iterable[Instance], started: float, *, by_sweep: bool = False
    ) -> Listing:
        """A listing that was asked for at `started`: writes since then stay stale."""
        listing = Listing.of(started, instances)
        listing.by_sweep = by_sweep
        earlier = self._listings.get(workspace)
        if earlier is not None:
            listing.carry(earlier)
        if self.seconds > 0:
            self._listings[workspace] = listing
        return listing

    def fresh_jobs(self, workspace: str) -> list[Job] | None:
        at, jobs = self._jobs.get(workspace, (float("-inf"), []))
        return list(jobs) if self._clock() - at < self.seconds else None

    def refreshable_jobs(self, workspace: str) -> list[Job] | None:
        """Active jobs listed under REFRESH_WITHIN times `seconds` ago, as `refreshable`."""
        at, jobs = self._jobs.get(workspace, (float("-inf"), []))
        return list(jobs) if self._clock() - at < self.seconds * REFRESH_WITHIN else None

    def store_jobs(self, workspace: str, jobs: list[Job], started: float) -> None:
        if self.seconds > 0:
            self._jobs[workspace] = (started, list(jobs))

    def touched(self, workspace: str, name: str) -> None:
        """Curfew wrote to the instance: whoever needs it next asks Azure."""
        self._written[workspace] = self._clock()
        listing = self._listings.get(workspace)
        if listing is None and self.seconds > 0:  # a first listing may be in flight: mark it too
            listing = self._listings[workspace] = Listing(float("-inf"), {}, {})
        if listing is not None:
            listing.recorded.pop(name.lower(), None)
            listing.stale[name.lower()] = self._clock()

    def accepted(self, workspace: str, name: str, state: InstanceState) -> None:
        """Azure accepted Curfew's write, which puts the instance in `state`: chat's view says so
        (or, for an instance it does not list, asks Azure next time)."""
        self._written[workspace] = self._clock()
        listing = self._listings.get(workspace)
        if listing is None or not listing.record(name, state, self._clock()):
            self.touched(workspace, name)

    def put(self, workspace: str, name: str, instance: Instance | None) -> None:
        listing = self._listings.get(workspace)
        if listing is not None:
            listing.put(name, instance)
