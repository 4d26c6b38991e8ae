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


def test_an_accepted_stop_is_recorded_as_stopping_without_a_stale_mark() -> None:
    clock = Clock()
    cache = FleetCache(30, clock)
    cache.store("research", [instance("a"), instance("b")], clock.now)
    cache.accepted("research", "A", InstanceState.STOPPING)
    listing = cache.fresh("research")
    assert listing is not None and listing.stale_among(ANNA, None) == []
    states = {i.name: i.state for i in listing.select(ANNA, None)}
    assert states == {"a": InstanceState.STOPPING, "b": InstanceState.RUNNING}
    assert [i.name for i in listing.select(ANNA, "a")] == ["a"]  # still indexed by owner and name


def test_a_listing_in_flight_across_an_accepted_stop_keeps_the_recorded_state() -> None:
    clock = Clock()
    cache = FleetCache(30, clock)
    cache.store("research", [instance("a")], clock.now)
    started = clock.now
    clock.now += 1
    cache.accepted("research", "a", InstanceState.STOPPING)
    listing = cache.store("research", [instance("a")], started)  # listed before Azure had it
    assert [i.state for i in listing.select(ANNA, None)] == [InstanceState.STOPPING]
    assert listing.stale_among(ANNA, None) == []
    later = cache.store("research", [instance("a")], clock.now + 1)  # asked for after the stop
    assert [i.state for i in later.select(ANNA, None)] == [InstanceState.RUNNING]


def test_an_accepted_write_to_an_instance_not_listed_is_asked_for_next() -> None:
    clock = Clock()
    cache = FleetCache(30, clock)
    cache.store("research", [instance("a")], clock.now)
    started = clock.now
    clock.now += 1
    cache.accepted("research", "new", InstanceState.STARTING)
    cache.accepted("research", "a", InstanceState.DELETING)
    listing = cache.store("research", [], started)  # "a" gone from a listing that predates the delete
    assert sorted(listing.stale_among(ANNA, None)) == ["a", "new"]


def test_a_failed_write_after_an_accepted_one_marks_the_instance_stale() -> None:
    clock = Clock()
    cache = FleetCache(30, clock)
    cache.store("research", [instance("a")], clock.now)
    cache.accepted("research", "a", InstanceState.STOPPING)
    cache.touched("research", "a")
    listing = cache.fresh("research")
    assert listing is not None and listing.stale_among(ANNA, None) == ["a"]
    listing.put("a", instance("a"))  # what the get read
    assert listing.stale_among(ANNA, None) == [] and not listing.recorded


def test_a_write_while_the_first_listing_is_in_flight_stays_stale_after_it() -> None:
    clock = Clock()
    cache = FleetCache(30, clock)
    started = clock.now
    clock.now += 1
    cache.accepted("research", "a", InstanceState.STOPPING)
    assert cache.fresh("research") is None and cache.refreshable("research") is None
    listing = cache.store("research", [instance("a")], started)
    assert listing.stale_among(ANNA, None) == ["a"]


def test_a_recorded_state_expires_with_its_listing() -> None:
    clock = Clock()
    cache = FleetCache(30, clock)
    cache.store("research", [instance("a")], clock.now)
    cache.accepted("research", "a", InstanceState.STOPPING)
    clock.now += 30
    assert cache.fresh("research") is None
    clock.now += 3 * 30
    assert cache.refreshable("research") is None


def test_the_sweeps_listing_is_held_past_its_seconds_while_curfews_writes_go_on() -> None:
    clock = Clock()
    cache = FleetCache(30, clock)
    cache.store("research", [instance("a"), instance("b")], clock.now, by_sweep=True)
    cache.store("vision", [instance("c")], clock.now)  # chat's own listing
    clock.now += 20
    cache.accepted("research", "a", InstanceState.STOPPING)
    cache.accepted("vision", "c", InstanceState.STOPPING)
    clock.now += 11  # both expired
    assert cache.held("research") and not cache.held("vision")
    clock.now += 19  # 30 s since the last write
    assert not cache.held("research")
    cache.touched("research", "b")  # a failed write counts as a write going on
    assert cache.held("research")
    clock.now += 4 * 30  # past the refresh window, writes or not
    cache.accepted("research", "a", InstanceState.STOPPING)
    assert not cache.held("research") and cache.refreshable("research") is None


def test_active_jobs_answer_once_more_just_past_their_seconds() -> None:
    clock = Clock()
    cache = FleetCache(30, clock)
    cache.store_jobs("research", [], clock.now)
    clock.now += 31
    assert cache.fresh_jobs("research") is None and cache.refreshable_jobs("research") == []
    clock.now += 3 * 30
    assert cache.refreshable_jobs("research") is None


def test_a_listing_past_its_seconds_is_held_while_the_sweeps_own_listing_is_on_its_way() -> None:
    clock = Clock()
    cache = FleetCache(30, clock)
    cache.store("research", [instance("a")], clock.now)  # chat's own
    clock.now += 31
    assert not cache.held("research")
    started = cache.sweep_lists("research")
    clock.now += 5
    assert cache.held("research")
    cache.store("research", [instance("a")], started, by_sweep=True)  # no writes since: not held
    clock.now += 31
    assert not cache.held("research")
