"""The outbox worker: does, on every replica and all the time, the work that state changes left in
the outbox (storage/outbox.py): create an instance, follow a stop, tell a person, refresh cards.

It keeps up to `batch` rows in hand, claiming more as work is enqueued in this process, as rows finish
while its hands were full (more may be waiting), or every `outbox.idle_seconds` (work other replicas
wrote, rows given back for later); a row that finishes after a claim that found less than it asked for
starts no claim (it would find nothing: a claim is a write transaction). It runs each row's handler (by
its `kind`) in its own task, and then marks it done, gives it back for later (`Later`: a follow-up
polling Azure), or, when the handler raised, counts a failure and retries with exponential backoff
(`outbox.backoff_seconds` doubling up to 10 minutes, with jitter); after `outbox.max_attempts` failures
the row is given up, logged as an error. Handlers are idempotent: a row may run again when its claimer
died before marking it done. A handler whose effect is a database write marks the row done in that same
transaction (`Tx.complete`).

The service starts one worker per process (wiring.py) and stops it cleanly on the way out: rows it
holds are given back so another replica takes them at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from config.settings import OutboxSettings
from storage.outbox import ClaimLost, OutboxItem, wall_clock
from storage.repositories import Store

log = logging.getLogger(__name__)
MAX_BACKOFF_S = 600.0
KEEP_DONE = timedelta(days=7)
"""Done rows are deleted after this long (once an hour, by whichever worker is idle then)."""
PRUNE_EVERY = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Later:
    """Not done yet: run the row again in `seconds` (not a failure)."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Finished:
    """The handler marked the row done itself, in the transaction of its effect."""


Outcome = Later | Finished | None
Handler = Callable[[OutboxItem], Awaitable[Outcome]]


