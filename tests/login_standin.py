"""A loopback stand-in for Microsoft Entra's token service at login.microsoftonline.com, for a process.

A Bot Framework app with a password (SingleTenant, MultiTenant) gets its token through MSAL from
`https://login.microsoftonline.com/{tenant}`: the OpenID configuration
(`/{tenant}/v2.0/.well-known/openid-configuration`), then a client-credentials POST to the token endpoint
it names. That host is fixed in botbuilder, so a process reaches this stand-in through an HTTPS proxy
on loopback (`HTTPS_PROXY`): the proxy answers `CONNECT login.microsoftonline.com:443` by tunnelling to
a local TLS server whose certificate (from `ca_path`, trust it with REQUESTS_CA_BUNDLE) names that host.
A CONNECT to any other host is refused with 403 and kept in `refused_hosts`, so nothing leaves loopback.

The token endpoint checks the client id and secret it was given (`apps`) and answers like Entra:
200 with `access_token`, or 401 `invalid_client` (AADSTS7000215) for a wrong secret, 400
`unauthorized_client` (AADSTS700016) for an unknown app. `tokens` keeps (client id, scope) per token.
"""

from __future__ import annotations

import asyncio
import secrets
import ssl
from pathlib import Path
from typing import Any

import trustme
from aiohttp import web

HOST = "login.microsoftonline.com"


class LoginStandIn:
    def __init__(self, workdir: Path, apps: dict[str, str]) -> None:
        """`apps`: client id -> its one valid secret."""
        self.apps = apps
        self.tokens: dict[str, tuple[str, str]] = {}
        self.refused_hosts: list[str] = []
        self.requests: list[str] = []
        """"METHOD /path -> status" per request, for a failing test to show."""
        ca = trustme.CA()
        self._ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(HOST).configure_cert(self._ssl)
        workdir.mkdir(parents=True, exist_ok=True)
        self.ca_path = workdir / "login-standin-ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_path))
        self._runner: web.AppRunner | None = None
        self._proxy: asyncio.Server | None = None
        self._tls_port = 0
        self.proxy_url = ""

    async def __aenter__(self) -> LoginStandIn:
        app = web.Application(middlewares=[self._log])
        app.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", self._openid)
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        app.router.add_get("/common/discovery/instance", self._instances)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self._ssl).start()
        self._tls_port = self._runner.addresses[0][1]
        self._proxy = await asyncio.start_server(self._tunnel, "127.0.0.1", 0)
        self.proxy_url = f"http://127.0.0.1:{self._proxy.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._proxy is not None:
            self._proxy.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @web.middleware
    async def _log(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
        except web.HTTPException as error:
            self.requests.append(f"{request.method} {request.path_qs} -> {error.status}")
            raise
        self.requests.append(f"{request.method} {request.path_qs} -> {response.status}")
        return response

    async def _tunnel(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        method, target, *_ = head.decode("latin-1").split()
        if method != "CONNECT" or target.lower() != f"{HOST}:443":
            self.refused_hosts.append(target)
            writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._tls_port)
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    async def _openid(self, request: web.Request) -> web.Response:
        base = f"https://{HOST}/{request.match_info['tenant']}"
        return web.json_response(
            {
                "issuer": f"{base}/v2.0",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
            }
        )

    async def _instances(self, request: web.Request) -> web.Response:
        """Entra's instance metadata (MSAL reads the host's aliases from it)."""
        return web.json_response(
            {
                "tenant_discovery_endpoint": f"https://{HOST}/common/v2.0/.well-known/openid-configuration",
                "api-version": "1.1",
                "metadata": [
                    {
                        "preferred_network": HOST,
                        "preferred_cache": "login.windows.net",
                        "aliases": [HOST, "login.windows.net", "login.microsoft.com", "sts.windows.net"],
                    }
                ],
            }
        )

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        client, secret, scope = (
            str(form.get("client_id")),
            str(form.get("client_secret")),
            str(form.get("scope")),
        )
        if form.get("grant_type") != "client_credentials" or client not in self.apps:
            return _refusal(
                400,
                "unauthorized_client",
                f"AADSTS700016: Application with identifier '{client}' was not found in the directory.",
            )
        if not secrets.compare_digest(secret, self.apps[client]):
            return _refusal(
                401,
                "invalid_client",
                f"AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client}'.",
            )
        token = secrets.token_urlsafe(32)
        self.tokens[token] = (client, scope)
        return web.json_response(
            {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token}
        )


def _refusal(status: int, error: str, description: str) -> web.Response:
    return web.json_response(
        {
            "error": error,
            "error_description": description,
            "error_codes": [int(description[6:].split(":")[0])],
        },
        status=status,
    )


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        sink.close()
