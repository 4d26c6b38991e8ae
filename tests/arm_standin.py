"""A local stand-in for Azure Resource Manager (Azure ML computes and jobs) and a managed identity.

The unmodified azure-ai-ml SDK talks to it over TLS (a CA made at start; trust `ca_path`) and gets its
bearer token from the loopback managed-identity endpoint (`env`: IDENTITY_ENDPOINT, IDENTITY_HEADER),
exactly as on App Service. It enforces what ARM enforces: bearer tokens it issued for its own audience,
`api-version`, per-subscription token buckets (429 with `Retry-After`), long-running operations
(202 + `Azure-AsyncOperation`, InProgress then Succeeded/Failed), 409 for a busy or wrong-state
instance, 404 for unknown resources. Faults can be injected with `fail_next`. It also serves
`POST .../computes/{name}/updateIdleShutdownSetting` (IdleShutdownSetting body, 200 without a body, as in
the 2025-12-01 specification) and each instance's `schedules.computeStartStop` (`record.schedules`);
`lastOperation` is set by start/stop/restart (trigger User) and by `state.stop_by(ws, name,
"IdleShutdown" | "Schedule")` and `state.start_by_schedule(ws, name)`, which simulate Azure acting alone.

In a test (see tests/arm_fixtures.py)::

    async with ArmStandIn(tmp_path, op_seconds=0.2) as arm:
        arm.seed_instance(SUB, "rg", "ws", "ci-anna", state="Running", owner_object_id=ANNA)
        ...  # point MLClient at arm.url with connection_verify=arm.ca_path
        assert arm.instance("ci-anna").state == "Stopping"

Command line (benchmarks, subprocess tests)::

    python -m tests.arm_standin --port 8443 --seed seed.json --ca-out ca.pem [--op-seconds 1]
        [--page-size 50] [--read-bucket 250 --read-refill 25] [--write-bucket 200 --write-refill 10]
        [--delete-bucket 200 --delete-refill 10] [--mi-port 0] [--identity-header SECRET]

It prints `ARM_URL=...`, `ARM_CA=...`, `IDENTITY_ENDPOINT=...`, `IDENTITY_HEADER=...`, then `READY`,
one per line, and serves until SIGINT/SIGTERM. A client needs IDENTITY_* in its environment (that is
what DefaultAzureCredential reads) and must trust ARM_CA. Seed JSON (only names are required;
`generate_instances` adds prefix0000, prefix0001, ...; jobs may also say `"archived": true`)::

    {"workspaces": [{
        "subscription": "00000000-0000-0000-0000-000000000001", "resource_group": "rg-ml",
        "workspace": "ws-research", "location": "westeurope",
        "instances": [{"name": "ci-anna", "size": "Standard_DS3_v2", "state": "Running",
                       "owner_object_id": "...", "owner_tenant_id": "...",
                       "last_started_at": "2026-01-05T07:58:00Z", "idle_shutdown_minutes": 60,
                       "tags": {"team": "vision"}}],
        "generate_instances": {"count": 1000, "prefix": "ci-", "state": "Running", "size": "...",
                               "owner_object_id": "...", "owner_tenant_id": "..."},
        "clusters": [{"name": "cpu-cluster", "size": "Standard_DS3_v2"}],
        "jobs": [{"name": "job-1", "compute": "ci-anna", "status": "Running", "display_name": "train"}]
    }]}

VM sizes and their estimated prices (`GET .../locations/{region}/vmSizes`) come from
`arm_json.VM_SIZES`, scaled per region; one size has no published price.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from tests import arm_json
from tests.arm_faults import Counters, Fault, Limits, LoggedRequest, RawError
from tests.arm_identity import ManagedIdentityEndpoint, make_tls
from tests.arm_rbac import ArmRbac
from tests.arm_seed import SeedMixin
from tests.arm_spec import violations
from tests.arm_state import ArmBucket, ArmError, ArmState, ComputeRecord, WrongStateMode, utcnow

__all__ = ["ArmStandIn", "Counters", "Fault", "Limits", "LoggedRequest"]
log = logging.getLogger(__name__)
_WS = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/workspaces/{ws}"
_OPS = "/subscriptions/{sub}/providers/Microsoft.MachineLearningServices/locations/{loc}/computeOperationsStatus/{op}"
_VM_SIZES = "/subscriptions/{sub}/providers/Microsoft.MachineLearningServices/locations/{loc}/vmSizes"
_PERMISSIONS_API_VERSIONS = ("2015-07-01", "2018-01-01-preview", "2022-04-01", "2022-05-01-preview")
_SUBSCRIPTION = re.compile(r"^/subscriptions/([^/]+)", re.IGNORECASE)
_KIND_BY_METHOD = {"GET": "reads", "HEAD": "reads", "DELETE": "deletes"}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_SPEC = web.ResponseKey("spec_definition", str)
"""The key, on a response, of the specification definition its body follows."""


def _answer(
    definition: str, body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    response = web.json_response(body, status=status, headers=headers)
    response[_SPEC] = definition
    return response


class ArmStandIn(SeedMixin):
    """ARM plus a managed-identity endpoint on loopback; `async with` starts and stops both.

    Controls: `limits` (before the first request), `fail_next`, `fail_next_operation`, `page_size`,
    `latency_s`, `state.op_seconds`, `state.wrong_state` ("conflict", or "accept_then_fail": 202 and
    a Failed operation, as Azure sometimes does). Read-back: `requests` (the log), `counters`,
    `instances`, `instance(name)`, `max_in_flight`, `server_errors` (stand-in bugs), `identity`.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        port: int = 0,
        op_seconds: float = 1.0,
        page_size: int = 50,
        limits: Limits | None = None,
        wrong_state: WrongStateMode = "conflict",
        clock: Callable[[], float] = time.monotonic,
        identity: ManagedIdentityEndpoint | None = None,
        spec_checks: int | None = None,
    ) -> None:
        """`spec_checks`: how many answers of each definition to check against the specification
        (None: every one, as the tests do; the benchmarks check the first few of each kind)."""
        self.workdir = workdir
        self.spec_checks = spec_checks
        self.port = port
        self.page_size = page_size
        self.limits = limits or Limits()
        self.clock = clock
        self.state = ArmState(op_seconds=op_seconds, clock=clock, wrong_state=wrong_state)
        self.identity = identity or ManagedIdentityEndpoint()
        self.rbac: ArmRbac | None = None
        """Role-based access control (tests/arm_rbac.py); None lets every valid token do anything."""
        self.requests: list[LoggedRequest] = []
        self.counters = Counters()
        self.faults: list[Fault] = []
        self.server_errors: list[str] = []
        self.spec_violations: list[str] = []
        """Answers that break the REST specification's schemas (tests/arm_spec.py): stand-in bugs."""
        self.spec_deviations: list[str] = []
        """Answers off the specification on purpose, as real Azure gives them (KNOWN_DEVIATIONS)."""
        self.spec_checked: dict[str, int] = {}
        """How many answers were checked, per definition."""
        self.latency_s = 0.0
        """Added to every ARM answer, to see concurrency."""
        self.in_flight = 0
        self.max_in_flight = 0
        self._buckets: dict[tuple[str, str], ArmBucket] = {}
        self._skip_tokens: dict[str, int] = {}
        self._ssl, self.ca_path = make_tls(workdir)
        self._runner: web.AppRunner | None = None

    # Lifetime --------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}/"

    @property
    def env(self) -> dict[str, str]:
        return self.identity.env

    async def start(self) -> ArmStandIn:
        await self.identity.start()
        app = web.Application(middlewares=[self._middleware])
        self._routes(app.router)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=self._ssl).start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.identity.stop()

    async def __aenter__(self) -> ArmStandIn:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # Test controls ---------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        path_regex: str,
        status: int,
        *,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
        times: int = 1,
        query_regex: str | None = None,
    ) -> Fault:
        """Answer the next `times` requests matching method and path (and the query string, if
        given; re.search) with `status`."""
        query = None if query_regex is None else re.compile(query_regex)
        fault = Fault(
            method.upper(), re.compile(path_regex), status, dict(headers or {}), body, times, query=query
        )
        self.faults.append(fault)
        return fault

    def requests_matching(
        self, method: str | None = None, path_regex: str | None = None
    ) -> list[LoggedRequest]:
        return [
            r
            for r in self.requests
            if (method is None or r.method == method.upper())
            and (path_regex is None or re.search(path_regex, r.path))
        ]

    def bucket(self, subscription: str, kind: str) -> ArmBucket:
        key = (subscription.lower(), kind)
        if key not in self._buckets:
            size, refill = getattr(self.limits, kind)
            self._buckets[key] = ArmBucket(size, refill, self.clock)
        return self._buckets[key]

    # HTTP ------------------------------------------------------------------------------------

    def _routes(self, router: web.UrlDispatcher) -> None:
        router.add_get(_WS, self._get_workspace)
        router.add_get(_WS + "/computes", self._list_computes)
        router.add_get(_WS + "/computes/{name}", self._get_compute)
        router.add_put(_WS + "/computes/{name}", self._create_compute)
        router.add_delete(_WS + "/computes/{name}", self._delete_compute)
        router.add_post(_WS + "/computes/{name}/{action:start|stop|restart}", self._act)
        router.add_post(_WS + "/computes/{name}/updateIdleShutdownSetting", self._update_idle_shutdown)
        router.add_get(_WS + "/jobs", self._list_jobs)
        router.add_get(_OPS, self._operation_status)
        router.add_get(_VM_SIZES, self._vm_sizes)
        router.add_get(_WS + "/providers/Microsoft.Authorization/permissions", self._permissions)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        body = await _json_body(request)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.latency_s:
                await asyncio.sleep(self.latency_s)
            response = await self._guarded(request, handler)
        except ArmError as error:
            response = self._error(error)
        except web.HTTPNotFound:
            response = self._error(
                ArmError(404, "NoRegisteredProviderFound", f"No route for {request.path}.")
            )
        except Exception as bug:  # a stand-in bug: answer 500 and keep it for the fixture to report
            log.exception("ARM stand-in failed on %s %s", request.method, request.path)
            self.server_errors.append(f"{request.method} {request.path}: {bug!r}")
            response = self._error(ArmError(500, "InternalServerError", "The ARM stand-in failed."))
        finally:
            self.in_flight -= 1
        self._check_spec(request, response)
        response.headers["x-ms-request-id"] = str(uuid.uuid4())
        response.headers["x-ms-correlation-request-id"] = str(uuid.uuid4())
        self.requests.append(
            LoggedRequest(
                request.method, request.path, dict(request.query), response.status, self.clock(), body
            )
        )
        return response

    async def _guarded(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self._authorize(request)
        if self.rbac is not None:
            self.rbac.authorize(
                request.method, request.path, request.headers["Authorization"], self.identity.principal_id
            )
        if "api-version" not in request.query:
            raise ArmError(400, "MissingApiVersionParameter", "The api-version query parameter is required.")
        self._inject_fault(request)
        kind = _KIND_BY_METHOD.get(request.method, "writes")
        remaining = self._take_token(request, kind)
        response = await handler(request)
        response.headers[f"x-ms-ratelimit-remaining-subscription-{kind}"] = str(remaining)
        return response

    def _authorize(self, request: web.Request) -> None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        issued = self.identity.token_info(token) if scheme.lower() == "bearer" else None
        problem = None
        if not token:
            problem = (
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
            )
        elif issued is None or issued.expires_on < time.time():
            problem = ("InvalidAuthenticationToken", "The access token is invalid.")
        elif issued.resource.rstrip("/") != self.url.rstrip("/"):
            problem = (
                "InvalidAuthenticationTokenAudience",
                f"The access token has been obtained for wrong audience or resource '{issued.resource}'.",
            )
        if problem:
            self.counters.unauthorized += 1
            challenge = (
                f'Bearer authorization_uri="https://login.microsoftonline.com/{self.identity.tenant_id}", '
                'error="invalid_token"'
            )
            raise ArmError(401, *problem, headers={"WWW-Authenticate": challenge})

    def _check_spec(self, request: web.Request, response: web.StreamResponse) -> None:
        """Validate the answer against the specification's schema for what it is."""
        definition = response.get(_SPEC) or ("ErrorResponse" if response.status >= 400 else None)
        body = getattr(response, "body", None)
        if definition is None or not body or response.content_type != "application/json":
            return
        if self.spec_checks is not None and self.spec_checked.get(definition, 0) >= self.spec_checks:
            return
        self.spec_checked[definition] = self.spec_checked.get(definition, 0) + 1
        bad, known = violations(definition, json.loads(bytes(body)))
        where = f"{request.method} {request.path} ({response.status})"
        self.spec_violations += [f"{where}: {line}" for line in bad]
        self.spec_deviations += [f"{where}: {line}" for line in known]

    def _inject_fault(self, request: web.Request) -> None:
        for fault in self.faults:
            if fault.matches(request.method, request.path, request.query_string):
                self.counters.faults += 1
                raise fault.answer(request.method, request.path, self.identity.principal_id)

    def _take_token(self, request: web.Request, kind: str) -> int:
        match = _SUBSCRIPTION.match(request.path)
        if match is None:
            return 0
        bucket = self.bucket(match.group(1), kind)
        if not bucket.take():
            self.counters.throttled += 1
            self.counters.by_kind_throttled[kind] = self.counters.by_kind_throttled.get(kind, 0) + 1
            wait = bucket.retry_after()
            raise ArmError(
                429,
                "SubscriptionRequestsThrottled",
                f"Number of '{kind}' requests for subscription '{match.group(1)}' actor "
                f"'{self.identity.principal_id}' exceeded. Please try again after '{wait}' seconds after the "
                "additional tokens are available. Refer to https://aka.ms/arm-throttling",
                headers={"Retry-After": str(wait), f"x-ms-ratelimit-remaining-subscription-{kind}": "0"},
            )
        setattr(self.counters, kind, getattr(self.counters, kind) + 1)
        return bucket.remaining

    @staticmethod
    def _error(error: ArmError) -> web.Response:
        if isinstance(error, RawError):
            return web.json_response(error.body, status=error.status, headers=error.headers)
        return web.json_response(
            arm_json.error_body(error.code, error.message), status=error.status, headers=error.headers
        )

    def _ws(self, request: web.Request) -> Any:
        info = request.match_info
        return self.state.workspace(info["sub"], info["rg"], info["ws"])

    async def _get_workspace(self, request: web.Request) -> web.Response:
        return web.json_response(arm_json.workspace_json(self._ws(request)))

    async def _list_computes(self, request: web.Request) -> web.Response:
        records = [arm_json.compute_json(r) for r in self.state.list_computes(self._ws(request))]
        return self._page(request, "PaginatedComputeResourcesList", records)

    async def _list_jobs(self, request: web.Request) -> web.Response:
        archived = request.query.get("listViewType", "ActiveOnly") != "ActiveOnly"
        jobs = [
            arm_json.job_json(j) for j in self.state.list_jobs(self._ws(request), include_archived=archived)
        ]
        return self._page(request, "JobBaseResourceArmPaginatedResult", jobs)

    def _page(self, request: web.Request, definition: str, items: list[dict[str, Any]]) -> web.Response:
        """One page of `items`; `nextLink` carries an opaque continuation token, as Azure's do."""
        token = request.query.get("$skip")
        start = 0
        if token:
            if token not in self._skip_tokens:
                raise ArmError(400, "InvalidContinuationToken", "The continuation token is not valid.")
            start = self._skip_tokens[token]
        end = start + self.page_size
        body: dict[str, Any] = {"value": items[start:end]}
        if end < len(items):
            token = f"{uuid.uuid4().hex[:12]}-{end:x}=="  # opaque: never a number
            self._skip_tokens[token] = end
            query = "&".join(f"{k}={v}" for k, v in request.query.items() if k != "$skip")
            body["nextLink"] = f"{self.url.rstrip('/')}{request.path}?{query}&$skip={token}"
        return _answer(definition, body)

    async def _get_compute(self, request: web.Request) -> web.Response:
        record = self.state.compute(self._ws(request), request.match_info["name"])
        return _answer("ComputeResource", arm_json.compute_json(record))

    async def _create_compute(self, request: web.Request) -> web.Response:
        ws = self._ws(request)
        caller = {
            "userId": self.identity.principal_id,
            "userOrgId": self.identity.tenant_id,
            "userName": None,
        }
        record = self.parse_compute_body(ws, request.match_info["name"], await request.json(), caller)
        op = self.state.create(ws, record)
        return _answer("ComputeResource", arm_json.compute_json(record), 201, self._lro_headers(request, op))

    async def _delete_compute(self, request: web.Request) -> web.Response:
        """Compute_Delete as the specification has it: `underlyingResourceAction` (Delete or Detach) is a
        required query parameter; 202 with Azure-AsyncOperation and Location, the operation followed."""
        action = request.query.get("underlyingResourceAction")
        if action not in ("Delete", "Detach"):
            raise ArmError(
                400,
                "InvalidRequestContent",
                "The query parameter underlyingResourceAction is required: Delete or Detach.",
            )
        op = self.state.delete(self._ws(request), request.match_info["name"])
        headers = self._lro_headers(request, op)
        return web.Response(status=202, headers={**headers, "Location": headers["Azure-AsyncOperation"]})

    async def _act(self, request: web.Request) -> web.Response:
        op = self.state.act(self._ws(request), request.match_info["name"], request.match_info["action"])
        return web.Response(status=202, headers=self._lro_headers(request, op))

    async def _update_idle_shutdown(self, request: web.Request) -> web.Response:
        """Compute_UpdateIdleShutdownSetting: 200 with no body, as the specification says."""
        body = await request.json() if request.body_exists else None
        self.state.update_idle_shutdown(self._ws(request), request.match_info["name"], body)
        return web.Response(status=200)

    async def _vm_sizes(self, request: web.Request) -> web.Response:
        return _answer("VirtualMachineSizeListResult", arm_json.vm_sizes_json(request.match_info["loc"]))

    async def _permissions(self, request: web.Request) -> web.Response:
        """The caller's permissions at the workspace: from its role assignments, or everything
        (`*`, as an Owner sees it) when RBAC is off."""
        self._ws(request)
        if request.query["api-version"] not in _PERMISSIONS_API_VERSIONS:
            raise ArmError(
                400,
                "InvalidApiVersionParameter",
                f"The api-version '{request.query['api-version']}' is invalid. The supported versions are "
                f"'{','.join(_PERMISSIONS_API_VERSIONS)}'.",
            )
        if self.rbac is None:
            value = [{"actions": ["*"], "notActions": [], "dataActions": [], "notDataActions": []}]
        else:
            principal = self.rbac.principal_of(request.headers["Authorization"], self.identity.principal_id)
            value = self.rbac.permissions_at(
                principal, request.path.split("/providers/Microsoft.Authorization")[0]
            )
        return web.json_response({"value": value})

    async def _operation_status(self, request: web.Request) -> web.Response:
        op = self.state.operation(request.match_info["op"])
        status = op.status(self.clock())
        return _answer("OperationStatusResult", arm_json.operation_json(op, status, utcnow()))

    def _lro_headers(self, request: web.Request, op: Any) -> dict[str, str]:
        version = request.query["api-version"]
        return {
            "Azure-AsyncOperation": f"{self.url}{arm_json.operation_path(op)}?api-version={version}&service=new"
        }

    # Read-back -------------------------------------------------------------------------------

    @property
    def instances(self) -> list[ComputeRecord]:
        """Every compute instance (not clusters), with operations settled up to now."""
        found = []
        for ws in self.state.workspaces.values():
            found += [r for r in self.state.list_computes(ws) if r.kind == "ComputeInstance"]
        return found

    def instance(self, name: str, workspace: str | None = None) -> ComputeRecord:
        found = [
            r
            for r in self.instances
            if r.name == name and (workspace is None or r.workspace.name == workspace)
        ]
        if len(found) != 1:
            raise KeyError(f"{len(found)} instances named {name!r} (workspace {workspace!r})")
        return found[0]


async def _json_body(request: web.Request) -> Any:
    if not request.can_read_body or request.method not in ("PUT", "POST"):
        return None
    text = await request.text()
    try:
        return json.loads(text)
    except ValueError:
        return text


if __name__ == "__main__":
    from tests.arm_seed import main

    main()
