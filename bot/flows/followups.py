"""Slow cloud work after a chat turn: stop or start an instance, follow it, and report back.

The chat turn commits its audit row and an `instance.act` outbox row together, then answers at
once. The outbox worker (bot/flows/worker.py) does the rest, on whichever replica claims it:
`instance.act` asks Azure; `instance.follow` reads the instance every `poll_seconds` until it
reaches the wanted state, fails, or `timeout_seconds` pass; the outcome's audit row and a
`tell` row (the message to the person) commit with the row's completion. `tell` sends one
message; a send Teams could not take now (5xx, 429 past the messenger's budget) is retried with
backoff. A row run again after a crash asks Azure again: stopping a stopping instance is no error,
and the person still hears once how it ended.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.flows.audit import audit_event
from bot.flows.failures import fleet_answer
from bot.flows.worker import Finished, Handler, Later, Outcome
from bot.turns import Messenger, Reply, SendOutcome, Turn
from compute.port import ActionResult, Busy, Fleet, FleetError
from domain.model import Instance, InstanceState
from storage.outbox import OutboxItem, Tx, wall_clock
from storage.repositories import AuditEvent, Store

log = logging.getLogger(__name__)

ACT, FOLLOW, TELL = "instance.act", "instance.follow", "tell"
WANTED = {"stop": (InstanceState.STOPPED,), "start": (InstanceState.RUNNING, InstanceState.JOB_RUNNING)}
DONE_WORD = {"stop": "stopped", "start": "running"}


class SendLater(Exception):
    """Teams did not take the message now; the worker retries it with backoff."""


async def ask(store: Store, verb: str, turn: Turn, instance: Instance, action: str) -> None:
    """A person asked to stop or start `instance`: the audit row and the outbox row, together."""
    tenant = turn.tenant_id or instance.owner_tenant_id
    event = audit_event(turn.now, turn.user, action, "requested", "", instance)

    def write(tx: Tx) -> None:
        tx.audit(event)
        enqueue_act(tx, verb, instance, turn.user, tenant)

    await store.atomically(write)


def enqueue_act(tx: Tx, verb: str, instance: Instance, user: str, tenant: str | None) -> None:
    """In the turn's transaction: stop or start `instance` for `user`, and tell them how it ended."""
    tx.enqueue(
        ACT,
        {
            "verb": verb,
            "workspace": instance.workspace,
            "name": instance.name,
            "user": user,
            "tenant": tenant,
        },
    )


def enqueue_tell(tx: Tx, user: str, tenant: str | None, text: str) -> None:
    tx.enqueue(TELL, {"user": user, "tenant": tenant, "text": text})


class FollowUps:
    """The outbox handlers for stops and starts asked in chat, and for telling a person something."""

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

    def handlers(self) -> dict[str, Handler]:
        return {ACT: self.act, FOLLOW: self.follow, TELL: self.tell}

    async def act(self, item: OutboxItem) -> Outcome:
        p = item.payload
        verb, name = str(p["verb"]), str(p["name"])
        call = self._fleet.stop if verb == "stop" else self._fleet.start
        try:
            result = await call(str(p["workspace"]), name)
        except FleetError as error:
            if isinstance(error, Busy) and item.claims > 1:  # asked before a crash: Azure is on it
                return await self._then_follow(item)
            return await self._finish(item, "failed", f"I could not {verb} {name}. {fleet_answer(error)}")
        if result is ActionResult.ALREADY and item.claims == 1:
            return await self._finish(
                item, f"already {DONE_WORD[verb]}", f"{name} was already {DONE_WORD[verb]}."
            )
        return await self._then_follow(item)

    async def _then_follow(self, item: OutboxItem) -> Outcome:
        def write(tx: Tx) -> None:
            tx.enqueue(FOLLOW, item.payload, delay=self._poll)
            tx.complete(item)

        await self._store.atomically(write)
        return Finished()

    async def follow(self, item: OutboxItem) -> Outcome:
        p = item.payload
        verb, name = str(p["verb"]), str(p["name"])
        try:
            current = await self._fleet.get_instance(str(p["workspace"]), name)
        except FleetError as error:
            log.warning("following %s %s: %s", verb, name, error)
            current = None
        if current is not None and current.state in WANTED[verb]:
            return await self._finish(item, DONE_WORD[verb], f"{name} is {DONE_WORD[verb]} now.")
        if current is not None and (
            current.state.value.endswith("Failed") or current.state is InstanceState.UNUSABLE
        ):
            text = (
                f"{name} did not {verb}: Azure reports it {current.state.value}. "
                "Try again, or ask your workspace admin."
            )
            return await self._finish(item, "failed", text)
        if wall_clock() < item.created_at + timedelta(seconds=self._timeout - self._poll):
            return Later(self._poll)
        text = (
            f"Azure accepted the {verb} of {name}, but it has not finished after "
            f"{max(1, int(self._timeout // 60))} minutes. Say `status` to check."
        )
        return await self._finish(item, "unconfirmed", text)

    async def _finish(self, item: OutboxItem, outcome: str, text: str) -> Outcome:
        """The outcome's audit row, the message to the person and the row's completion, together."""
        p = item.payload
        user, verb = str(p["user"]), str(p["verb"])
        event = AuditEvent(
            self._clock(), user, f"chat {verb}", outcome, text, str(p["workspace"]), str(p["name"])
        )

        def write(tx: Tx) -> None:
            tx.audit(event)
            enqueue_tell(tx, user, p.get("tenant"), text)
            tx.complete(item, outcome)

        await self._store.atomically(write)
        return Finished()

    async def tell(self, item: OutboxItem) -> Outcome:
        p = item.payload
        user, text = str(p["user"]), str(p["text"])
        messenger = self._messenger()
        if messenger is None:
            log.info("no messenger to tell %s: %s", user, text)
            return None
        result = await messenger.send(user, p.get("tenant"), Reply(text=text))
        if result.outcome is SendOutcome.FAILED:
            raise SendLater(result.detail or "Teams did not take the message")
        log.info("told %s: %s (%s)", user, text[:80], result.outcome.value)
        return None
