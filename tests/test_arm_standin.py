"""The ARM stand-in's own behaviour, seen with a plain aiohttp client over TLS."""

from __future__ import annotations

import asyncio
import json
import ssl
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.arm_standin import ArmStandIn, Limits

SUB = "00000000-0000-0000-0000-000000000001"
OTHER_SUB = "00000000-0000-0000-0000-000000000002"
WS = f"subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws"
API = "2023-08-01-preview"


@dataclass
class Reply:
    status: int
    headers: Any
    body: Any


class ArmClient:
    def __init__(self, session: aiohttp.ClientSession, base: str, endpoint: str, secret: str) -> None:
        self.session, self.base, self.endpoint, self.secret = session, base, endpoint, secret
        self.token: str | None = None

    async def fetch_token(self, resource: str | None = None, secret: str | None = None) -> Reply:
        params = {"api-version": "2019-08-01", "resource": resource or self.base.rstrip("/")}
        headers = {"X-IDENTITY-HEADER": secret or self.secret}
        async with self.session.get(self.endpoint, params=params, headers=headers) as response:
            return Reply(response.status, response.headers, await response.json())

    async def call(
        self, method: str, path: str, *, body: Any = None, token: str | None = None, versioned: bool = True
    ) -> Reply:
        if self.token is None:
            self.token = (await self.fetch_token()).body["access_token"]
        url = path if path.startswith("https://") else f"{self.base}{path}"
        if versioned and "api-version" not in url:
            url += ("&" if "?" in url else "?") + f"api-version={API}"
        headers = {"Authorization": f"Bearer {token if token is not None else self.token}"}
        async with self.session.request(method, url, json=body, headers=headers) as response:
            text = await response.text()
            return Reply(response.status, response.headers, json.loads(text) if text else None)


async def client_for(session: aiohttp.ClientSession, base: str, env: dict[str, str]) -> ArmClient:
    return ArmClient(session, base, env["IDENTITY_ENDPOINT"], env["IDENTITY_HEADER"])


@pytest.fixture
async def http(arm: ArmStandIn) -> AsyncIterator[ArmClient]:
    context = ssl.create_default_context(cafile=str(arm.ca_path))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as session:
        yield await client_for(session, arm.url, arm.env)


def seed(arm: ArmStandIn, name: str, state: str = "Running", subscription: str = SUB) -> None:
    arm.seed_instance(subscription, "rg", "ws", name, state=state, owner_object_id="o", owner_tenant_id="t")


async def test_arm_accepts_only_tokens_its_identity_endpoint_issued(arm: ArmStandIn, http: ArmClient) -> None:
    seed(arm, "ci-anna")

    missing = await http.call("GET", f"{WS}/computes", token="")
    forged = await http.call("GET", f"{WS}/computes", token="eyJhbGciOiJub25lIn0.e30.")
    wrong_audience = (await http.fetch_token("https://management.azure.com")).body["access_token"]
    other = await http.call("GET", f"{WS}/computes", token=wrong_audience)
    good = await http.call("GET", f"{WS}/computes")

    assert (missing.status, missing.body["error"]["code"]) == (401, "AuthenticationFailed")
    assert "Bearer authorization_uri=" in missing.headers["WWW-Authenticate"]
    assert (forged.status, forged.body["error"]["code"]) == (401, "InvalidAuthenticationToken")
    assert (other.status, other.body["error"]["code"]) == (401, "InvalidAuthenticationTokenAudience")
    assert good.status == 200 and [c["name"] for c in good.body["value"]] == ["ci-anna"]
    assert arm.counters.unauthorized == 3


async def test_identity_endpoint_speaks_app_service_2019_08_01(arm: ArmStandIn, http: ArmClient) -> None:
    refused = await http.fetch_token(secret="wrong")
    issued = await http.fetch_token()

    assert refused.status == 401
    assert issued.status == 200
    assert set(issued.body) >= {"access_token", "expires_on", "resource", "token_type"}
    assert issued.body["token_type"] == "Bearer" and issued.body["expires_on"].isdigit()
    assert issued.body["access_token"].count(".") == 2  # JWT-shaped
    assert arm.identity.token_requests == 2


async def test_writes_are_throttled_per_subscription_with_retry_after(
    arm: ArmStandIn, http: ArmClient
) -> None:
    arm.limits = Limits(writes=(3, 0.5))
    for name in ("ci-1", "ci-2", "ci-3", "ci-4"):
        seed(arm, name)
    seed(arm, "ci-elsewhere", subscription=OTHER_SUB)

    accepted = [await http.call("POST", f"{WS}/computes/ci-{n}/stop") for n in (1, 2, 3)]
    refused = await http.call("POST", f"{WS}/computes/ci-4/stop")
    other_ws = WS.replace(SUB, OTHER_SUB)
    other = await http.call("POST", f"{other_ws}/computes/ci-elsewhere/stop")
    read = await http.call("GET", f"{WS}/computes/ci-4")

    assert [r.status for r in accepted] == [202, 202, 202]
    assert [r.headers["x-ms-ratelimit-remaining-subscription-writes"] for r in accepted] == ["2", "1", "0"]
    assert refused.status == 429
    assert refused.headers["Retry-After"] == "2"  # ceil(1 token / 0.5 per second)
    assert refused.headers["x-ms-ratelimit-remaining-subscription-writes"] == "0"
    assert refused.body["error"]["code"] == "SubscriptionRequestsThrottled"
    assert other.status == 202
    assert read.status == 200 and read.body["properties"]["properties"]["state"] == "Running"
    assert (arm.counters.writes, arm.counters.throttled) == (4, 1)


