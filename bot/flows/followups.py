"""Slow cloud work after a chat turn: stop or start an instance in the background and report back.

The chat turn is acknowledged at once; this task asks Azure, follows the instance until it reaches
the wanted state (or a time limit), and tells the person proactively what happened.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from bot.turns import Messenger, Reply
from compute.port import ActionResult, Fleet, FleetError
from domain.model import Instance, InstanceState
from storage.repositories import AuditEvent, Store

log = logging.getLogger(__name__)

WANTED = {"stop": (InstanceState.STOPPED,), "start": (InstanceState.RUNNING, InstanceState.JOB_RUNNING)}
DONE_WORD = {"stop": "stopped", "start": "running"}


class FollowUps:
    """Background tasks started by chat turns; cancelled when the service stops."""

    def __init__(
        self,
        fleet: Fleet,
        store: Store,
        clock: Callable[[], datetime],
        messenger: Callable[[], Messenger | None],
        *,
        poll_seconds: float = 10.0,
        timeout_seconds: float = 1200.0,
    ) -> None:
        self._fleet, self._store, self._clock, self._messenger = fleet, store, clock, messenger
        self._poll, self._timeout = poll_seconds, timeout_seconds
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for the running tasks (tests) ."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def act(self, verb: str, instance: Instance, user: str, tenant: str | None) -> None:
        self.spawn(self._act(verb, instance, user, tenant))

    async def _act(self, verb: str, instance: Instance, user: str, tenant: str | None) -> None:
        call = self._fleet.stop if verb == "stop" else self._fleet.start
        try:
            result = await call(instance.workspace, instance.name)
        except FleetError as error:
            await self._finish(
                verb, instance, user, tenant, "failed", f"Azure refused to {verb} {instance.name}: {error}"
            )
            return
        except Exception:
            log.exception("%s %s failed unexpectedly", verb, instance.key)
            await self._finish(
                verb,
                instance,
                user,
                tenant,
                "failed",
                f"I could not {verb} {instance.name}: something went wrong on my side.",
            )
            return
        if result is ActionResult.ALREADY:
            await self._finish(
                verb,
                instance,
                user,
                tenant,
                f"already {DONE_WORD[verb]}",
                f"{instance.name} was already {DONE_WORD[verb]}.",
            )
            return
        await self._follow(verb, instance, user, tenant)

    async def _follow(self, verb: str, instance: Instance, user: str, tenant: str | None) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        while loop.time() < deadline:
            await asyncio.sleep(self._poll)
            try:
                current = await self._fleet.get_instance(instance.workspace, instance.name)
            except FleetError as error:
                log.warning("following %s: %s", instance.key, error)
                continue
            if current.state in WANTED[verb]:
                await self._finish(
                    verb,
                    instance,
                    user,
                    tenant,
                    DONE_WORD[verb],
                    f"{instance.name} is {DONE_WORD[verb]} now.",
                )
                return
            if current.state.value.endswith("Failed") or current.state is InstanceState.UNUSABLE:
                await self._finish(
                    verb,
                    instance,
                    user,
                    tenant,
                    "failed",
                    f"{instance.name} did not {verb}: Azure reports it {current.state.value}. "
                    "Try again, or ask your workspace admin.",
                )
                return
        await self._finish(
            verb,
            instance,
            user,
            tenant,
            "unconfirmed",
            f"Azure accepted the {verb} of {instance.name}, but it has not finished after "
            f"{int(self._timeout // 60)} minutes. Say `status` to check.",
        )

    async def _finish(
        self, verb: str, instance: Instance, user: str, tenant: str | None, outcome: str, text: str
    ) -> None:
        event = AuditEvent(
            self._clock(), user, f"chat {verb}", outcome, text, instance.workspace, instance.name
        )
        await self._store.call(self._store.audit.record, event)
        messenger = self._messenger()
        if messenger is None:
            log.info("no messenger to tell %s: %s", user, text)
            return
        result = await messenger.send(user, tenant, Reply(text=text))
        log.info("told %s about %s %s: %s", user, verb, instance.key, result.outcome.value)