class OutboxWorker:
    def __init__(
        self,
        store: Store,
        handlers: Mapping[str, Handler],
        owner: str,
        settings: OutboxSettings,
        *,
        batch: int = 16,
        clock: Callable[[], datetime] = wall_clock,
    ) -> None:
        self._store, self._handlers, self.owner = store, dict(handlers), owner
        self._settings, self._batch, self._clock = settings, batch, clock
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[None]] = set()
        self._pruned: datetime | None = None
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._full = False
        """The last claim took every free place (or none was free): more may be due."""

    def add(self, handlers: Mapping[str, Handler]) -> None:
        for kind in handlers:
            if kind in self._handlers:
                raise ValueError(f"outbox kind {kind} has two handlers")
        self._handlers.update(handlers)

    # -- running all the time ----------------------------------------------------------------------

    def start(self) -> None:
        self._stopping = False
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._store.outbox.listeners.append(self._nudge)
        self._task = asyncio.create_task(self._run(), name=f"outbox worker {self.owner}")

    def _nudge(self) -> None:
        """Work was enqueued in this process (called from a database thread)."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wake.set)

    async def close(self) -> None:
        if self._task is None:
            return
        if self._nudge in self._store.outbox.listeners:
            self._store.outbox.listeners.remove(self._nudge)
        self._stopping = True  # Python 3.11's wait_for may swallow a cancel that meets a wake-up
        if self._wake is not None:
            self._wake.set()
        self._task.cancel()
        for task in list(self._inflight):
            task.cancel()
        await asyncio.gather(self._task, *self._inflight, return_exceptions=True)
        self._task = None
        try:
            given = await self._store.call(self._store.outbox.release, self.owner)
        except Exception:
            log.exception("could not give back the outbox rows of %s; their leases will lapse", self.owner)
            return
        if given:
            log.info("gave back %s unfinished outbox row(s) for another replica", given)

    async def _run(self) -> None:
        """Keep up to `batch` rows in hand: claim as many as are free, whenever work was enqueued here,
        a row finished after a full claim, or `outbox.idle_seconds` passed (rows other replicas wrote)."""
        assert self._wake is not None
        while not self._stopping:
            self._wake.clear()
            free = self._batch - len(self._inflight)
            if free > 0:
                try:
                    items = await self._store.call(
                        self._store.outbox.claim,
                        self.owner,
                        self._clock(),
                        self._settings.lease_seconds,
                        free,
                    )
                except Exception as error:  # the database is down: the rows wait for it, nothing is lost
                    log.warning("the outbox worker could not claim work (%s); trying again", error)
                    items = []
                self._full = len(items) == free
                for item in items:
                    task = asyncio.create_task(self._do(item), name=f"outbox row {item.id}")
                    self._inflight.add(task)
                    task.add_done_callback(self._done)
                if self._full:
                    continue  # perhaps more is due: claim again (at once if a place is free)
            else:
                self._full = True
            await self._prune()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._settings.idle_seconds)

    async def _prune(self) -> None:
        now = self._clock()
        if self._pruned is not None and now - self._pruned < PRUNE_EVERY:
            return
        self._pruned = now
        try:
            gone = await self._store.call(self._store.outbox.prune, now - KEEP_DONE)
        except Exception:
            log.exception("could not delete old done outbox rows; trying again in an hour")
            return
        if gone:
            log.info("deleted %s outbox row(s) done more than %s days ago", gone, KEEP_DONE.days)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        if self._wake is not None and self._full:
            self._wake.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("an outbox row's task failed", exc_info=task.exception())

    # -- one round ---------------------------------------------------------------------------------

    async def step(self) -> int:
        """Claim what is due and do it; how many rows were claimed."""
        items = await self._store.call(
            self._store.outbox.claim, self.owner, self._clock(), self._settings.lease_seconds, self._batch
        )
        await asyncio.gather(*(self._do(item) for item in items))
        return len(items)

    async def drain(self, limit_seconds: float = 60.0) -> None:
        """Do everything enqueued, waiting for rows due later, until none is left (tests)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit_seconds
        while loop.time() < deadline:
            if await self.step():
                continue
            due = await self._store.call(self._store.outbox.next_due)
            if due is None:
                return
            wait = (due - self._clock()).total_seconds()
            await asyncio.sleep(min(max(wait, 0.005), 1.0))
        raise TimeoutError(f"the outbox still had work after {limit_seconds} s")

    async def _do(self, item: OutboxItem) -> None:
        handler = self._handlers.get(item.kind)
        outbox = self._store.outbox
        if handler is None:
            log.error("outbox row %s: no handler for kind %s; given up", item.id, item.kind)
            await self._store.call(outbox.finish, item, self._clock(), "abandoned", "no handler")
            return
        if item.claims > 1:
            log.info(
                "outbox row %s (%s): claim %s (an earlier one failed, waited or died)",
                item.id,
                item.kind,
                item.claims,
            )
        try:
            outcome = await handler(item)
        except asyncio.CancelledError:
            raise
        except ClaimLost:
            log.warning("outbox row %s (%s) was taken over by another worker", item.id, item.kind)
            return
        except Exception as error:
            await self._failed(item, error)
            return
        if isinstance(outcome, Finished):
            return
        if isinstance(outcome, Later):
            due = self._clock() + timedelta(seconds=outcome.seconds)
            await self._store.call(outbox.later, item, due)
            return
        if not await self._store.call(outbox.finish, item, self._clock()):
            log.warning("outbox row %s (%s) was done, but another worker held it by then", item.id, item.kind)

    async def _failed(self, item: OutboxItem, error: Exception) -> None:
        failures = item.failures + 1
        detail = f"{type(error).__name__}: {error}"
        if failures >= self._settings.max_attempts:
            log.error(
                "outbox row %s (%s) failed %s times; given up: %s", item.id, item.kind, failures, detail
            )
            await self._store.call(self._store.outbox.finish, item, self._clock(), "gave up", detail)
            return
        wait = min(self._settings.backoff_seconds * 2 ** (failures - 1), MAX_BACKOFF_S)
        wait *= random.uniform(0.8, 1.2)
        log.warning(
            "outbox row %s (%s) failed (%s); retry %s in %.0f s", item.id, item.kind, detail, failures, wait
        )
        due = self._clock() + timedelta(seconds=wait)
        await self._store.call(self._store.outbox.later, item, due, error=detail)
