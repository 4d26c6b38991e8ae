"""How long a Python thread may hold the GIL while another waits for it, for Curfew's process.

The event loop serves every chat turn on one thread, while the Azure SDK's calls run on up to
`max_concurrency + 4 + 16 x subscriptions` worker threads (compute/azureml.py). A thread that wants
the GIL waits CPython's switch interval (5 ms by default) before the holder is asked to let go, and
then competes with every other waiting thread. At the curfew hour the loop's stalls were mostly such
waits (docs/benchmarks.md, issue 17's fifth pass); one millisecond shortens each. Measured: chat's p99
during a sweep of 10,000 fell to 151 ms (3.8x idle) with every process of the benchmark at 1 ms, on a
loaded machine, and the sweep's CPU per stop stayed within this machine's spread (3.54 and 4.10 ms at
1 ms, 3.33 at 5 ms); its effect on Curfew's process alone is not separated from the pass's other changes.
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
