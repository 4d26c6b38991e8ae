"""Thread pools whose threads are started ahead, off the event loop.

`ThreadPoolExecutor` starts a thread when work finds none idle, inside `submit`, and `Thread.start`
waits until the new thread runs. Called from the event loop, each start pauses the loop for as
long as the new thread waits for the GIL: at the curfew hour the sweep's first burst of stops
started up to 160 threads of the Azure pool while the listings were parsed beside them, and the
loop stood still for 0.25-0.5 s at a time (docs/benchmarks.md, issue 17's fifth pass). `started`
starts a pool's threads from a thread of its own instead, right after the pool is made.
"""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor

START_SECONDS = 2.0
"""How long the starting threads wait for each other (all of them start within milliseconds on an
idle pool); past it they give up and the pool starts the rest on demand, as any pool does. Work
submitted meanwhile waits at most this long, once."""


def started(workers: int, name: str) -> ThreadPoolExecutor:
    """A pool of `workers` threads, all of them started (in the background) by a thread of its own."""
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
    threading.Thread(target=_start_all, args=(pool, workers), name=f"{name}-start", daemon=True).start()
    return pool


def _start_all(pool: ThreadPoolExecutor, workers: int) -> None:
    """Each of `workers` tasks holds its thread until all of them run, so the pool starts that many."""
    together = threading.Barrier(workers)

    def hold() -> None:
        with contextlib.suppress(threading.BrokenBarrierError):
            together.wait(START_SECONDS)

    try:
        for _ in range(workers):
            pool.submit(hold)
    except RuntimeError:  # the pool was shut down meanwhile
        together.abort()
