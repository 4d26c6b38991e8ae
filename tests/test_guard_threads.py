"""The instance guard works on threads of its own: a sweep's re-checks never queue behind chat's
store calls in the event loop's default executor, nor chat's behind them."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.orm import Session

from domain.model import InstanceKey
from storage.repositories import Store


async def test_a_held_guard_reads_on_its_own_threads_while_the_default_executor_is_full(store: Store) -> None:
    loop = asyncio.get_running_loop()
    busy = ThreadPoolExecutor(max_workers=2)
    loop.set_default_executor(busy)
    release = threading.Event()
    blocked = [loop.run_in_executor(None, release.wait) for _ in range(2)]  # chat's threads, all taken
    try:

        def where(session: Session) -> str:
            return threading.current_thread().name

        async with store.guard.hold(InstanceKey("research", "gpu-ci")) as held:
            name = await asyncio.wait_for(held.run(where), 10)
        assert name.startswith("curfew-guard_")
    finally:
        release.set()
        await asyncio.gather(*blocked)
        busy.shutdown()
