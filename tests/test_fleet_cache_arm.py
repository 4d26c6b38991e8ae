"""Chat's cached view of the Azure ML fleet (`azure.fleet_cache_seconds`), through the unmodified SDK
against the ARM stand-in, counting the requests the stand-in saw: a burst of chat reads lists once,
Curfew's own accepted stops, starts and deletes are answered from the state Azure accepted them
into (its other writes, and failed ones, are read again with one get), and the sweep always lists
fresh."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from compute.azureml import AzureMLFleet
from compute.azureml_sdk import SdkCalls
from compute.port import CreateSpec, FleetError
from config.settings import Settings
from domain.model import InstanceState
from runtime import Runtime
from scheduler.outcomes import OutcomeKind
from scheduler.sweep import Sweeper
from storage.repositories import Store
from tests.arm_fixtures import (
    RESEARCH,
    TENANT,
    VISION,
    make_fleet,
    seed_instance,
    seed_job,
    workspace_settings,
)
from tests.arm_standin import ArmStandIn

ANNA = "00000000-0000-0000-0000-0000000000a7"
BEN = "00000000-0000-0000-0000-0000000000b8"
LIST = r"/workspaces/ws-research/computes$"
GET = r"/workspaces/ws-research/computes/[^/]+$"
JOBS = r"/workspaces/ws-research/jobs$"


def seeded(arm: ArmStandIn, **fleet: Any) -> AzureMLFleet:
    started = datetime.now(UTC) - timedelta(hours=2)
    for n in range(3):
        seed_instance(arm, RESEARCH, f"anna-{n}", owner_object_id=ANNA, last_started_at=started)
    for n in range(5):
        seed_instance(arm, RESEARCH, f"ben-{n}", owner_object_id=BEN, last_started_at=started)
    return make_fleet(arm, workspaces=[RESEARCH], **fleet)


def lists(arm: ArmStandIn) -> int:
    return len(arm.requests_matching("GET", LIST))


def gets(arm: ArmStandIn) -> int:
    return len(arm.requests_matching("GET", GET))


async def test_a_burst_of_chat_reads_lists_each_workspace_once_and_narrows_by_owner_and_name(
    arm: ArmStandIn, azure_env: dict[str, str]
) -> None:
    fleet = seeded(arm, fleet_cache_seconds=600)
    try:
        mine = await fleet.recent_instances(owner=ANNA.upper())
        assert [i.name for i in mine] == ["anna-0", "anna-1", "anna-2"]
        for _ in range(5):
            assert len(await fleet.recent_instances(owner=BEN)) == 5
        [named] = await fleet.recent_instances(RESEARCH.alias, name="BEN-3")
        assert (named.name, named.owner_object_id) == ("ben-3", BEN)
        assert await fleet.recent_instances(owner="00000000-0000-0000-0000-0000000000ff") == []
        assert (lists(arm), gets(arm)) == (1, 0)
    finally:
        await fleet.close()


async def test_one_named_instance_of_a_workspace_not_in_the_cache_is_one_get(
    arm: ArmStandIn, azure_env: dict[str, str]
) -> None:
    fleet = seeded(arm, fleet_cache_seconds=600)
    try:
        [named] = await fleet.recent_instances(RESEARCH.alias, name="anna-1")
        assert named.owner_object_id == ANNA
        assert await fleet.recent_instances(RESEARCH.alias, name="ghost-ci") == []
        assert (lists(arm), gets(arm)) == (0, 2)
    finally:
        await fleet.close()


async def test_with_no_cache_every_chat_read_lists(arm: ArmStandIn, azure_env: dict[str, str]) -> None:
    fleet = seeded(arm, fleet_cache_seconds=0)
    try:
        for _ in range(3):
            assert len(await fleet.recent_instances(owner=ANNA)) == 3
        assert lists(arm) == 3
    finally:
        await fleet.close()


async def test_curfews_accepted_stop_start_and_delete_are_answered_without_asking_azure(
    arm: ArmStandIn, azure_env: dict[str, str]
) -> None:
    """Azure answered 202: chat's view says Stopping, Starting, Deleting with no read at ARM. A created
    instance is not in the listing: it is read with one get."""
    fleet = seeded(arm, fleet_cache_seconds=600)
    ws = arm.state.workspace(RESEARCH.subscription_id, RESEARCH.resource_group, RESEARCH.workspace)
    arm.state.stop_by(ws, "anna-2", "IdleShutdown")
    try:
        await fleet.recent_instances(owner=ANNA)
        await fleet.stop(RESEARCH.alias, "anna-0")
        await fleet.start(RESEARCH.alias, "anna-2")
        await fleet.delete(RESEARCH.alias, "anna-1")
        states = {i.name: i.state for i in await fleet.recent_instances(owner=ANNA)}
        assert states == {
            "anna-0": InstanceState.STOPPING,
            "anna-1": InstanceState.DELETING,
            "anna-2": InstanceState.STARTING,
        }
        [named] = await fleet.recent_instances(RESEARCH.alias, name="ANNA-0")  # a card click
        assert named.state is InstanceState.STOPPING
        assert (lists(arm), gets(arm)) == (1, 0)

        await fleet.create(RESEARCH.alias, CreateSpec("anna-new", "Standard_DS3_v2", ANNA, TENANT))
        assert "anna-new" in {i.name for i in await fleet.recent_instances(owner=ANNA)}
        assert (lists(arm), gets(arm)) == (1, 1)  # the created one, never a re-listing

        # someone else's instances were not read again on Anna's behalf
        assert len(await fleet.recent_instances(owner=BEN)) == 5
        assert (lists(arm), gets(arm)) == (1, 1)
    finally:
        await fleet.close()


async def test_a_listing_in_flight_across_an_accepted_stop_does_not_bring_back_running(
    arm: ArmStandIn, azure_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """ARM answered a listing while anna-0 still ran; the stop was accepted before that listing
    reached the cache. The listing is stored, anna-0 stays Stopping, and nobody asks Azure."""
    fleet = seeded(arm, fleet_cache_seconds=600)
    answered, release = threading.Event(), threading.Event()
    list_instances = SdkCalls.list_instances

    def held(client: Any, ws: Any) -> Any:
        found = list_instances(client, ws)
        answered.set()
        release.wait(30)
        return found

    try:
        await fleet.recent_instances(owner=ANNA)
        monkeypatch.setattr(SdkCalls, "list_instances", staticmethod(held))
        listing = asyncio.ensure_future(fleet.list_instances(RESEARCH.alias))
        assert await asyncio.to_thread(answered.wait, 30)
        await fleet.stop(RESEARCH.alias, "anna-0")
        release.set()
        listed = {i.name: i.state for i in await listing}
        assert listed["anna-0"] is InstanceState.RUNNING  # what that listing saw at ARM
        states = {i.name: i.state for i in await fleet.recent_instances(owner=ANNA)}
        assert states["anna-0"] is InstanceState.STOPPING
        assert (lists(arm), gets(arm)) == (2, 0)
    finally:
        release.set()
        await fleet.close()


async def test_a_failed_stop_is_read_again_with_one_get(arm: ArmStandIn, azure_env: dict[str, str]) -> None:
    fleet = seeded(arm, fleet_cache_seconds=600)
    try:
        await fleet.recent_instances(owner=ANNA)
        arm.fail_next("POST", r"/computes/anna-0/stop$", 403)
        with pytest.raises(FleetError):
            await fleet.stop(RESEARCH.alias, "anna-0")
        states = {i.name: i.state for i in await fleet.recent_instances(owner=ANNA)}
        assert states["anna-0"] is InstanceState.RUNNING
        assert (lists(arm), gets(arm)) == (1, 1)
    finally:
        await fleet.close()


async def test_a_recorded_stop_expires_with_its_listing(arm: ArmStandIn, azure_env: dict[str, str]) -> None:
    """Past its seconds the listing answers once more (Stopping, as recorded) while the workspace is
    listed again; from then on chat says what Azure says."""
    fleet = seeded(arm, fleet_cache_seconds=30)
    now = [1000.0]
    fleet._cache._clock = lambda: now[0]  # the cache's clock, so no test sleeps
    ws = arm.state.workspace(RESEARCH.subscription_id, RESEARCH.resource_group, RESEARCH.workspace)
    try:
        await fleet.recent_instances(owner=ANNA)
        await fleet.stop(RESEARCH.alias, "anna-0")
        arm.state.stop_by(ws, "anna-0", "IdleShutdown")  # Azure has finished it
        now[0] += 29
        [named] = await fleet.recent_instances(RESEARCH.alias, name="anna-0")
        assert named.state is InstanceState.STOPPING and lists(arm) == 1
        now[0] += 2
        [named] = await fleet.recent_instances(RESEARCH.alias, name="anna-0")
        assert named.state is InstanceState.STOPPING  # the listing just expired
        await asyncio.gather(*fleet._refreshing.values())
        [named] = await fleet.recent_instances(RESEARCH.alias, name="anna-0")
        assert named.state is InstanceState.STOPPED
        assert (lists(arm), gets(arm)) == (2, 0)
    finally:
        await fleet.close()


async def test_many_own_writes_in_a_workspace_re_list_it_instead_of_one_get_each(
    arm: ArmStandIn, azure_env: dict[str, str]
) -> None:
    """Five accepted stops cost no read; five idle-shutdown settings (not recorded) re-list once."""
    fleet = seeded(arm, fleet_cache_seconds=600)
    try:
        await fleet.recent_instances()
        for n in range(5):
            await fleet.stop(RESEARCH.alias, f"ben-{n}")
        listed = await fleet.recent_instances(owner=BEN)
        assert {i.state for i in listed} == {InstanceState.STOPPING}
        assert (lists(arm), gets(arm)) == (1, 0)
        for n in range(5):
            await fleet.set_idle_shutdown(RESEARCH.alias, f"ben-{n}", 30)
        listed = await fleet.recent_instances(owner=BEN)
        assert {i.idle_shutdown_minutes for i in listed} == {30}
        assert (lists(arm), gets(arm)) == (2, 0)
    finally:
        await fleet.close()


async def test_the_sweep_lists_fresh_past_a_warm_cache_and_refreshes_it(
    arm: ArmStandIn, azure_env: dict[str, str], sqlite_store: Store
) -> None:
    """Chat's cache says stopped; Azure's own schedule started the instance since: the sweep sees it."""
    fleet = seeded(arm, fleet_cache_seconds=600)
    ws = arm.state.workspace(RESEARCH.subscription_id, RESEARCH.resource_group, RESEARCH.workspace)
    arm.state.stop_by(ws, "anna-2", "IdleShutdown")
    cached = {i.name: i.state for i in await fleet.recent_instances(owner=ANNA)}
    assert cached["anna-2"] is InstanceState.STOPPED
    arm.state.start_by_schedule(ws, "anna-2")  # behind Curfew's back: no write of its own

    settings = workspace_settings(RESEARCH, curfew={"verify_seconds": 0})
    report = await Sweeper(Runtime(settings, sqlite_store, fleet)).curfew(forced=True)
    try:
        stopped = {o.decision.instance.name for o in report.outcomes if o.kind is OutcomeKind.STOPPED}
        assert "anna-2" in stopped
        assert lists(arm) == 2  # chat's one, and the sweep's own
        after = {i.name: i.state for i in await fleet.recent_instances(owner=ANNA)}
        assert after["anna-2"] is not InstanceState.RUNNING  # the sweep's list and stops refreshed it
    finally:
        await fleet.close()


@pytest.mark.parametrize("seconds", [-1, 601])
def test_fleet_cache_seconds_is_bounded(seconds: float) -> None:
    with pytest.raises(ValidationError, match="fleet_cache_seconds"):
        Settings.model_validate({"azure": {"fleet_cache_seconds": seconds}})


async def test_one_subscriptions_budget_never_holds_anothers_stops(
    arm: ArmStandIn, azure_env: dict[str, str], sqlite_store: Store
) -> None:
    """One concurrency slot, two subscriptions: research's stops wait for its budget (2 now, then 2 a
    second); vision's two go out without waiting behind them."""
    started = datetime.now(UTC) - timedelta(hours=2)
    for n in range(6):
        seed_instance(arm, RESEARCH, f"r-{n}", owner_object_id=ANNA, last_started_at=started)
    for n in range(2):
        seed_instance(arm, VISION, f"v-{n}", owner_object_id=ANNA, last_started_at=started)
    fleet = make_fleet(arm, writes_per_second=2.0, write_burst=2, max_concurrency=1)
    settings = workspace_settings(
        RESEARCH, VISION, azure={"max_concurrency": 1}, curfew={"verify_seconds": 0}
    )
    try:
        report = await Sweeper(Runtime(settings, sqlite_store, fleet)).curfew(forced=True)
    finally:
        await fleet.close()
    assert report.count(OutcomeKind.STOPPED) == 8
    stops = [r.path for r in arm.requests_matching("POST", r"/stop$")]
    last_research = max(i for i, path in enumerate(stops) if "/ws-research/" in path)
    vision = [i for i, path in enumerate(stops) if "/ws-vision/" in path]
    assert len(vision) == 2 and max(vision) < last_research, stops


