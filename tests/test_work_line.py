"""WorkLine: at most `workers` items worked at once, lowest rank first, arrival order within a rank;
every item's result (or error) reaches its sink; as many tasks as workers, never one per item."""

from __future__ import annotations

import asyncio

import pytest

from scheduler.work_line import WorkLine


class Sink:
    def __init__(self) -> None:
        self.results: dict[int, str] = {}
        self.errors: dict[int, Exception] = {}

    def landed(self, index: int, result: str) -> None:
        self.results[index] = result

    def broke(self, index: int, error: Exception) -> None:
        self.errors[index] = error


class Worked:
    """The work: records who started, holds each item until released, then answers its name."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.busy = 0
        self.most_busy = 0
        self.go = asyncio.Event()

    async def __call__(self, item: str) -> str:
        self.started.append(item)
        self.busy += 1
        self.most_busy = max(self.most_busy, self.busy)
        try:
            await self.go.wait()
            if item.startswith("bad"):
                raise RuntimeError(f"{item} broke")
            return item.upper()
        finally:
            self.busy -= 1


async def _settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


async def test_items_are_served_lowest_rank_first_and_in_arrival_order_within_a_rank() -> None:
    work, sink = Worked(), Sink()
    line: WorkLine[str, str] = WorkLine(work, 1)
    line.put(5, "first", sink, 0)  # taken at once: the only worker is free
    await _settle()
    for index, (rank, item) in enumerate([(2, "b1"), (1, "a1"), (2, "b2"), (1, "a2"), (0, "z")], start=1):
        line.put(rank, item, sink, index)
    work.go.set()
    while len(sink.results) < 6:
        await asyncio.sleep(0)
    assert work.started == ["first", "z", "a1", "a2", "b1", "b2"]
    assert sink.results == {0: "FIRST", 1: "B1", 2: "A1", 3: "B2", 4: "A2", 5: "Z"}


async def test_at_most_workers_run_at_once_and_no_task_per_item() -> None:
    work, sink = Worked(), Sink()
    line: WorkLine[str, str] = WorkLine(work, 3)
    before = len(asyncio.all_tasks())
    for n in range(50):
        line.put(0, f"i{n}", sink, n)
    await _settle()
    assert len(asyncio.all_tasks()) - before == 3
    assert work.busy == 3 and len(line) == 47
    work.go.set()
    while len(sink.results) < 50:
        await asyncio.sleep(0)
    assert work.most_busy == 3
    assert sink.results == {n: f"I{n}" for n in range(50)}
    await _settle()
    assert len(asyncio.all_tasks()) == before  # the workers ended with the work


async def test_an_item_put_after_the_line_ran_empty_is_worked_by_a_new_worker() -> None:
    work, sink = Worked(), Sink()
    work.go.set()
    line: WorkLine[str, str] = WorkLine(work, 2)
    line.put(0, "early", sink, 0)
    while 0 not in sink.results:
        await asyncio.sleep(0)
    await _settle()
    line.put(0, "late", sink, 1)
    while 1 not in sink.results:
        await asyncio.sleep(0)
    assert sink.results == {0: "EARLY", 1: "LATE"}


async def test_an_item_that_raises_reaches_its_sink_as_an_error_and_the_rest_go_on() -> None:
    work, sink = Worked(), Sink()
    work.go.set()
    line: WorkLine[str, str] = WorkLine(work, 1)
    for n, item in enumerate(["ok1", "bad", "ok2"]):
        line.put(0, item, sink, n)
    while len(sink.results) + len(sink.errors) < 3:
        await asyncio.sleep(0)
    assert sink.results == {0: "OK1", 2: "OK2"}
    assert [str(e) for e in sink.errors.values()] == ["bad broke"] and list(sink.errors) == [1]


async def test_cancel_stops_the_workers_and_drops_what_waits() -> None:
    work, sink = Worked(), Sink()
    line: WorkLine[str, str] = WorkLine(work, 2)
    for n in range(5):
        line.put(0, f"i{n}", sink, n)
    await _settle()
    line.cancel()
    await _settle()
    work.go.set()
    await _settle()
    assert work.started == ["i0", "i1"] and len(line) == 0
    assert sink.results == {} and sink.errors == {}


def test_a_line_needs_a_worker() -> None:
    with pytest.raises(ValueError):
        WorkLine(Worked(), 0)
