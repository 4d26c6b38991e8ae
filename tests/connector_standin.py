"""A local stand-in for the Teams Bot Connector service, for protocol tests and benchmarks.

It serves the connector calls botbuilder makes on 127.0.0.1 (ephemeral port), records every request,
and behaves like Teams where it matters to Curfew:

- ``POST /v3/conversations`` creates (or finds) the 1:1 chat with ``members[0].id`` and answers ``{id}``;
  users in ``unknown_users`` (or not in ``known_users`` when that is set) get 403/404 like Teams gives for a
  user who does not have the app.
- ``POST /v3/conversations/{id}/activities[/{activityId}]`` sends (or replies) and answers ``{id}``;
  ``PUT /v3/conversations/{id}/activities/{activityId}`` updates and answers ``{id}``.
- ``block_user(aad)``: sends to that user's 1:1 chat answer 403 ``MessageWritesBlocked``.
- a send or update over Teams' 100 KB (counted in UTF-16 bytes, as Teams counts) answers 413
  ``MessageSizeTooBig``, as Teams does; ``too_big`` counts them.
- ``fail_next(path_regex, status, headers, times)``: the next matching requests fail (429, 412, 503, ...).
- ``limit_tenant(rate, burst)``: a token bucket per tenant (Teams: 50 requests/s); over it, 429 with a
  ``Retry-After`` and ``throttled`` counts them.

Usage::

    async with ConnectorStandIn() as connector:
        ...  # point serviceUrl / settings.teams.service_url at connector.url
        await connector.wait_for(lambda c: len(c.sent()) >= 2)
        assert connector.texts() == ["Hello", "Bye"]
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from compute.budget import AsyncTokenBucket
from tests import card_check

CARD_TYPE = "application/vnd.microsoft.card.adaptive"
TEAMS_LIMIT_BYTES = 100_000
"""Teams refuses a message over 100 KB of UTF-16 (FIELD-NOTES: Teams limits)."""
DEFAULT_TENANT = "00000000-0000-0000-0000-000000000001"


def personal_conversation_id(aad_object_id: str) -> str:
    """The id of the 1:1 chat between the bot and a user (the stand-in and the harness agree on it)."""
    return f"a:1on1-{aad_object_id}"


@dataclass
class Recorded:
    """One request the stand-in received, and what it answered."""

    method: str
    path: str
    body: Any
    authorized: bool
    at: float
    status: int = 0

    @property
    def conversation_id(self) -> str | None:
        match = re.match(r"^/v3/conversations/([^/]+)", self.path)
        return match.group(1) if match else None

    @property
    def is_activity(self) -> bool:
        """A successful send, reply or update of a bot activity."""
        return "/activities" in self.path and self.status < 300 and isinstance(self.body, dict)

    @property
    def is_update(self) -> bool:
        return self.method == "PUT"

    @property
    def updated_id(self) -> str | None:
        return self.path.rsplit("/", 1)[-1] if self.is_update else None

    @property
    def text(self) -> str | None:
        return self.body.get("text") if isinstance(self.body, dict) else None

    @property
    def card(self) -> dict[str, Any] | None:
        """The first Adaptive Card attachment's content, if any."""
        for attachment in (self.body or {}).get("attachments") or []:
            if attachment.get("contentType") == CARD_TYPE:
                content: dict[str, Any] = attachment.get("content")
                return content
        return None


@dataclass
class _Fault:
    pattern: re.Pattern[str]
    status: int
    headers: dict[str, str]
    body: Any
    times: int


