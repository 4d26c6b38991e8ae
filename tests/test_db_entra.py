"""No database password: Curfew signs in to PostgreSQL with a Microsoft Entra token of its managed identity.

Against the local PostgreSQL: the managed-identity stand-in issues the token, a role whose password is that
token and who must give a password over TCP (pg_hba.conf: `host all +curfew_entra_login 127.0.0.1/32
scram-sha-256`, added by .ci/run), and only the connection through storage/entra.py's hook gets in.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
from azure.core.credentials import AccessToken
from sqlalchemy import create_engine, make_url, text

from storage.db import make_engine, normalize_url
from storage.entra import POSTGRES_SCOPE, EntraPassword, wants_entra
from storage.repositories import Store
from tests.arm_fixtures import _CREDENTIAL_ENV
from tests.arm_identity import ManagedIdentityEndpoint
from tests.conftest import require

GROUP = "curfew_entra_login"


class CountingCredential:
    def __init__(self, lifetime_s: float) -> None:
        self.calls = 0
        self.lifetime_s = lifetime_s
        self.now = 1_000_000.0

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        assert scopes == (POSTGRES_SCOPE,)
        self.calls += 1
        return AccessToken(f"token-{self.calls}", int(self.now + self.lifetime_s))


def test_the_token_is_reused_until_five_minutes_before_it_expires_then_fetched_again() -> None:
    credential = CountingCredential(lifetime_s=3600)
    password = EntraPassword(credential, clock=lambda: credential.now)
    assert password() == "token-1"
    credential.now += 3600 - 301  # still more than the margin left
    assert password() == "token-1"
    credential.now += 2  # within five minutes of expiry
    assert password() == "token-2"
    assert credential.calls == 2


@pytest.mark.parametrize(
    ("url", "env", "expected"),
    [
        ("postgresql+psycopg://curfew-identity@pg.postgres.database.azure.com/curfew", {}, True),
        ("postgresql+psycopg://curfew-identity@pg.postgres.database.usgovcloudapi.net/curfew", {}, True),
        ("postgresql+psycopg://admin:secret@pg.postgres.database.azure.com/curfew", {}, False),
        (
            "postgresql+psycopg://curfew-identity@pg.postgres.database.azure.com/curfew",
            {"DATABASE_AUTH": "password"},
            False,
        ),
        ("postgresql+psycopg://postgres@127.0.0.1/postgres", {}, False),  # local trust stays as it was
        ("postgresql+psycopg://curfew@127.0.0.1/postgres", {"DATABASE_AUTH": "entra"}, True),
        ("sqlite:///curfew.db", {"DATABASE_AUTH": "entra"}, False),
    ],
)
def test_when_tokens_are_used(url: str, env: dict[str, str], expected: bool) -> None:
    assert wants_entra(create_engine(url), env) is expected


@pytest.fixture
async def identity(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[ManagedIdentityEndpoint]:
    endpoint = ManagedIdentityEndpoint()
    await endpoint.start()
    for name in _CREDENTIAL_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in endpoint.env.items():
        monkeypatch.setenv(name, value)
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    yield endpoint
    await endpoint.stop()


def _refused(conninfo: str) -> bool:
    try:
        psycopg.connect(conninfo, connect_timeout=5).close()
    except psycopg.OperationalError as error:
        return "authentication failed" in str(error) or "no password supplied" in str(error)
    return False


async def test_curfew_signs_in_with_the_managed_identity_token_and_nothing_else_gets_in(
    postgres_url: str, identity: ManagedIdentityEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = create_engine(normalize_url(postgres_url), isolation_level="AUTOCOMMIT")
    role = f"curfew_entra_{uuid.uuid4().hex[:10]}"
    token = f"eyJ0eXAiOiJKV1QifQ.{secrets.token_urlsafe(600)}.{secrets.token_urlsafe(32)}"
    real_mint = identity._mint
    identity._mint = lambda resource, now: token if "ossrdbms" in resource else real_mint(resource, now)  # type: ignore[method-assign]
    db = make_url(postgres_url).database
    with admin.connect() as conn:
        conn.execute(
            text(
                f"DO $$ BEGIN CREATE ROLE {GROUP} NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$"
            )
        )
        conn.execute(text(f"CREATE ROLE {role} LOGIN PASSWORD '{token}' IN ROLE {GROUP}"))
        conn.execute(text(f'GRANT CONNECT ON DATABASE "{db}" TO {role}'))
        conn.execute(text(f"GRANT USAGE, CREATE ON SCHEMA public TO {role}"))
    where = make_url(postgres_url)
    url = f"postgresql+psycopg://{role}@127.0.0.1:{where.port or 5432}/{db}"
    conninfo = f"host=127.0.0.1 port={where.port or 5432} dbname={db} user={role}"
    try:
        require(
            _refused(conninfo + " password=wrong") and _refused(conninfo),
            f"pg_hba.conf lets {role} in without its password over TCP; .ci/run adds "
            f"`host all +{GROUP} 127.0.0.1/32 scram-sha-256` above the trust lines",
        )
        monkeypatch.setenv("DATABASE_AUTH", "entra")
        # off the event loop, which serves the managed-identity endpoint; the migrations run as the token's role
        store = await asyncio.to_thread(Store.open, url)
        try:
            with store.engine.connect() as conn:
                assert conn.execute(text("SELECT current_user")).scalar() == role
            assert identity.token_requests == 1
            assert {t.resource for t in identity.issued.values()} == {
                POSTGRES_SCOPE.removesuffix("/.default")
            }
        finally:
            store.close()
        monkeypatch.setenv("DATABASE_AUTH", "password")
        plain = make_engine(url)
        with pytest.raises(Exception, match=r"password|authentication"):
            plain.connect().close()
        plain.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP OWNED BY {role}"))
            conn.execute(text(f'REVOKE ALL ON DATABASE "{db}" FROM {role}'))
            conn.execute(text(f"DROP ROLE {role}"))
        admin.dispose()
