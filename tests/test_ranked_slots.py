"""RankedSlots: at most `size` holders; waiters served lowest rank first, first come first served
within a rank; a waiter cancelled in the queue is skipped, and one cancelled as its slot came passes
the slot on."""

from __future__ import annotations

import asyncio

import pytest

from scheduler.ranked_slots import RankedSlots


async def _holder(slots: RankedSlots, rank: int, name: str, order: list[str], release: asyncio.Event) -> None:
    async with slots.hold(rank):
        order.append(name)
        await release.wait()


async def _queued(*tasks: asyncio.Task[None]) -> None:
    """Let every task run up to its first wait."""
    for _ in range(len(tasks) + 2):
        await asyncio.sleep(0)


async def test_waiters_take_the_slots_lowest_rank_first_and_in_arrival_order_within_a_rank() -> None:
    slots, order, go = RankedSlots(1), [], asyncio.Event()
    first = asyncio.create_task(_holder(slots, 5, "holder", order, go))
    await _queued(first)
    waiters = [
        asyncio.create_task(_holder(slots, rank, name, order, go))
        for rank, name in [(1, "b1"), (0, "a1"), (1, "b2"), (0, "a2")]
    ]
    await _queued(*waiters)
    assert order == ["holder"]  # one slot, held
    go.set()
    await asyncio.gather(first, *waiters)
    assert order == ["holder", "a1", "a2", "b1", "b2"]
    assert slots.free == 1


async def test_more_slots_than_one_are_held_at_once() -> None:
    slots, order, go = RankedSlots(2), [], asyncio.Event()
    tasks = [asyncio.create_task(_holder(slots, 0, str(n), order, go)) for n in range(3)]
    await _queued(*tasks)
    assert order == ["0", "1"] and slots.free == 0
    go.set()
    await asyncio.gather(*tasks)
    assert order == ["0", "1", "2"] and slots.free == 2


async def _one_held_two_waiting(
    first: str, second: str
) -> tuple[RankedSlots, list[str], asyncio.Event, list[asyncio.Task[None]]]:
    """One slot, held by "holder"; `first` (rank 0) and `second` (rank 1) wait for it."""
    slots, order, go = RankedSlots(1), [], asyncio.Event()
    holder = asyncio.create_task(_holder(slots, 0, "holder", order, go))
    await _queued(holder)
    waiting = [
        asyncio.create_task(_holder(slots, n, name, order, go)) for n, name in enumerate((first, second))
    ]
    await _queued(*waiting)
    return slots, order, go, [holder, *waiting]


async def test_a_waiter_cancelled_in_the_queue_is_skipped() -> None:
    slots, order, go, (holder, gone, later) = await _one_held_two_waiting("gone", "later")
    gone.cancel()
    go.set()
    await asyncio.gather(holder, later)
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert order == ["holder", "later"] and slots.free == 1


async def test_a_waiter_cancelled_as_its_slot_came_passes_the_slot_on() -> None:
    slots, order, go, (holder, unlucky, next_one) = await _one_held_two_waiting("unlucky", "next")
    go.set()
    await asyncio.sleep(0)  # the holder leaves and hands its slot to `unlucky`, not yet resumed
    assert holder.done() and slots.free == 0
    unlucky.cancel()
    await _queued(unlucky, next_one)
    assert order == ["holder", "next"] and next_one.done()  # not left waiting for a slot nobody holds
    with pytest.raises(asyncio.CancelledError):
        await unlucky
    assert slots.free == 1


def test_a_size_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RankedSlots(0)