@dataclass
class ConnectorStandIn:
    known_users: set[str] | None = None
    """When set, only these AAD object ids can be reached with a new 1:1 chat."""
    unknown_users: set[str] = field(default_factory=set)
    unknown_status: int = 403
    requests: list[Recorded] = field(default_factory=list)
    throttled: int = 0
    too_big: int = 0
    """Sends and updates refused with 413 for being over `TEAMS_LIMIT_BYTES`."""
    conversations: dict[str, tuple[str, str]] = field(default_factory=dict)
    """conversation id -> (AAD object id, tenant id) of the 1:1 chats the stand-in knows."""
    _faults: list[_Fault] = field(default_factory=list)
    _blocked: set[str] = field(default_factory=set)
    _limit: tuple[float, int] | None = None
    _buckets: dict[str, AsyncTokenBucket] = field(default_factory=dict)
    _changed: asyncio.Condition | None = None
    _runner: web.AppRunner | None = None
    _next_id: int = 0
    url: str = ""

    # -- lifetime ----------------------------------------------------------------------------

    async def start(self) -> ConnectorStandIn:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_post("/v3/conversations", self._create)
        app.router.add_post("/v3/conversations/{conversation}/activities", self._send)
        app.router.add_post("/v3/conversations/{conversation}/activities/{activity}", self._send)
        app.router.add_put("/v3/conversations/{conversation}/activities/{activity}", self._update)
        self._changed = asyncio.Condition()
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/"
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> ConnectorStandIn:
        return await self.start()

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    # -- configuration -----------------------------------------------------------------------

    def fail_next(
        self,
        path_regex: str,
        status: int,
        headers: dict[str, str] | None = None,
        times: int = 1,
        body: Any = None,
    ) -> None:
        """The next `times` requests whose path matches `path_regex` (re.search) answer `status`."""
        error = body if body is not None else {"error": {"code": f"Http{status}", "message": "injected"}}
        self._faults.append(_Fault(re.compile(path_regex), status, dict(headers or {}), error, times))

    def block_user(self, aad_object_id: str) -> None:
        """The user blocked the bot: sends to their 1:1 chat answer 403 MessageWritesBlocked."""
        self._blocked.add(aad_object_id)

    def limit_tenant(self, rate_per_s: float, burst: int) -> None:
        """Throttle each tenant like Teams (50 requests/s): over the bucket, 429 with Retry-After."""
        self._limit = (rate_per_s, burst)
        self._buckets.clear()

    def register_conversation(self, conversation_id: str, aad_object_id: str, tenant_id: str) -> None:
        self.conversations[conversation_id] = (aad_object_id, tenant_id)

    # -- what tests read ---------------------------------------------------------------------

    def sent(self) -> list[Recorded]:
        """Every successful bot activity (send, reply, update), in order."""
        return [r for r in self.requests if r.is_activity]

    def messages_for(self, conversation_id: str) -> list[Recorded]:
        return [r for r in self.sent() if r.conversation_id == conversation_id]

    def texts(self) -> list[str]:
        return [r.text for r in self.sent() if r.text]

    def cards(self) -> list[dict[str, Any]]:
        return [card for r in self.sent() if (card := r.card) is not None]

    def updates(self) -> list[Recorded]:
        return [r for r in self.sent() if r.is_update]

    def created(self) -> list[Recorded]:
        """Successful POST /v3/conversations requests."""
        return [r for r in self.requests if r.path == "/v3/conversations" and r.status < 300]

    async def wait_for(self, predicate: Callable[[ConnectorStandIn], bool], timeout: float = 5.0) -> None:
        """Wait until `predicate(self)` holds; AssertionError after `timeout` seconds."""
        assert self._changed is not None, "start() the stand-in first"
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(lambda: predicate(self)), timeout)
            except TimeoutError:
                raise AssertionError(f"connector stand-in: condition not met in {timeout} s") from None

    # -- handlers ----------------------------------------------------------------------------

    async def _create(self, request: web.Request) -> web.Response:
        body = await request.json()
        refused = self._refusal(request) or self._create_refusal(body)
        if refused is not None:
            return await self._answer(request, body, *refused)
        aad = body["members"][0]["id"]
        tenant = ((body.get("channelData") or {}).get("tenant") or {}).get("id") or DEFAULT_TENANT
        conversation_id = personal_conversation_id(aad)
        self.register_conversation(conversation_id, aad, tenant)
        return await self._answer(request, body, 201, {"id": conversation_id})

    async def _send(self, request: web.Request) -> web.Response:
        body = await request.json()
        refused = self._refusal(request) or self._blocked_refusal(request) or self._size_refusal(body)
        if refused is not None:
            return await self._answer(request, body, *refused)
        self._next_id += 1
        return await self._answer(request, body, 201, {"id": f"1:{self._next_id:05d}"})

    async def _update(self, request: web.Request) -> web.Response:
        body = await request.json()
        refused = self._refusal(request) or self._blocked_refusal(request) or self._size_refusal(body)
        if refused is not None:
            return await self._answer(request, body, *refused)
        return await self._answer(request, body, 200, {"id": request.match_info["activity"]})

    def _refusal(self, request: web.Request) -> tuple[int, Any, dict[str, str]] | None:
        """An injected fault, else the tenant throttle, else None."""
        for fault in self._faults:
            if fault.times > 0 and fault.pattern.search(request.path):
                fault.times -= 1
                return fault.status, fault.body, fault.headers
        return self._throttle(request)

    def _throttle(self, request: web.Request) -> tuple[int, Any, dict[str, str]] | None:
        if self._limit is None:
            return None
        tenant = self._owner(request.match_info.get("conversation", ""))[1]
        bucket = self._buckets.setdefault(tenant, AsyncTokenBucket(*self._limit))
        if bucket.try_acquire():
            return None
        self.throttled += 1
        wait = max(0.001, (1.0 - bucket.tokens) / bucket.rate_per_s)
        error = {"error": {"code": "TooManyRequests", "message": "throttled by the stand-in"}}
        return 429, error, {"Retry-After": f"{wait:.3f}"}

    def _create_refusal(self, body: Any) -> tuple[int, Any, dict[str, str]] | None:
        members = body.get("members") if isinstance(body, dict) else None
        if not members or not members[0].get("id"):
            return 400, {"error": {"code": "BadArgument", "message": "members[0].id is required"}}, {}
        aad = members[0]["id"]
        if aad in self.unknown_users or (self.known_users is not None and aad not in self.known_users):
            code = "NotFound" if self.unknown_status == 404 else "BotNotInConversationRoster"
            return self.unknown_status, {"error": {"code": code, "message": "app not installed"}}, {}
        return None

    def _blocked_refusal(self, request: web.Request) -> tuple[int, Any, dict[str, str]] | None:
        user = self._owner(request.match_info["conversation"])[0]
        if user in self._blocked:
            error = {"error": {"code": "MessageWritesBlocked", "message": "Thread is blocked for writes"}}
            return 403, error, {}
        return None

    def _size_refusal(self, body: Any) -> tuple[int, Any, dict[str, str]] | None:
        """Teams' own limit, counted its way: the activity's JSON in UTF-16 bytes."""
        if len(json.dumps(body).encode("utf-16-le")) <= TEAMS_LIMIT_BYTES:
            return None
        self.too_big += 1
        error = {"error": {"code": "MessageSizeTooBig", "message": "Message size too large"}}
        return 413, error, {}

    def _owner(self, conversation_id: str) -> tuple[str, str]:
        """(AAD object id, tenant) of a 1:1 chat; ("", default tenant) for other conversations."""
        if conversation_id in self.conversations:
            return self.conversations[conversation_id]
        prefix = personal_conversation_id("")
        aad = conversation_id.removeprefix(prefix) if conversation_id.startswith(prefix) else ""
        return aad, DEFAULT_TENANT

    async def _answer(
        self,
        request: web.Request,
        body: Any,
        status: int,
        payload: Any,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        record = Recorded(
            request.method, request.path, body, "Authorization" in request.headers, time.monotonic(), status
        )
        self.requests.append(record)
        if "/activities" in request.path:
            card_check.record_activity(body)  # every message Curfew sent: checked after the test
        assert self._changed is not None
        async with self._changed:
            self._changed.notify_all()
        return web.json_response(payload, status=status, headers=headers)