async def test_stop_is_a_long_running_operation(arm: ArmStandIn, http: ArmClient) -> None:
    seed(arm, "ci-anna")

    accepted = await http.call("POST", f"{WS}/computes/ci-anna/stop")
    status_url = accepted.headers["Azure-AsyncOperation"]
    early = await http.call("GET", status_url)
    during = await http.call("GET", f"{WS}/computes/ci-anna")
    await asyncio.sleep(arm.state.op_seconds + 0.05)
    done = await http.call("GET", status_url)
    after = await http.call("GET", f"{WS}/computes/ci-anna")

    assert accepted.status == 202 and accepted.body is None
    assert "Retry-After" not in accepted.headers
    assert status_url.startswith(arm.url) and "/computeOperationsStatus/" in status_url
    assert early.body["status"] == "InProgress"
    assert during.body["properties"]["properties"]["state"] == "Stopping"
    assert during.body["properties"]["properties"]["lastOperation"]["operationStatus"] == "InProgress"
    assert done.body["status"] == "Succeeded" and "endTime" in done.body
    inner = after.body["properties"]["properties"]
    assert inner["state"] == "Stopped"
    assert {
        k: inner["lastOperation"][k] for k in ("operationName", "operationStatus", "operationTrigger")
    } == {
        "operationName": "Stop",
        "operationStatus": "Succeeded",
        "operationTrigger": "User",
    }


async def test_wrong_state_and_busy_instances_conflict(arm: ArmStandIn, http: ArmClient) -> None:
    seed(arm, "ci-stopped", state="Stopped")
    seed(arm, "ci-running")

    stop_stopped = await http.call("POST", f"{WS}/computes/ci-stopped/stop")
    start_running = await http.call("POST", f"{WS}/computes/ci-running/start")
    start = await http.call("POST", f"{WS}/computes/ci-stopped/start")
    busy = await http.call("POST", f"{WS}/computes/ci-stopped/stop")
    unknown = await http.call("POST", f"{WS}/computes/ci-nobody/stop")

    assert (stop_stopped.status, stop_stopped.body["error"]["code"]) == (409, "UserError")
    assert "Stopped state" in stop_stopped.body["error"]["message"]
    assert start_running.status == 409
    assert start.status == 202
    assert (busy.status, busy.body["error"]["code"]) == (409, "Conflict")
    assert "busy" in busy.body["error"]["message"]
    assert (unknown.status, unknown.body["error"]["code"]) == (404, "ResourceNotFound")
    await asyncio.sleep(arm.state.op_seconds + 0.05)
    assert arm.instance("ci-stopped").state == "Running"


async def test_accept_then_fail_mode_fails_the_operation(arm: ArmStandIn, http: ArmClient) -> None:
    arm.state.wrong_state = "accept_then_fail"
    seed(arm, "ci-running")

    accepted = await http.call("POST", f"{WS}/computes/ci-running/start")
    await asyncio.sleep(arm.state.op_seconds + 0.05)
    outcome = await http.call("GET", accepted.headers["Azure-AsyncOperation"])

    assert accepted.status == 202
    assert outcome.body["status"] == "Failed"
    assert outcome.body["error"]["code"] == "StartComputeInstanceOnlyAllowedInStoppedState"
    assert arm.instance("ci-running").state == "Running"


async def test_create_then_delete(arm: ArmStandIn, http: ArmClient) -> None:
    arm.add_workspace(SUB, "rg", "ws")
    body = {
        "location": "westeurope",
        "tags": {"by": "test"},
        "properties": {
            "computeType": "ComputeInstance",
            "properties": {
                "vmSize": "Standard_DS3_v2",
                "idleTimeBeforeShutdown": "PT45M",
                "personalComputeInstanceSettings": {"assignedUser": {"objectId": "o", "tenantId": "t"}},
            },
        },
    }

    created = await http.call("PUT", f"{WS}/computes/ci-new", body=body)
    again = await http.call("PUT", f"{WS}/computes/ci-new", body=body)
    bad_name = await http.call("PUT", f"{WS}/computes/9-bad", body=body)
    await asyncio.sleep(arm.state.op_seconds + 0.05)
    record = arm.instance("ci-new")
    operation = dict(record.last_operation or {})
    created_as = (record.state, record.owner_object_id, record.idle_shutdown_minutes, dict(record.tags))
    deleted = await http.call(
        "DELETE", f"{WS}/computes/ci-new?api-version={API}&underlyingResourceAction=Delete"
    )
    await asyncio.sleep(arm.state.op_seconds + 0.05)
    gone = await http.call("GET", f"{WS}/computes/ci-new")

    assert created.status == 201 and "Azure-AsyncOperation" in created.headers
    assert created.body["properties"]["properties"]["state"] == "Creating"
    assert again.status == 409
    assert bad_name.status == 400
    assert created_as == ("Running", "o", 45, {"by": "test"})
    assert (operation["operationName"], operation["operationStatus"]) == ("Create", "Succeeded")
    assert deleted.status == 202
    assert gone.status == 404


