"""A work line: queued items run by at most `workers` tasks at once, lowest rank first, in arrival
order within a rank.

The sweep queues each subscription's stops on one (scheduler/sweep.py). Ten thousand stops are then
ten thousand entries of a heap and sixteen tasks, not ten thousand tasks waiting for a slot: each of
those held a coroutine, a context and a future alive for the whole night, and the garbage collector
walked them all at every full collection, an event-loop pause of 0.2-0.5 s at the curfew hour while
people click their warning cards (docs/benchmarks.md, issue 17's fifth pass).

An item's result goes to its sink (`landed`), or, when the work raised, its error (`broke`): one item
failing never stops the line.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable, Callable
from typing import Generic, Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")
R_contra = TypeVar("R_contra", contravariant=True)


class Sink(Protocol[R_contra]):
    def landed(self, index: int, result: R_contra) -> None: ...

    def broke(self, index: int, error: Exception) -> None: ...


class WorkLine(Generic[T, R]):
    def __init__(self, work: Callable[[T], Awaitable[R]], workers: int) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self._work = work
        self._workers = workers
        self._queue: list[tuple[int, int, T, Sink[R], int]] = []
        self._arrivals = itertools.count()
        self._running: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        """Items waiting (not those being worked on)."""
        return len(self._queue)

    def put(self, rank: int, item: T, sink: Sink[R], index: int) -> None:
        """Queue `item`; its result goes to `sink.landed(index, result)`."""
        heapq.heappush(self._queue, (rank, next(self._arrivals), item, sink, index))
        if len(self._running) < self._workers:
            worker = asyncio.create_task(self._serve())
            self._running.add(worker)
            worker.add_done_callback(self._running.discard)

    def cancel(self) -> None:
        """Cancel the workers and drop what waits (the night was cancelled)."""
        self._queue.clear()
        for worker in self._running:
            worker.cancel()

    async def _serve(self) -> None:
        while self._queue:
            _, _, item, sink, index = heapq.heappop(self._queue)
            try:
                result = await self._work(item)
            except Exception as error:
                sink.broke(index, error)
            else:
                sink.landed(index, result)
