"""One contract, every fleet: the simulated fleet and the Azure ML fleet (through the real SDK,
against the local ARM stand-in) must behave the same behind the port."""

from __future__ import annotations

import pytest

from compute.port import ActionResult, Busy, CreateSpec, NotFound
from domain.model import InstanceState
from tests.fleet_harness import OWNER, TENANT, FleetHarness


async def test_lists_seeded_instances_with_owner_and_state(harness: FleetHarness) -> None:
    instances = {i.name: i for i in await harness.fleet.list_instances()}
    assert {"gpu-ci", "cpu-ci", "old-ci"} <= set(instances)
    gpu = instances["gpu-ci"]
    assert (gpu.workspace, gpu.size, gpu.state, gpu.owner_object_id) == (
        harness.alias,
        "Standard_NC6s_v3",
        InstanceState.RUNNING,
        OWNER,
    )
    assert instances["old-ci"].state is InstanceState.STOPPED
    assert {i.name for i in await harness.fleet.list_instances(harness.alias)} == set(instances)


async def test_get_and_unknown(harness: FleetHarness) -> None:
    assert (await harness.fleet.get_instance(harness.alias, "cpu-ci")).size == "Standard_DS3_v2"
    with pytest.raises(NotFound, match="nope-ci"):
        await harness.fleet.get_instance(harness.alias, "nope-ci")


async def test_stop_is_accepted_then_settles_and_stopping_again_is_not_an_error(
    harness: FleetHarness,
) -> None:
    assert await harness.fleet.stop(harness.alias, "gpu-ci") is ActionResult.ACCEPTED
    state = (await harness.fleet.get_instance(harness.alias, "gpu-ci")).state
    assert state in (InstanceState.STOPPING, InstanceState.STOPPED)
    assert await harness.fleet.stop(harness.alias, "gpu-ci") is ActionResult.ALREADY
    await harness.settle()
    assert (await harness.fleet.get_instance(harness.alias, "gpu-ci")).state is InstanceState.STOPPED
    assert await harness.fleet.stop(harness.alias, "gpu-ci") is ActionResult.ALREADY


async def test_start_a_stopped_instance_and_a_running_one(harness: FleetHarness) -> None:
    assert await harness.fleet.start(harness.alias, "old-ci") is ActionResult.ACCEPTED
    assert await harness.fleet.start(harness.alias, "cpu-ci") is ActionResult.ALREADY
    await harness.settle()
    started = await harness.fleet.get_instance(harness.alias, "old-ci")
    assert started.state is InstanceState.RUNNING
    assert started.last_started_at is not None


async def test_start_while_stopping_is_busy(harness: FleetHarness) -> None:
    await harness.fleet.stop(harness.alias, "cpu-ci")
    with pytest.raises(Busy):
        await harness.fleet.start(harness.alias, "cpu-ci")


async def test_stop_unknown_is_not_found(harness: FleetHarness) -> None:
    with pytest.raises(NotFound):
        await harness.fleet.stop(harness.alias, "ghost-ci")


async def test_create_on_behalf_then_delete(harness: FleetHarness) -> None:
    spec = CreateSpec(
        "new-ci",
        "Standard_DS3_v2",
        "00000000-0000-0000-0000-000000000099",
        TENANT,
        60,
        {"curfew-request": "7"},
    )
    await harness.fleet.create(harness.alias, spec)
    await harness.settle()
    made = await harness.fleet.get_instance(harness.alias, "new-ci")
    assert made.owner_object_id == spec.owner_object_id
    assert made.state is InstanceState.RUNNING
    assert made.tags.get("curfew-request") == "7"
    await harness.fleet.delete(harness.alias, "new-ci")
    await harness.settle()
    with pytest.raises(NotFound):
        await harness.fleet.get_instance(harness.alias, "new-ci")


async def test_active_jobs_name_their_compute(harness: FleetHarness) -> None:
    jobs = await harness.fleet.list_active_jobs(harness.alias)
    assert [(j.name, j.compute) for j in jobs] == [("train-42", "train-ci")]


async def test_chats_view_narrows_by_owner_and_name_and_shows_curfews_own_stop(harness: FleetHarness) -> None:
    fleet, alias = harness.fleet, harness.alias
    mine = await fleet.recent_instances(owner=OWNER.upper())
    assert {"gpu-ci", "cpu-ci", "train-ci", "old-ci"} <= {i.name for i in mine}
    assert all(i.owner_object_id == OWNER for i in mine)
    assert await fleet.recent_instances(owner="00000000-0000-0000-0000-0000000000ff") == []
    [named] = await fleet.recent_instances(alias, name="GPU-CI")
    assert (named.name, named.state) == ("gpu-ci", InstanceState.RUNNING)
    assert await fleet.recent_instances(name="nope-ci") == []

    await fleet.stop(alias, "gpu-ci")  # the view is not older than Curfew's own write
    [named] = await fleet.recent_instances(alias, name="gpu-ci")
    assert named.state in (InstanceState.STOPPING, InstanceState.STOPPED)


async def test_chats_view_of_jobs_matches_the_fresh_list(harness: FleetHarness) -> None:
    fresh = await harness.fleet.list_active_jobs(harness.alias)
    recent = await harness.fleet.recent_jobs(harness.alias)
    assert [(j.name, j.compute) for j in recent] == [(j.name, j.compute) for j in fresh]
    assert ("train-42", "train-ci") in [(j.name, j.compute) for j in recent]