async def test_injected_faults_are_served_then_normal_service_resumes(
    arm: ArmStandIn, http: ArmClient
) -> None:
    seed(arm, "ci-anna")
    arm.fail_next("GET", r"/computes$", 503, times=2)
    arm.fail_next("POST", r"/stop$", 403)

    statuses = [(await http.call("GET", f"{WS}/computes")).status for _ in range(3)]
    forbidden = await http.call("POST", f"{WS}/computes/ci-anna/stop")

    assert statuses == [503, 503, 200]
    assert forbidden.status == 403 and forbidden.body["error"]["code"] == "AuthorizationFailed"
    assert "workspaces/computes/stop/action" in forbidden.body["error"]["message"]
    assert arm.counters.faults == 3
    assert arm.instance("ci-anna").state == "Running"


async def test_lists_are_paged_with_next_link(arm: ArmStandIn, http: ArmClient) -> None:
    arm.page_size = 2
    for n in range(5):
        seed(arm, f"ci-{n}")

    names, url, pages = [], f"{WS}/computes", 0
    while url:
        page = await http.call("GET", url)
        names += [c["name"] for c in page.body["value"]]
        url, pages = page.body.get("nextLink"), pages + 1

    assert pages == 3
    assert names == [f"ci-{n}" for n in range(5)]


async def test_every_answer_is_checked_against_the_specification_unless_a_sample_is_asked_for(
    arm: ArmStandIn, http: ArmClient
) -> None:
    seed(arm, "ci-0")
    for _ in range(3):
        await http.call("GET", f"{WS}/computes")
    checked = dict(arm.spec_checked)
    assert sum(checked.values()) >= 3  # every listing, as the tests run it

    arm.spec_checks = max(checked.values())  # the benchmarks' stand-in: the first few of each kind
    for _ in range(3):
        await http.call("GET", f"{WS}/computes")
    assert arm.spec_checked == checked


async def test_every_request_is_logged_and_needs_an_api_version(arm: ArmStandIn, http: ArmClient) -> None:
    seed(arm, "ci-anna")

    missing = await http.call("GET", f"{WS}/computes/ci-anna", versioned=False)
    await http.call("POST", f"{WS}/computes/ci-anna/stop")

    assert (missing.status, missing.body["error"]["code"]) == (400, "MissingApiVersionParameter")
    assert [(r.method, r.status) for r in arm.requests] == [("GET", 400), ("POST", 202)]
    stop = arm.requests_matching("POST", r"/ci-anna/stop$")[0]
    assert (stop.query["api-version"], stop.body) == (API, None)


async def test_command_line_serves_a_seed_file(tmp_path: Path) -> None:
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(
        json.dumps(
            {
                "workspaces": [
                    {
                        "subscription": SUB,
                        "resource_group": "rg",
                        "workspace": "ws",
                        "instances": [{"name": "ci-anna", "state": "Stopped"}],
                        "generate_instances": {"count": 2, "prefix": "ci-gen-"},
                        "jobs": [{"name": "job-1", "compute": "ci-anna"}],
                    }
                ]
            }
        )
    )
    ca_out = tmp_path / "ca.pem"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.arm_standin",
        "--seed",
        str(seed_file),
        "--ca-out",
        str(ca_out),
        "--op-seconds",
        "0.1",
        cwd=Path(__file__).parent.parent,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        values = await asyncio.wait_for(_read_until_ready(process), timeout=20)
        context = ssl.create_default_context(cafile=values["ARM_CA"])
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as session:
            client = await client_for(session, values["ARM_URL"], values)
            listing = await client.call("GET", f"{WS}/computes")
    finally:
        process.terminate()
        code = await process.wait()

    assert code == 0  # 3 would mean an answer off the REST specification
    assert Path(values["ARM_CA"]) == ca_out.resolve()
    assert sorted(c["name"] for c in listing.body["value"]) == ["ci-anna", "ci-gen-0000", "ci-gen-0001"]


async def _read_until_ready(process: asyncio.subprocess.Process) -> dict[str, str]:
    assert process.stdout is not None
    values: dict[str, str] = {}
    while (line := (await process.stdout.readline()).decode().strip()) != "READY":
        assert line, "the stand-in exited before READY"
        key, _, value = line.partition("=")
        values[key] = value
    return values
