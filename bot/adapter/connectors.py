"""Connector clients made once per Teams endpoint, not once per turn.

botbuilder's CloudAdapter asks its authentication for a new `ConnectorClient` (an msrest client with
its own HTTP session, so a new TCP connection) and a new user-token client on every turn and every
proactive message. Both are built from the same app id, service URL and audience each time, and
their credentials cache their tokens, so one of each per (app id, service URL, audience) serves
every turn; the requests they send are unchanged.

`requests` also reads the proxy variables (honouring `no_proxy`) and the CA bundle variables from the
environment on every call a session that trusts it sends (a sixth of a reply's POST). A connector
client talks to one service URL, so they are read once, when it is made, and handed to it.
"""

from __future__ import annotations

import os
from typing import Any

from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import (
    AuthenticateRequestResult,
    ClaimsIdentity,
    ConnectorFactory,
    UserTokenClient,
)
from requests.utils import get_environ_proxies

MOST = 64
"""Clients kept at most (a Teams bot sees one service URL per region; a flood of odd URLs clears it)."""


class ReusedConnectors(ConnectorFactory):  # type: ignore[misc]
    def __init__(self, inner: ConnectorFactory, clients: dict[tuple[Any, ...], ConnectorClient]) -> None:
        self._inner = inner
        self._clients = clients

    async def create(self, service_url: str, audience: str | None = None) -> ConnectorClient:
        key = (getattr(self._inner, "_app_id", None), service_url, audience)
        client = self._clients.get(key)
        if client is None:
            client = await self._inner.create(service_url, audience)
            read_environment_once(client, service_url)
            if len(self._clients) >= MOST:
                self._clients.clear()
            self._clients[key] = client
        return client


def read_environment_once(client: Any, service_url: str) -> None:
    """What `requests` would read from the environment on each call to `service_url`, read now."""
    config = getattr(client, "config", None)
    if config is None or not config.proxies.use_env_settings:
        return
    for scheme, proxy in get_environ_proxies(service_url).items():
        config.proxies.proxies.setdefault(scheme, proxy)
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle and config.connection.verify is True:
        config.connection.verify = bundle
    config.proxies.use_env_settings = False


class ReusingAuthentication(ConfigurationBotFrameworkAuthentication):  # type: ignore[misc]
    """The configured Bot Framework authentication, its connector and user-token clients reused."""

    def __init__(self, configuration: Any) -> None:
        super().__init__(configuration)
        self._connectors: dict[tuple[Any, ...], ConnectorClient] = {}
        self._token_clients: dict[str, UserTokenClient] = {}

    async def authenticate_request(self, activity: Any, auth_header: str) -> AuthenticateRequestResult:
        result = await super().authenticate_request(activity, auth_header)
        if result.connector_factory is not None:
            result.connector_factory = ReusedConnectors(result.connector_factory, self._connectors)
        return result

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        return ReusedConnectors(super().create_connector_factory(claims_identity), self._connectors)

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> UserTokenClient:
        claims = claims_identity.claims or {}
        key = str(claims.get("aud") or claims.get("appid") or "")  # the app id, as botbuilder reads it
        client = self._token_clients.get(key)
        if client is None:
            client = await super().create_user_token_client(claims_identity)
            self._token_clients[key] = client
        return client
