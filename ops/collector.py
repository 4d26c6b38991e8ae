"""The garbage collector at the curfew hour: no full collection while a sweep runs.

A full (generation 2) collection walks every object the collector tracks, on whichever thread
allocated last: the event loop stalls for as long. During a sweep of ten thousand instances the
process tracks 200-400k objects (the night's listings, decisions and outcomes, chat's view of the
fleet) and CPython's default thresholds ran five to eight full collections in its first 40 s, each
a 0.12-0.45 s pause of every chat turn in flight (docs/benchmarks.md, issue 17's fifth pass). Young
collections go on as usual (they walk only what is new and catch most short-lived cycles); the full
one waits until the last sweep in progress ends, then runs when CPython next finds it due.

Nested and concurrent holders (a curfew and a delayed stop) share one count: the thresholds come back
when the last one leaves.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

DEFERRED = 1_000_000
"""Generation 2's threshold while a sweep runs: young collections between full ones (CPython's
default is 10, one full collection per ~70,000 net allocations of tracked objects)."""

_holders = 0
_saved: tuple[int, ...] = ()
_lock = threading.Lock()


@contextmanager
def no_full_collections() -> Iterator[None]:
    global _holders, _saved
    with _lock:
        if _holders == 0:
            _saved = gc.get_threshold()
            gc.set_threshold(_saved[0], _saved[1], DEFERRED)
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0:
                first, second, _ = gc.get_threshold()
                gc.set_threshold(first, second, _saved[2])


def deferring() -> bool:
    """Whether a holder defers full collections now."""
    return _holders > 0