async def test_a_named_read_on_a_listing_just_expired_answers_from_it_and_lists_again_behind(
    arm: ArmStandIn, azure_env: dict[str, str]
) -> None:
    """A card click at the curfew hour: the workspace's listing is a little past its seconds. The click
    answers from it (no get queued behind the re-listing), and the workspace is listed again once,
    in the background; past the refresh window the named read is one get again."""
    fleet = seeded(arm, fleet_cache_seconds=30)
    now = [1000.0]
    fleet._cache._clock = lambda: now[0]  # the cache's clock, so no test sleeps
    try:
        assert len(await fleet.recent_instances(owner=ANNA)) == 3
        now[0] += 31  # expired, within REFRESH_WITHIN x 30 s
        [named] = await fleet.recent_instances(RESEARCH.alias, name="anna-1")
        assert named.owner_object_id == ANNA
        assert gets(arm) == 0
        await asyncio.gather(*fleet._refreshing.values())  # the background re-listing
        assert lists(arm) == 2
        assert fleet._cache.fresh(RESEARCH.alias) is not None

        now[0] += 30 * 5  # past the refresh window: nothing to answer from but Azure
        [named] = await fleet.recent_instances(RESEARCH.alias, name="anna-1")
        assert named.name == "anna-1"
        assert (lists(arm), gets(arm)) == (2, 1)
    finally:
        await fleet.close()


