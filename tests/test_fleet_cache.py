"""The chat listing's bookkeeping (compute/fleet_cache.py) with a hand-moved clock."""

from __future__ import annotations

from compute.fleet_cache import FleetCache
from domain.model import Instance, InstanceState

ANNA = "00000000-0000-0000-0000-0000000000a7"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def instance(name: str, owner: str | None = ANNA) -> Instance:
    return Instance("research", name, "Standard_DS3_v2", InstanceState.RUNNING, owner_object_id=owner)


def test_a_listing_is_fresh_for_its_seconds_then_answers_once_more_while_refreshed_then_not() -> None:
    clock = Clock()
    cache = FleetCache(30, clock)
    cache.store("research", [instance("a"), instance("b", None)], clock.now)
    clock.now += 29
    assert cache.fresh("research") is not None
    clock.now += 2
    assert cache.fresh("research") is None
    expired = cache.refreshable("research")
    assert expired is not None and [i.name for i in expired.select(ANNA, None)] == ["a"]
    assert [i.name for i in expired.select("", None)] == ["b"]  # nobody's
    clock.now += 4 * 30
    assert cache.refreshable("research") is None


def test_a_write_during_a_listing_stays_stale_after_it() -> None:
    clock = Clock()
    cache = FleetCache(30, clock)
    cache.store("research", [instance("a")], clock.now)
    started = clock.now
    clock.now += 1
    cache.touched("research", "A")  # Curfew stopped it while the next listing was in flight
    listing = cache.store("research", [instance("a")], started)
    assert listing.stale_among(ANNA, None) == ["a"]
    later = cache.store("research", [instance("a")], clock.now + 1)
    assert later.stale_among(ANNA, None) == []


def test_no_seconds_keeps_nothing() -> None:
    cache = FleetCache(0, Clock())
    cache.store("research", [instance("a")], 100.0)
    assert cache.fresh("research") is None and cache.refreshable("research") is None
