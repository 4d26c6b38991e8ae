"""AsyncTokenBucket on a fake clock: the fake sleep advances the clock instead of waiting."""

from __future__ import annotations

import asyncio

import pytest

from compute.budget import AsyncTokenBucket


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


def bucket(fake: FakeTime, rate: float = 10.0, burst: int = 3) -> AsyncTokenBucket:
    return AsyncTokenBucket(rate, burst, fake.clock, sleep=fake.sleep)


async def test_burst_is_free_then_tokens_come_at_the_rate(fake: FakeTime) -> None:
    b = bucket(fake, rate=10.0, burst=3)
    for _ in range(3):
        await b.acquire()
    assert fake.now == 100.0
    await b.acquire()
    await b.acquire()
    assert fake.now == pytest.approx(100.2)


async def test_concurrent_acquirers_are_spaced_by_the_rate(fake: FakeTime) -> None:
    b = bucket(fake, rate=4.0, burst=1)
    granted: list[float] = []

    async def one() -> None:
        await b.acquire()
        granted.append(fake.now)

    await asyncio.gather(*(one() for _ in range(5)))
    assert granted == pytest.approx([100.0, 100.25, 100.5, 100.75, 101.0])


async def test_pause_holds_every_acquirer_and_empties_the_bucket(fake: FakeTime) -> None:
    b = bucket(fake, rate=10.0, burst=5)
    await b.acquire()
    b.pause_for(3.0)
    assert b.paused_until == pytest.approx(103.0)
    assert not b.try_acquire()
    await asyncio.gather(b.acquire(), b.acquire())
    # Resumes at the refill rate after the pause, not with a burst.
    assert fake.now == pytest.approx(103.2)


async def test_a_shorter_pause_never_cuts_a_longer_one(fake: FakeTime) -> None:
    b = bucket(fake)
    b.pause_for(5.0)
    b.pause_for(1.0)
    await b.acquire()
    assert fake.now >= 105.0


async def test_refill_caps_at_burst(fake: FakeTime) -> None:
    b = bucket(fake, rate=10.0, burst=3)
    fake.now += 60.0
    assert b.tokens == 3.0
    assert [b.try_acquire() for _ in range(4)] == [True, True, True, False]


async def test_tokens_on_their_way_keep_room_in_the_servers_bucket(fake: FakeTime) -> None:
    # The server takes a token when a request arrives; while ten travel, its full bucket wastes its
    # refill, so the client's own must not refill past burst minus those ten either.
    travelling = [0]
    b = AsyncTokenBucket(10.0, 10, fake.clock, sleep=fake.sleep, outstanding=lambda: travelling[0])
    for _ in range(10):
        await b.acquire()
        travelling[0] += 1
    fake.now += 1.0  # they arrive only now: the server has 10 - 10 = 0 left
    assert b.tokens == 0.0
    travelling[0] = 0  # answered
    fake.now += 0.5
    assert b.tokens == pytest.approx(5.0)  # as the server: refilled since they arrived
    fake.now += 60.0
    assert b.tokens == 10.0


async def test_pause_reaches_a_waiter_already_sleeping() -> None:
    # Real clock, short waits: a waiter mid-sleep sees a pause that starts while it sleeps.
    b = AsyncTokenBucket(rate_per_s=20.0, burst=1)
    await b.acquire()
    loop = asyncio.get_running_loop()
    started = loop.time()
    waiter = asyncio.create_task(b.acquire())
    await asyncio.sleep(0.01)
    b.pause_for(0.15)
    await waiter
    assert loop.time() - started >= 0.15


def test_rejects_nonsense_configuration() -> None:
    with pytest.raises(ValueError):
        AsyncTokenBucket(0, 1)
    with pytest.raises(ValueError):
        AsyncTokenBucket(1.0, 0)