async def test_the_sweeps_listing_is_not_listed_again_by_chat_while_its_stops_go_on(
    arm: ArmStandIn, azure_env: dict[str, str]
) -> None:
    """A sweep of thousands: its listing of the workspace (with its accepted stops recorded in it)
    answers chat past `seconds` without a background re-listing while the stops go on; once they
    stopped `seconds` ago, chat's next turn re-lists as before."""
    fleet = seeded(arm, fleet_cache_seconds=30)
    now = [1000.0]
    fleet._cache._clock = lambda: now[0]  # the cache's clock, so no test sleeps
    try:
        async for _ in fleet.list_pages(RESEARCH.alias):  # the sweep's own listing
            pass
        now[0] += 20
        await fleet.stop(RESEARCH.alias, "anna-0")
        now[0] += 11
        states = {i.name: i.state for i in await fleet.recent_instances(owner=ANNA)}
        assert states["anna-0"] is InstanceState.STOPPING
        assert not fleet._refreshing and lists(arm) == 1
        now[0] += 20  # no write for 31 s
        assert len(await fleet.recent_instances(owner=ANNA)) == 3
        await asyncio.gather(*fleet._refreshing.values())
        assert (lists(arm), gets(arm)) == (2, 0)
    finally:
        await fleet.close()


async def test_chats_jobs_just_past_their_seconds_answer_while_listed_again_behind(
    arm: ArmStandIn, azure_env: dict[str, str]
) -> None:
    fleet = seeded(arm, fleet_cache_seconds=30)
    seed_job(arm, RESEARCH, "train-1", "anna-0", "Running")
    now = [1000.0]
    fleet._cache._clock = lambda: now[0]
    try:
        assert [j.compute for j in await fleet.recent_jobs(RESEARCH.alias)] == ["anna-0"]
        seed_job(arm, RESEARCH, "train-2", "anna-1", "Running")
        now[0] += 31
        assert [j.compute for j in await fleet.recent_jobs(RESEARCH.alias)] == ["anna-0"]
        await asyncio.gather(*fleet._refreshing.values())
        assert len(arm.requests_matching("GET", JOBS)) == 2
        assert sorted(j.compute for j in await fleet.recent_jobs(RESEARCH.alias)) == ["anna-0", "anna-1"]
        now[0] += 30 * 5  # past the refresh window: the turn waits for a new list
        assert len(await fleet.recent_jobs(RESEARCH.alias)) == 2
        assert len(arm.requests_matching("GET", JOBS)) == 3
    finally:
        await fleet.close()
