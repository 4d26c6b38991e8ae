"""How long a Python thread may hold the GIL while another waits for it, for Curfew's process.

The event loop serves every chat turn on one thread, while the Azure SDK's calls run on up to
`max_concurrency + 4 + 16 x subscriptions` worker threads (compute/azureml.py). A thread that wants
the GIL waits CPython's switch interval (5 ms by default) before the holder is asked to let go, and
then competes with every other waiting thread: at the curfew hour, with a hundred stops and the
listings' parsing in flight, each of the loop's wake-ups (a turn makes dozens) waited one or more
such intervals, and chat's p99 grew tenfold. One millisecond keeps the loop's waits short; the
extra switches cost little against the work between them (docs/benchmarks.md, issue 17's fifth pass).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

SWITCH_SECONDS = 0.001


@contextmanager
def short_switches() -> Iterator[None]:
    """Curfew's switch interval while it runs; the one before when it ends (tests start many)."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_SECONDS)
    try:
        yield
    finally:
        sys.setswitchinterval(before)
