"""Signing in to PostgreSQL with a Microsoft Entra token instead of a password.

When DATABASE_URL names an Azure Database for PostgreSQL host (or DATABASE_AUTH=entra) and carries no
password, every new connection gets, as its
password, an access token of Curfew's identity (DefaultAzureCredential: the managed identity on App
Service, `az login` on a laptop) for Azure Database for PostgreSQL's scope. The token is kept and reused
until `refresh_margin_s` before it expires, then a new one is fetched: pooled connections stay signed in,
only new ones need a valid token.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Engine, event

log = logging.getLogger(__name__)
POSTGRES_SCOPE = "https://ossrdbms-aad.database.windows.net/.default"


class EntraPassword:
    """A token for POSTGRES_SCOPE, fetched again `refresh_margin_s` before it expires."""

    def __init__(
        self,
        credential: Any = None,
        *,
        scope: str = POSTGRES_SCOPE,
        refresh_margin_s: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._credential = credential
        self._scope = scope
        self._margin = refresh_margin_s
        self._clock = clock
        self._token: str | None = None
        self._expires_on = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._expires_on - self._margin:
                if self._credential is None:
                    from azure.identity import DefaultAzureCredential

                    self._credential = DefaultAzureCredential()
                access = self._credential.get_token(self._scope)
                self._token, self._expires_on = access.token, float(access.expires_on)
                log.info("fetched a Microsoft Entra token for PostgreSQL")
            return self._token


def use_entra_tokens(engine: Engine, password: Callable[[], str] | None = None) -> None:
    """Give every new connection of `engine` a fresh-enough token as its password."""
    tokens = password or EntraPassword()

    @event.listens_for(engine, "do_connect")
    def _token_as_password(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
        cparams["password"] = tokens()


AZURE_POSTGRES_HOSTS = (
    ".postgres.database.azure.com",
    ".postgres.database.usgovcloudapi.net",
    ".postgres.database.chinacloudapi.cn",
)


def wants_entra(engine: Engine, env: Mapping[str, str] = os.environ) -> bool:
    """PostgreSQL with a user and no password, on an Azure host or with DATABASE_AUTH=entra.

    A local server without a password (trust or peer authentication) keeps working as before;
    DATABASE_AUTH=password turns tokens off even on Azure."""
    url = engine.url
    mode = env.get("DATABASE_AUTH", "").lower()
    if url.get_backend_name() != "postgresql" or not url.username or url.password or mode == "password":
        return False
    return mode == "entra" or (url.host or "").lower().endswith(AZURE_POSTGRES_HOSTS)
