"""Promises kept across a restart: what a turn committed to the outbox is done by the next process's
worker, once; a create a dead process got through is not asked again; requests an older Curfew left
approved or creating (before the outbox) become outbox rows when the database is upgraded."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from bot.turns import Reply, SendOutcome, SendResult
from compute.port import CreateSpec
from domain.model import InstanceState
from storage.db import alembic_config, upgrade
from storage.repositories import Store
from tests.conftest import FakeClock
from tests.test_requests import ALEX, DANA, TENANT, Env, Inbox, action, click, make_env


@pytest.fixture
def env(sqlite_store: Store, clock: FakeClock) -> Env:
    return make_env(sqlite_store, clock)


async def approved_then_killed(env: Env) -> int:
    """Dana asks, Alex approves; the process dies before its worker did any of the follow-ups."""
    await env.request()
    await click(env.chat, action(env.inbox.cards_for(ALEX)[0], "Approve"), ALEX)
    return 1


async def test_an_approval_whose_process_died_is_created_and_told_once_by_the_next(
    sqlite_store: Store, clock: FakeClock
) -> None:
    first = make_env(sqlite_store, clock)
    await approved_then_killed(first)
    assert first.fleet.creates == [] and (await first.request_row()).state == "approved"
    kinds = [r.kind for r in sqlite_store.outbox.rows() if r.done_at is None]
    assert sorted(kinds) == ["request.create", "request.decided", "request.refresh"]
    restarted = make_env(sqlite_store, clock)  # a new process on the same database
    await restarted.settle()
    assert [spec.name for _, spec in restarted.fleet.creates] == ["dana-gpu"]
    assert (await restarted.request_row()).state == "ready"
    texts = first.inbox.texts_for(DANA) + restarted.inbox.texts_for(DANA)
    assert len([t for t in texts if "approved your request #1" in t]) == 1
    assert len([t for t in texts if "dana-gpu is ready" in t]) == 1
    assert all(r.done_at is not None for r in sqlite_store.outbox.rows())


async def test_a_create_that_got_through_before_a_crash_is_not_asked_again(env: Env) -> None:
    await approved_then_killed(env)
    now = datetime.now(UTC)
    [row] = [i for i in env.rt.store.outbox.claim("dead-process", now, 0.05) if i.kind == "request.create"]
    await env.rt.fleet.create("demo", CreateSpec("dana-gpu", "Standard_NC6s_v3", DANA, TENANT, 60))
    creates = len(env.fleet.creates)  # the dead process's create, which Azure accepted
    await env.settle()  # its lease lapses; this worker takes the row over
    assert len(env.fleet.creates) == creates
    assert (await env.request_row()).state == "ready"
    assert (await env.rt.fleet.get_instance("demo", "dana-gpu")).state is InstanceState.RUNNING
    assert [r.claims for r in env.rt.store.outbox.rows() if r.id == row.id] == [2]


async def test_requests_an_older_curfew_left_half_way_become_outbox_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    with engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
        for rid, state in ((1, "approved"), (2, "creating"), (3, "pending"), (4, "ready")):
            connection.execute(
                text(
                    "INSERT INTO compute_request (id, requester_object_id, requester_tenant_id, workspace, "
                    "name, size, purpose, morning_start, state, created_at, updated_at, cards) VALUES "
                    "(:id, :who, :tenant, 'demo', :name, 'Standard_NC6s_v3', 'x', 0, :state, :at, :at, '[]')"
                ),
                {
                    "id": rid,
                    "who": DANA,
                    "tenant": TENANT,
                    "name": f"old-{rid}",
                    "state": state,
                    "at": datetime(2026, 11, 1, tzinfo=UTC).isoformat(),
                },
            )
    upgrade(engine)
    store = Store(engine)
    try:
        rows = [(r.kind, r.payload) for r in store.outbox.rows()]
        assert rows == [("request.create", {"request": 1}), ("request.follow", {"request": 2})]
    finally:
        store.close()


class FlakyInbox(Inbox):
    """Teams refuses the first `failures` sends to `user` for now (5xx past the messenger's retries)."""

    def __init__(self, user: str, failures: int) -> None:
        super().__init__()
        self.user, self.failures = user, failures

    async def send(self, aad_object_id: str, tenant_id: str | None, reply: Reply) -> SendResult:
        if aad_object_id == self.user and self.failures > 0:
            self.failures -= 1
            return SendResult(SendOutcome.FAILED, detail="503 from the connector")
        return await super().send(aad_object_id, tenant_id, reply)


async def test_an_approval_card_that_failed_to_send_is_sent_again(
    sqlite_store: Store, clock: FakeClock
) -> None:
    env = make_env(sqlite_store, clock, outbox={"backoff_seconds": 0.01})
    flaky = FlakyInbox(ALEX, failures=2)
    env.inbox.send = flaky.send  # type: ignore[method-assign]
    flaky.sent = env.inbox.sent
    await env.request()
    assert len(env.inbox.cards_for(ALEX)) == 1 and flaky.failures == 0  # after two refusals
    request = await env.request_row()
    assert [c["aad"] for c in request.cards] == ["00000000-0000-0000-0000-000000000022", ALEX]
    resent = [r for r in sqlite_store.outbox.rows() if r.kind == "request.card"]
    assert [(r.outcome, r.failures) for r in resent] == [("done", 1)]
