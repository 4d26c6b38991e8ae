"""Ranked slots: a semaphore whose waiters are served lowest rank first, first come first served
within a rank.

The sweep holds one per subscription. Each workspace of a subscription has a rank (its place in the
configuration), so while stops queue for the subscription's slots, the first workspace's stops go
out before the second's: the subscription's workspaces finish one after another, and each is
verified while the next one's stops still go out, instead of all of them at the end of the night.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class RankedSlots:
    """At most `size` holders at once."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self._free = size
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._arrivals = itertools.count()

    @property
    def free(self) -> int:
        return self._free

    @asynccontextmanager
    async def hold(self, rank: int) -> AsyncIterator[None]:
        await self._take(rank)
        try:
            yield
        finally:
            self._release()

    async def _take(self, rank: int) -> None:
        if self._free > 0:
            self._free -= 1
            return
        granted = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (rank, next(self._arrivals), granted))
        try:
            await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():  # the slot came as it was cancelled
                self._release()
            raise

    def _release(self) -> None:
        """Hand the slot to the waiter of lowest rank (skipping the cancelled), else free it."""
        while self._waiters:
            _, _, granted = heapq.heappop(self._waiters)
            if not granted.done():
                granted.set_result(None)
                return
        self._free += 1
