"""Proactive 1:1 messages to Teams users: `TeamsMessenger`, Curfew's `Messenger` on botbuilder.

A message goes to the user's stored conversation reference: the request botbuilder's
`continue_conversation` would send (addressed from the reference, with the connector client and
token it would make), posted by the adapter's `ConnectorPoster` without the continuation turn it
builds around it; when no reference is stored, the 1:1 chat is created (`create_conversation`, which
only works when the app is installed for that user) and its reference stored once a message got
through.

Teams limits every bot to 50 requests/s per tenant and 7/s (60 per 30 s, 1800/h) per conversation.
Each call first takes a token from the tenant's and the user's buckets (rates are constructor
arguments so a benchmark can scale them). A 429 pauses the tenant's bucket for Retry-After (else an
exponential backoff with jitter); 408, 412 and 5xx are retried after a backoff; 403/404 and Teams'
"cannot reach" codes give UNREACHABLE; `max_attempts` failures give FAILED.

Every message keeps to the one size rule (bot/adapter/teams_size.py: at most 80 KB counted in UTF-16,
as Teams counts): a send too big goes out as several messages, an update too big is shortened.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.schema import ChannelAccount, ConversationParameters, ConversationReference

from bot.adapter.connector_errors import Backoff, ConnectorFailure, Verdict, connector_failure
from bot.adapter.teams import TEAMS_CHANNEL, TeamsAdapter
from bot.adapter.teams_size import fit_for_teams, shorten_for_teams
from bot.adapter.turn import post_reply, store_reference
from bot.turns import Reply, SendOutcome, SendResult
from compute.budget import AsyncTokenBucket
from config.settings import Settings
from storage.repositories import ConversationRef, Store

log = logging.getLogger(__name__)

TENANT_LIMIT = (50.0, 50)
"""Teams: 50 requests per second per app per tenant."""
MAX_THROTTLED_RETRIES = 20
"""429s one message may meet (each waited out as Teams' Retry-After says) before it counts as failed."""
CONVERSATION_LIMITS = ((7.0, 7), (2.0, 60), (0.5, 1800))
"""Teams, per bot per conversation: 7 sends/s, 60 per 30 s, 1800 per hour (rate/s, burst)."""


class TeamsMessenger:
    """Sends and rewrites 1:1 messages; never raises for a connector failure, returns a SendResult."""

    def __init__(
        self,
        adapter: TeamsAdapter,
        store: Store,
        settings: Settings,
        *,
        tenant_limit: tuple[float, int] = TENANT_LIMIT,
        conversation_limits: Sequence[tuple[float, int]] = CONVERSATION_LIMITS,
        max_attempts: int = 5,
        backoff: Backoff | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._adapter = adapter
        self._store = store
        self._settings = settings
        self._tenant_limit = tenant_limit
        self._conversation_limits = tuple(conversation_limits)
        self._max_attempts = max(1, max_attempts)
        self._backoff = backoff or Backoff()
        self._sleep = sleep
        self._tenants: dict[str, AsyncTokenBucket] = {}
        self._users: dict[tuple[str, str], tuple[AsyncTokenBucket, ...]] = {}

    async def send(self, aad_object_id: str, tenant_id: str | None, reply: Reply) -> SendResult:
        """Send `reply` to the user's 1:1 chat (creating the chat when no reference is stored).

        A message over the size rule goes as several; the result is the first failure, else the first
        message's (its id is the one to update)."""
        results = []
        for part in fit_for_teams(replace(reply, update_activity_id=None)):
            results.append(await self._deliver(aad_object_id, tenant_id, part))
            if results[-1].outcome is not SendOutcome.SENT:
                return results[-1]
        return results[0]

    async def update(
        self, aad_object_id: str, tenant_id: str | None, activity_id: str, reply: Reply
    ) -> SendResult:
        """Rewrite the earlier message `activity_id` in the user's 1:1 chat."""
        return await self._deliver(
            aad_object_id, tenant_id, shorten_for_teams(replace(reply, update_activity_id=activity_id))
        )

    async def _deliver(self, aad: str, tenant_id: str | None, reply: Reply) -> SendResult:
        stored = await self._store.call(self._store.conversations.get, aad, tenant_id)
        tenant = tenant_id or (stored.tenant_id if stored else None) or self._settings.teams.tenant_id
        reference = stored.reference if stored else None
        if tenant is None or (reference is None and reply.update_activity_id):
            return self._outcome(
                aad, SendResult(SendOutcome.UNREACHABLE, detail="no conversation with the user")
            )
        if reference is None and not (self._settings.teams.tenant_id or self._settings.bot.app_id):
            # Local use (no bot identity, no tenant configured): never try to reach Teams' real service.
            detail = "no conversation with the user yet: they have not talked to Curfew"
            return self._outcome(aad, SendResult(SendOutcome.UNREACHABLE, detail=detail))
        failure: ConnectorFailure | None = None
        created = False
        attempt = throttled = 0
        while attempt < self._max_attempts and throttled <= MAX_THROTTLED_RETRIES:
            if failure is not None:
                await self._wait(failure, max(0, attempt + throttled - 1), tenant)
            try:
                if reference is None:
                    reference, created = await self._create(aad, tenant), True
                activity_id = await self._continue(reference, reply, (tenant, aad))
            except Exception as error:
                failure = connector_failure(error)
                if failure.status == 429:  # Teams asked to slow down: wait as told, not a failed attempt
                    throttled += 1
                else:
                    attempt += 1
                if failure.verdict is Verdict.RETRY:
                    continue
                break
            if created:  # kept only once a message got through: a chat that fails is no reference
                await self._keep(ConversationRef(aad, tenant, None, reference, None, self._adapter.clock()))
            return self._outcome(aad, SendResult(SendOutcome.SENT, activity_id))
        assert failure is not None
        outcome = SendOutcome.UNREACHABLE if failure.verdict is Verdict.UNREACHABLE else SendOutcome.FAILED
        return self._outcome(aad, SendResult(outcome, detail=failure.detail))

    async def _keep(self, ref: ConversationRef) -> None:
        try:
            await store_reference(self._store, ref)
        except Exception:  # the message went out; the next one will create the chat again
            log.exception("could not store the new conversation with %s", ref.aad_object_id)

    async def _wait(self, failure: ConnectorFailure, attempt: int, tenant: str) -> None:
        """Before a retry: a 429 pauses the whole tenant; anything else backs off this call."""
        delay = failure.retry_after if failure.retry_after is not None else self._backoff.delay(attempt)
        log.info("connector answered %s; retrying in %.2f s", failure.detail, delay)
        if failure.status == 429:
            self._tenant_bucket(tenant).pause_for(delay)
        else:
            await self._sleep(delay)

    async def _create(self, aad: str, tenant: str) -> dict[str, Any]:
        """Create the 1:1 chat (Teams answers the existing one if there is one); its reference."""
        await self._tenant_bucket(tenant).acquire()
        app_id = self._adapter.app_id
        params = ConversationParameters(
            is_group=False,
            bot=ChannelAccount(id=f"28:{app_id}") if app_id else None,
            members=[ChannelAccount(id=aad)],
            tenant_id=tenant,
            channel_data={"tenant": {"id": tenant}},
        )
        created: list[ConversationReference] = []

        async def remember(turn_context: TurnContext) -> None:
            created.append(TurnContext.get_conversation_reference(turn_context.activity))

        service_url = self._settings.teams.service_url
        cloud = self._adapter.cloud
        await cloud.create_conversation(
            app_id, remember, params, TEAMS_CHANNEL, service_url, self._adapter.audience
        )
        reference = created[0]
        reference.activity_id = None
        reference.user = ChannelAccount(id=aad, aad_object_id=aad)
        serialized: dict[str, Any] = reference.serialize()
        return serialized

    async def _continue(self, reference: dict[str, Any], reply: Reply, user: tuple[str, str]) -> str | None:
        """Send (or update) through a stored reference; the activity id; raises the connector's error."""
        await self._tenant_bucket(user[0]).acquire()
        for bucket in self._user_buckets(user):
            await bucket.acquire()
        conversation = ConversationReference().deserialize(reference)
        # Addressed as botbuilder's continuation turn addresses a send: no reply-to id, no locale.
        conversation.activity_id = conversation.locale = None
        client = await self._adapter.proactive_connector(conversation.service_url)
        return await post_reply(conversation, reply, self._adapter.poster, client)

    def _tenant_bucket(self, tenant: str) -> AsyncTokenBucket:
        bucket = self._tenants.get(tenant)
        if bucket is None:
            bucket = self._tenants[tenant] = AsyncTokenBucket(*self._tenant_limit)
        return bucket

    def _user_buckets(self, user: tuple[str, str]) -> tuple[AsyncTokenBucket, ...]:
        buckets = self._users.get(user)
        if buckets is None:
            buckets = self._users[user] = tuple(AsyncTokenBucket(r, b) for r, b in self._conversation_limits)
        return buckets

    @staticmethod
    def _outcome(aad: str, result: SendResult) -> SendResult:
        level = logging.INFO if result.outcome is SendOutcome.SENT else logging.WARNING
        log.log(level, "proactive message to %s: %s %s", aad, result.outcome.value, result.detail)
        return result
