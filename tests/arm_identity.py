"""A loopback managed-identity endpoint like App Service's, and the TLS material for the ARM stand-in.

App Service gives a site `IDENTITY_ENDPOINT` (plain http on loopback) and `IDENTITY_HEADER` (a secret
to echo in `X-IDENTITY-HEADER`); azure-identity's ManagedIdentityCredential asks it
`GET ?api-version=2019-08-01&resource=<audience>` and reads `{access_token, expires_on, resource,
token_type}`. Tokens are JWT-shaped (unsigned) with `aud`, `tid` and `oid`, as the SDK sometimes
decodes them to find the tenant.
"""

from __future__ import annotations

import base64
import json
import secrets
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trustme
from aiohttp import web

API_VERSION = "2019-08-01"
DEFAULT_TENANT = "72f988bf-0000-4000-8000-00000000c0de"
DEFAULT_PRINCIPAL = "5e1f0c2d-0000-4000-8000-0000000c0ffe"
DEFAULT_CLIENT_ID = "9b2a6c1e-0000-4000-8000-00000000c11e"


def make_tls(workdir: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context for 127.0.0.1/localhost and the PEM file of the CA that signed it."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    workdir.mkdir(parents=True, exist_ok=True)
    ca_path = workdir / "arm-standin-ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    return context, ca_path


def _b64(data: dict[str, Any] | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass(frozen=True)
class IssuedToken:
    resource: str
    expires_on: int


class ManagedIdentityEndpoint:
    """Serve tokens on http://127.0.0.1:<port>/msi/token; remember every token it issued."""

    def __init__(
        self,
        *,
        port: int = 0,
        identity_header: str | None = None,
        tenant_id: str = DEFAULT_TENANT,
        principal_id: str = DEFAULT_PRINCIPAL,
        client_id: str = DEFAULT_CLIENT_ID,
        lifetime_s: int = 24 * 3600,
    ) -> None:
        self.port = port
        self.identity_header = identity_header or secrets.token_urlsafe(24)
        self.tenant_id = tenant_id
        self.principal_id = principal_id
        self.client_id = client_id
        """The identity's client id: a request naming another (`client_id=`) is refused, as App Service does."""
        self.lifetime_s = lifetime_s
        self.issued: dict[str, IssuedToken] = {}
        self.token_requests = 0
        self.refused = 0
        self._runner: web.AppRunner | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/msi/token"

    @property
    def env(self) -> dict[str, str]:
        return {"IDENTITY_ENDPOINT": self.endpoint, "IDENTITY_HEADER": self.identity_header}

    def token_info(self, token: str) -> IssuedToken | None:
        return self.issued.get(token)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/msi/token", self._token)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _token(self, request: web.Request) -> web.Response:
        self.token_requests += 1
        if request.headers.get("X-IDENTITY-HEADER") != self.identity_header:
            self.refused += 1
            return web.json_response({"statusCode": 401, "message": "Unauthorized request"}, status=401)
        resource = request.query.get("resource")
        if request.query.get("api-version") != API_VERSION or not resource:
            self.refused += 1
            return web.json_response(
                {
                    "statusCode": 400,
                    "message": "Query parameters api-version=2019-08-01 and resource are required",
                },
                status=400,
            )
        asked = request.query.get("client_id")
        if asked is not None and asked.lower() != self.client_id:
            self.refused += 1
            return web.json_response(
                {
                    "statusCode": 400,
                    "message": "No User Assigned or Delegated Managed Identity found for specified "
                    "ClientId/ResourceId/PrincipalId.",
                },
                status=400,
            )
        now = int(time.time())
        token = self._mint(resource, now)
        self.issued[token] = IssuedToken(resource, now + self.lifetime_s)
        return web.json_response(
            {
                "access_token": token,
                "expires_on": str(now + self.lifetime_s),
                "resource": resource,
                "token_type": "Bearer",
                "client_id": self.client_id,
            }
        )

    def _mint(self, resource: str, now: int) -> str:
        claims = {
            "aud": resource,
            "iss": f"https://sts.windows.net/{self.tenant_id}/",
            "iat": now,
            "nbf": now,
            "exp": now + self.lifetime_s,
            "oid": self.principal_id,
            "sub": self.principal_id,
            "tid": self.tenant_id,
            "idtyp": "app",
            "jti": secrets.token_hex(8),
        }
        return ".".join((_b64({"typ": "JWT", "alg": "RS256"}), _b64(claims), _b64(secrets.token_bytes(32))))
