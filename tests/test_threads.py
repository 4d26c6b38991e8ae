"""ops.threads.started: a pool whose threads all start off the caller's thread, and that works as any pool."""

from __future__ import annotations

import asyncio
import threading
import time

from ops.threads import started


def _pool_threads(prefix: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(f"{prefix}_")]


def _eventually(check: object, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.01)


def test_all_of_a_pools_threads_start_before_any_work_comes() -> None:
    pool = started(12, "t-ahead")
    try:
        _eventually(lambda: len(_pool_threads("t-ahead")) == 12)
        assert pool.submit(lambda: threading.current_thread().name).result(5).startswith("t-ahead_")
        assert len(_pool_threads("t-ahead")) == 12  # the work found a started thread: none more
    finally:
        pool.shutdown(wait=True)
    assert not _pool_threads("t-ahead")


async def test_the_event_loop_starts_no_thread_when_work_goes_to_the_pool() -> None:
    pool = started(8, "t-loop")
    try:
        _eventually(lambda: len(_pool_threads("t-loop")) == 8)
        loop_thread = threading.current_thread()
        starts: list[str] = []
        real_start = threading.Thread.start

        def noting(thread: threading.Thread) -> None:
            if threading.current_thread() is loop_thread:
                starts.append(thread.name)
            real_start(thread)

        threading.Thread.start = noting  # type: ignore[method-assign]
        try:
            loop = asyncio.get_running_loop()
            names = await asyncio.gather(
                *(loop.run_in_executor(pool, lambda: threading.current_thread().name) for _ in range(8))
            )
        finally:
            threading.Thread.start = real_start  # type: ignore[method-assign]
        assert all(n.startswith("t-loop_") for n in names) and starts == []
    finally:
        pool.shutdown(wait=True)


def test_a_pool_shut_down_while_its_threads_start_ends_without_waiting_for_them() -> None:
    pool = started(50, "t-early")
    pool.shutdown(wait=True)  # whatever had started holds at most START_SECONDS, then ends
    _eventually(lambda: not _pool_threads("t-early"))
