"""Per-instance guard: serializes "re-check keep-ons, then stop" against "commit a keep-on".

The sweep holds an instance's guard from its last keep-on re-check until Azure has accepted the stop
call; writing a keep-on takes the same guard inside its transaction. So a keep-on committed before the
stop call is always seen by the re-check, and one that comes later waits and then learns the instance
is stopping.

On PostgreSQL the guard is a transaction-level advisory lock, which holds across replicas. SQLite
serves one process (see README), so there an in-process lock per instance is enough.

Threads: the guard's reads, locks and releases run on threads of its own (`GUARD_THREADS` beyond
the guards it may hold), not the event loop's default executor: at the curfew hour the sweep takes
guards by the hundred (160 stops at once at ten thousand instances in ten subscriptions) and queued
ahead of every chat turn's reads and writes there, which then waited a second or more
(docs/benchmarks.md, issue 17's fifth pass).

Connections: a held guard owns one pooled connection (PostgreSQL) until Azure answered, and the
re-check runs on that same connection (`Held.run`), so a stop never needs a second one. At most
`pool_size` guards are held at once per event loop; the others wait for a slot without a timeout,
and the pool's overflow stays free for every other reader and writer. So any number of concurrent
stops fits any pool: beyond the pool they queue, they never deadlock it.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import hashlib
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session

from domain.model import InstanceKey
from ops.threads import started

T = TypeVar("T")
GUARD_THREADS = 4
"""Threads for the guard's work beyond one per guard it may hold (a held guard's lock may block one)."""
_locks: dict[tuple[str, str, str], threading.Lock] = {}
_locks_guard = threading.Lock()


def lock_id(key: InstanceKey) -> int:
    """A stable signed 64-bit number for the instance (PostgreSQL advisory locks take a bigint)."""
    digest = hashlib.blake2b(f"curfew:{key.workspace}:{key.name.lower()}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _process_lock(engine: Engine, key: InstanceKey) -> threading.Lock:
    ident = (str(engine.url), key.workspace, key.name.lower())
    with _locks_guard:
        return _locks.setdefault(ident, threading.Lock())


def _is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


class Held:
    """One held guard; `run` reads on the guard's own connection (PostgreSQL) or a pooled one."""

    def __init__(self, engine: Engine, connection: Connection | None, threads: ThreadPoolExecutor) -> None:
        self._engine = engine
        self._connection = connection
        self._threads = threads

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(session, *args)` on one of the guard's threads."""
        return await _on(self._threads, functools.partial(self._run, fn, *args))

    def _run(self, fn: Callable[..., T], *args: Any) -> T:
        with Session(bind=self._connection or self._engine) as session:
            return fn(session, *args)


class InstanceGuard:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        size = getattr(engine.pool, "size", None)
        self._capacity = max(1, int(size())) if callable(size) else 1
        self._slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )
        self._started: ThreadPoolExecutor | None = None

    @property
    def capacity(self) -> int:
        """How many guards one process holds at once on PostgreSQL (the pool's size)."""
        return self._capacity

    @property
    def _threads(self) -> ThreadPoolExecutor:
        """Started with the first guard taken (a sweep's): a store that never sweeps starts none."""
        if self._started is None:
            self._started = started(self._capacity + GUARD_THREADS, "curfew-guard")
        return self._started

    def _slot(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if loop not in self._slots:
            self._slots[loop] = asyncio.Semaphore(self._capacity)
        return self._slots[loop]

    @asynccontextmanager
    async def hold(self, key: InstanceKey) -> AsyncIterator[Held]:
        """Hold the instance's guard across awaits (the sweep's re-check and stop call)."""
        if _is_postgres(self._engine):
            async with self._slot():
                conn = await _on(self._threads, functools.partial(self._lock_connection, key))
                try:
                    yield Held(self._engine, conn, self._threads)
                finally:
                    await _on(self._threads, functools.partial(_release, conn))
        else:
            lock = _process_lock(self._engine, key)
            if not lock.acquire(blocking=False):  # held: wait in a thread (free, the usual case: no hop)
                await _on(self._threads, lock.acquire)
            try:
                yield Held(self._engine, None, self._threads)
            finally:
                lock.release()

    def close(self) -> None:
        if self._started is not None:
            self._started.shutdown(wait=False)

    def _lock_connection(self, key: InstanceKey) -> Connection:
        conn = self._engine.connect()
        conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id(key)})
        return conn

    @contextmanager
    def within(self, session: Session, key: InstanceKey) -> Iterator[None]:
        """Take the guard inside a session's transaction (released when it ends; PostgreSQL)."""
        if _is_postgres(self._engine):
            session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id(key)})
            yield
        else:
            with _process_lock(self._engine, key):
                yield


def _release(conn: Connection) -> None:
    try:
        conn.rollback()
    finally:
        conn.close()


async def _on(threads: ThreadPoolExecutor, call: Callable[[], T]) -> T:
    """`call()` on `threads`, in a copy of the caller's context (as `asyncio.to_thread` runs it)."""
    return await asyncio.get_running_loop().run_in_executor(threads, contextvars.copy_context().run, call)
