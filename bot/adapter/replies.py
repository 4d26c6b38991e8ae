"""Replies and rewrites posted to the Bot Connector by Curfew itself, not through botbuilder's client.

botbuilder sends each reply through its `ConnectorClient`: a deep copy of the activity, msrest's
validation and serialization of it (the card walked key by key), then `requests` in a worker thread.
For a chat turn that was most of its CPU (bench/chat.py). `ConnectorPoster` sends the same request:

- the JSON botbuilder would send (`reply_json`): `type`, `text`, `attachments`, `inputHint`, and the
  addressing from the turn's conversation reference as `TurnContext.apply_conversation_reference`
  sets it (`from` is the bot, `recipient` the user, `replyToId` the activity answered), each account
  with the fields of botbuilder's schema only (what msrest would keep);
- to the same URL: `POST {serviceUrl}/v3/conversations/{id}/activities[/{replyToId}]`, or `PUT
  .../activities/{id}` for a rewrite, with the same headers (`x-ms-conversation-id`, the user agent)
  and the bearer token the connector client's own credentials give (none without an app id);
- with the connector client's TLS trust, proxy and timeout (bot/adapter/connectors.py reads them from
  the environment once), over one aiohttp session per adapter, on the event loop.

A status other than 200/201/202 raises `ConnectorHttpError` (status, headers, Teams' error code), which
bot/adapter/connector_errors.py reads as it reads botbuilder's `ErrorResponseException`: the messenger's
429/Retry-After and retry rules are unchanged.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urljoin

import aiohttp
import certifi
from botbuilder.schema import ChannelAccount, ConversationAccount, ConversationReference
from multidict import CIMultiDict

from bot.adapter.connectors import read_environment_once

OK_STATUSES = frozenset({200, 201, 202})


class ConnectorHttpError(Exception):
    """The connector answered a status other than 200/201/202."""

    def __init__(self, status: int, headers: Mapping[str, str], code: str | None) -> None:
        super().__init__(f"connector answered HTTP {status}" + (f" {code}" if code else ""))
        self.status = status
        self.headers = CIMultiDict(headers)  # Retry-After in whatever case it came
        self.code = code


def _fields(model: Any, kind: Any) -> dict[str, Any] | None:
    """A schema object as msrest writes it: its mapped attributes that are set, under their JSON keys."""
    if model is None:
        return None
    attributes: dict[str, dict[str, Any]] = kind._attribute_map
    found = {spec["key"]: getattr(model, name, None) for name, spec in attributes.items()}
    return {key: value for key, value in found.items() if value is not None}


def reference_json(reference: ConversationReference) -> dict[str, Any]:
    """`reference.serialize()` without msrest's validation walk: the same keys and values."""
    fields: dict[str, Any] = {
        "activityId": reference.activity_id,
        "user": _fields(reference.user, ChannelAccount),
        "bot": _fields(reference.bot, ChannelAccount),
        "conversation": _fields(reference.conversation, ConversationAccount),
        "channelId": reference.channel_id,
        "locale": reference.locale,
        "serviceUrl": reference.service_url,
    }
    return {key: value for key, value in fields.items() if value is not None}


def addressing(reference: ConversationReference) -> dict[str, Any]:
    """The fields `apply_conversation_reference` sets on an outgoing activity, as JSON."""
    fields: dict[str, Any] = {
        "channelId": reference.channel_id,
        "serviceUrl": reference.service_url,
        "conversation": _fields(reference.conversation, ConversationAccount),
        "from": _fields(reference.bot, ChannelAccount),
        "recipient": _fields(reference.user, ChannelAccount),
        "locale": reference.locale,
        "replyToId": reference.activity_id,
    }
    return {key: value for key, value in fields.items() if value is not None}


def reply_json(
    reference: ConversationReference,
    text: str | None,
    attachments: list[dict[str, Any]] | None,
    update_activity_id: str | None = None,
) -> dict[str, Any]:
    """The activity JSON botbuilder sends for a reply (or, with `update_activity_id`, a rewrite)."""
    body: dict[str, Any] = {"type": "message", **addressing(reference)}
    if text is not None:
        body["text"] = text
    if attachments:
        body["attachments"] = attachments
    if update_activity_id:
        body["id"] = update_activity_id
    else:
        body["inputHint"] = "acceptingInput"  # botbuilder's send sets it; its update does not
    return body


def connector_url(service_url: str, path: str) -> str:
    """`path` under the service URL, as msrest's `format_url` joins them (one slash between)."""
    return urljoin(service_url.rstrip("/") + "/", path.lstrip("/"))


class _Headers:
    """What `AppCredentials.signed_session` touches of a session: its headers."""

    def __init__(self) -> None:
        self.headers: dict[str, str] = {}


class ConnectorPoster:
    """Posts activity JSON to the connector; one aiohttp session, made on first use, closed by `close`."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._contexts: dict[Any, ssl.SSLContext | bool] = {}

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    def _http(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            self._session = aiohttp.ClientSession(trust_env=False)  # proxies come from the client's config
            self._loop = loop
        return self._session

    async def send(
        self, client: Any, body: dict[str, Any], update_activity_id: str | None = None
    ) -> str | None:
        """Send `body` (from `reply_json`) with the connector client `client`'s endpoint and identity;
        the activity id the connector answers."""
        conversation = quote(str(body["conversation"]["id"]), safe="")
        path = f"v3/conversations/{conversation}/activities"
        target = update_activity_id or body.get("replyToId")
        if target:
            path += "/" + quote(str(target), safe="")
        config = client.config
        if config.proxies.use_env_settings:
            read_environment_once(client, str(config.base_url))
        url = connector_url(str(config.base_url), path)
        headers = {
            "Accept": "application/json",
            "Content-Type": "application/json; charset=utf-8",
            "x-ms-conversation-id": str(body["conversation"]["id"]),
            "User-Agent": str(config.user_agent),
        }
        signed = _Headers()
        config.credentials.signed_session(signed)  # botbuilder signs on the event loop as well
        headers.update(signed.headers)
        proxy = config.proxies.proxies.get(url.split(":", 1)[0]) if config.proxies.proxies else None
        async with self._http().request(
            "PUT" if update_activity_id else "POST",
            url,
            data=json.dumps(body, separators=(",", ":")).encode(),
            headers=headers,
            ssl=self._ssl(config.connection.verify),
            proxy=proxy,
            timeout=aiohttp.ClientTimeout(total=float(config.connection.timeout)),
        ) as response:
            raw = await response.read()
            if response.status not in OK_STATUSES:
                raise ConnectorHttpError(response.status, response.headers, _error_code(raw))
        answer = _json(raw)
        found = answer.get("id") if isinstance(answer, dict) else None
        return str(found) if found else None

    def _ssl(self, verify: Any) -> ssl.SSLContext | bool:
        """`requests`' `verify`: True (certifi's bundle, as requests trusts), False, or a CA bundle path."""
        if verify is False:
            return False
        context = self._contexts.get(verify)
        if context is None:
            cafile = verify if isinstance(verify, str) else certifi.where()
            context = self._contexts[verify] = ssl.create_default_context(cafile=cafile)
        return context


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def _error_code(raw: bytes) -> str | None:
    """Teams' error code from `{"error": {"code": ...}}`, if the body has one."""
    answer = _json(raw)
    error = answer.get("error") if isinstance(answer, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return str(code) if code else None
