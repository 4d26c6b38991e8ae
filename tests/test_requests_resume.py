"""After a restart, approved requests a dead process left half-way are finished, once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from compute.port import CreateSpec
from domain.model import InstanceState
from scheduler.notify import LoggingNotifier
from scheduler.service import CurfewScheduler
from storage.repositories import Store
from tests.conftest import FakeClock
from tests.test_requests import DANA, TENANT, Env, make_env


@pytest.fixture
def env(sqlite_store: Store, clock: FakeClock) -> Env:
    return make_env(sqlite_store, clock)


def add_request(env: Env, name: str, state: str) -> int:
    now = env.rt.clock()
    row = env.rt.store.requests.add(
        requester_object_id=DANA,
        requester_tenant_id=TENANT,
        requester_name="Dana",
        workspace="demo",
        name=name,
        size="Standard_NC6s_v3",
        purpose="training",
        morning_start=False,
        state=state,
        created_at=now - timedelta(minutes=5),
        updated_at=now,
        cards=[],
    )
    return row.id


async def test_an_approved_request_never_created_is_created_and_a_creating_one_followed(env: Env) -> None:
    approved = add_request(env, "dana-new-1", "approved")
    creating = add_request(env, "dana-new-2", "creating")
    await env.rt.fleet.create("demo", CreateSpec("dana-new-2", "Standard_NC6s_v3", DANA, TENANT, 60))
    first = CurfewScheduler(env.rt, LoggingNotifier(), pending=env.approvals, owner="restarted")
    await first.catch_up()
    await CurfewScheduler(
        env.rt, LoggingNotifier(), pending=env.approvals, owner="other-replica"
    ).catch_up()  # finds them claimed
    env.rt.clock.advance(seconds=30)  # type: ignore[attr-defined]  # the simulated creations complete
    await env.settle()
    assert [spec.name for _, spec in env.fleet.creates] == ["dana-new-2", "dana-new-1"]  # one create each
    assert (await env.rt.fleet.get_instance("demo", "dana-new-1")).state is InstanceState.RUNNING
    states = {r: (await env.request_row(r)).state for r in (approved, creating)}
    assert states == {approved: "ready", creating: "ready"}
    ready = [t for t in env.inbox.texts_for(DANA) if "is ready" in t]
    assert len(ready) == 2
