"""The outbox and its worker, on SQLite and PostgreSQL: a claim holds a row for its lease and no
longer; a claim whose lease was taken over cannot finish the row; PostgreSQL's claim skips rows
another transaction has locked instead of waiting; failures back off and end; and two replicas (two
engines, two workers) draining one outbox do each row exactly once."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError

from bot.flows.worker import Later, OutboxWorker
from config.settings import OutboxSettings
from storage.outbox import ClaimLost, OutboxItem, Tx
from storage.repositories import Store

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
QUICK = OutboxSettings(lease_seconds=30, idle_seconds=0.01, backoff_seconds=0.01, max_attempts=3)


def enqueue(store: Store, count: int, kind: str = "job") -> None:
    def write(tx: Tx) -> None:
        for n in range(count):
            tx.enqueue(kind, {"n": n})

    store._atomically(write)


def test_a_claim_holds_a_row_for_its_lease_then_another_may_take_it(store: Store) -> None:
    enqueue(store, 1)
    later = datetime.now(UTC) + timedelta(seconds=1)
    [first] = store.outbox.claim("a", later, lease=60)
    assert store.outbox.claim("b", later + timedelta(seconds=59), lease=60) == []
    [taken] = store.outbox.claim("b", later + timedelta(seconds=61), lease=60)
    assert taken.id == first.id and taken.claims == 2
    assert not store.outbox.finish(first, later)  # "a" lost it: it cannot finish the row
    assert store.outbox.finish(taken, later)
    assert store.outbox.claim("c", later + timedelta(days=1), lease=60) == []  # done is done


def test_a_transaction_that_completes_a_lost_row_commits_nothing(store: Store) -> None:
    enqueue(store, 1)
    later = datetime.now(UTC) + timedelta(seconds=1)
    [stale] = store.outbox.claim("a", later, lease=1)
    store.outbox.claim("b", later + timedelta(seconds=2), lease=60)

    def write(tx: Tx) -> None:
        tx.enqueue("follow-up", {})
        tx.complete(stale)

    with pytest.raises(ClaimLost):
        store._atomically(write)
    assert [r.kind for r in store.outbox.rows()] == ["job"]


def test_postgres_claims_skip_a_row_another_transaction_holds(postgres_url: str) -> None:
    store = Store.open(postgres_url)
    try:
        enqueue(store, 2)
        held = threading.Event()
        release = threading.Event()

        def hold_first_row() -> None:
            with store.engine.begin() as connection:
                connection.execute(text("SELECT id FROM outbox WHERE id = 1 FOR UPDATE"))
                held.set()
                release.wait(10)

        holder = threading.Thread(target=hold_first_row)
        holder.start()
        assert held.wait(10)
        claimed = store.outbox.claim("b", datetime.now(UTC) + timedelta(seconds=1), lease=60)
        release.set()
        holder.join()
        assert [i.payload for i in claimed] == [{"n": 1}]  # not blocked by row 1: passed it by
    finally:
        store.close()


async def test_a_failing_row_backs_off_and_is_given_up_after_max_attempts(store: Store) -> None:
    enqueue(store, 1)
    tries: list[int] = []

    async def failing(item: OutboxItem) -> None:
        tries.append(item.failures)
        raise RuntimeError("Teams is down")

    worker = OutboxWorker(store, {"job": failing}, "w", QUICK)
    await worker.drain(limit_seconds=10)
    assert tries == [0, 1, 2]
    [row] = store.outbox.rows()
    assert row.outcome == "gave up" and row.failures == 2 and "Teams is down" in (row.last_error or "")


async def test_later_runs_the_row_again_without_counting_a_failure(store: Store) -> None:
    enqueue(store, 1)
    seen: list[int] = []

    async def polling(item: OutboxItem) -> Later | None:
        seen.append(item.claims)
        return Later(0.01) if len(seen) < 3 else None

    await OutboxWorker(store, {"job": polling}, "w", QUICK).drain(limit_seconds=10)
    [row] = store.outbox.rows()
    assert seen == [1, 2, 3] and row.failures == 0 and row.outcome == "done"


async def test_two_replicas_draining_one_outbox_do_each_row_once(db_url: str) -> None:
    replicas = [Store.open(db_url), Store.open(db_url, migrate=False)]  # two engines, two pools
    try:
        enqueue(replicas[0], 120)
        done: list[tuple[str, int]] = []

        def handler(owner: str):  # type: ignore[no-untyped-def]
            async def do(item: OutboxItem) -> None:
                done.append((owner, int(item.payload["n"])))
                await asyncio.sleep(0.002)

            return do

        workers = [
            OutboxWorker(store, {"job": handler(f"replica-{i}")}, f"replica-{i}", QUICK, batch=4)
            for i, store in enumerate(replicas)
        ]
        for worker in workers:  # as in the service: running all the time
            worker.start()
        try:
            for _ in range(6000):  # a hang guard, not a time limit on the work
                if len(done) >= 120 and all(r.done_at for r in replicas[1].outbox.rows()):
                    break
                await asyncio.sleep(0.01)
        finally:
            for worker in workers:
                await worker.close()
        counts = Counter(n for _, n in done)
        assert sorted(counts) == list(range(120)) and set(counts.values()) == {1}
        by_replica = Counter(owner for owner, _ in done)
        assert len(by_replica) == 2, by_replica  # both drained: the claims really met
        assert all(r.done_at is not None for r in replicas[0].outbox.rows())
    finally:
        for store in replicas:
            store.close()


def started_worker(store: Store) -> tuple[OutboxWorker, asyncio.Event]:
    """A started worker whose one handler, `job`, sets the event; its idle poll (30 s) never wakes it in a test."""
    done = asyncio.Event()

    async def job(item: OutboxItem) -> None:
        done.set()

    worker = OutboxWorker(store, {"job": job}, "w", OutboxSettings(idle_seconds=30))
    worker.start()
    return worker, done


async def test_a_worker_started_with_the_service_does_rows_enqueued_later(store: Store) -> None:
    worker, done = started_worker(store)
    try:
        await store.atomically(lambda tx: tx.enqueue("job", {}))
        await asyncio.wait_for(done.wait(), 10)  # woken by the commit, not by its 30 s idle poll
    finally:
        await worker.close()


async def test_a_row_done_after_a_claim_that_found_less_starts_no_claim(store: Store) -> None:
    """A claim is a write transaction: once a claim found fewer rows than it asked for, a row finishing
    leaves nothing to claim; the next claim waits for work enqueued here or the idle poll."""
    claims: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE OUTBOX SET CLAIMED_BY"):
            claims.append(statement)

    enqueue(store, 1)
    event.listen(store.engine, "before_cursor_execute", count)
    worker, done = started_worker(store)
    try:
        await asyncio.wait_for(done.wait(), 10)
        for _ in range(100):  # the row is finished just after its handler; a claim would follow at once
            if all(r.done_at for r in store.outbox.rows()):
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)
    finally:
        await worker.close()
    assert all(r.done_at for r in store.outbox.rows())
    assert len(claims) == 1  # the first claim, which found the row and less than its batch


def test_done_rows_are_pruned_after_a_while_and_undone_ones_never(store: Store) -> None:
    enqueue(store, 2)
    later = datetime.now(UTC) + timedelta(seconds=1)
    first, _ = store.outbox.claim("a", later, lease=60)
    store.outbox.finish(first, later)
    assert store.outbox.prune(later) == 0  # done just now
    assert store.outbox.prune(later + timedelta(days=8)) == 1
    assert [r.done_at for r in store.outbox.rows()] == [None]


async def test_a_clean_shutdown_gives_its_rows_back_for_another_replica_at_once(store: Store) -> None:
    started = asyncio.Event()

    async def slow(item: OutboxItem) -> None:
        started.set()
        await asyncio.Event().wait()  # never finishes on its own

    worker = OutboxWorker(store, {"job": slow}, "leaving", OutboxSettings(lease_seconds=3600))
    worker.start()
    await store.atomically(lambda tx: tx.enqueue("job", {}))
    await asyncio.wait_for(started.wait(), 10)
    await worker.close()
    [taken] = store.outbox.claim("staying", datetime.now(UTC) + timedelta(seconds=1), lease=60)
    assert taken.claims == 2  # no hour-long lease to wait out


async def test_a_running_worker_rides_out_a_database_outage(store: Store) -> None:
    refusals = {"left": 3}

    def refuse_claims(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE OUTBOX SET CLAIMED_BY") and refusals["left"]:
            refusals["left"] -= 1
            raise OperationalError(statement, params, Exception("injected: the database restarts"))

    event.listen(store.engine, "before_cursor_execute", refuse_claims)
    done = asyncio.Event()

    async def job(item: OutboxItem) -> None:
        done.set()

    worker = OutboxWorker(store, {"job": job}, "w", OutboxSettings(idle_seconds=0.01))
    await store.atomically(lambda tx: tx.enqueue("job", {}))
    worker.start()
    try:
        await asyncio.wait_for(done.wait(), 30)  # a hang guard
    finally:
        await worker.close()
    assert refusals["left"] == 0
