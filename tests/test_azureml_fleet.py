"""AzureMLFleet through the unmodified azure-ai-ml SDK, against the local ARM stand-in over TLS.

DefaultAzureCredential gets its token from the stand-in's managed-identity endpoint, as on App
Service. Operations on the stand-in take 0.2 s.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from datetime import UTC, datetime

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ServiceRequestError

from compute.azureml import AzureMLFleet, cloud_kwargs, environment_read_once
from compute.azureml_errors import translate as _translate
from compute.port import (
    ActionResult,
    Busy,
    CreateSpec,
    Forbidden,
    InvalidRequest,
    NotFound,
    Throttled,
    Unavailable,
)
from domain.model import InstanceState, OwnerSource
from tests.arm_fixtures import RESEARCH, TENANT, VISION, make_fleet, seed_instance, seed_job
from tests.arm_standin import ArmStandIn, Limits

ANNA = "00000000-0000-0000-0000-000000000020"
BEN = "00000000-0000-0000-0000-000000000021"
OPERATION_STATUS = r"/computeOperationsStatus/"


async def settle(arm: ArmStandIn) -> None:
    await asyncio.sleep(arm.state.op_seconds + 0.05)


def poller_threads() -> list[str]:
    """azure-core names the thread of a polling LROPoller `LROPoller(<uuid>)`."""
    return [t.name for t in threading.enumerate() if t.name.startswith("LROPoller")]


async def test_lists_every_instance_across_pages_and_workspaces(
    arm: ArmStandIn, azure_fleet: AzureMLFleet
) -> None:
    for number in range(60):
        seed_instance(arm, RESEARCH, f"ci-{number:02d}", owner_object_id=ANNA)
    seed_instance(arm, VISION, "ci-vision", state="Stopped", owner_object_id=BEN)
    arm.seed_cluster(RESEARCH.subscription_id, RESEARCH.resource_group, RESEARCH.workspace, "cpu-cluster")

    instances = await azure_fleet.list_instances()

    assert len(instances) == 61
    assert {i.workspace for i in instances} == {"research", "vision"}
    assert "cpu-cluster" not in {i.name for i in instances}
    pages = arm.requests_matching("GET", r"ws-research/computes$")
    tokens = [r.query.get("$skip") for r in pages]
    assert tokens[0] is None and len(tokens) == 2
    assert tokens[1] is not None and not tokens[1].isdigit()  # Azure's tokens are opaque, not offsets
    vision = await azure_fleet.list_instances("vision")
    assert [(i.name, i.state, i.owner_object_id) for i in vision] == [
        ("ci-vision", InstanceState.STOPPED, BEN)
    ]


async def test_the_bearer_token_comes_from_the_managed_identity(
    arm: ArmStandIn, azure_fleet: AzureMLFleet, caplog: pytest.LogCaptureFixture
) -> None:
    seed_instance(arm, RESEARCH, "ci-anna", owner_object_id=ANNA)
    for name in ("azure.identity", "azure.core.pipeline.policies.http_logging_policy"):
        caplog.set_level(logging.DEBUG, logger=name)  # louder than the fleet's default, to see what leaks

    await azure_fleet.list_instances("research")
    await azure_fleet.get_instance("research", "ci-anna")

    assert arm.identity.token_requests == 1
    assert {t.resource for t in arm.identity.issued.values()} == {arm.url.rstrip("/")}
    assert arm.counters.unauthorized == 0
    assert [r.status for r in arm.requests] == [200, 200]
    assert "DefaultAzureCredential acquired a token from ManagedIdentityCredential" in caplog.text
    (token,) = arm.identity.issued
    assert token not in caplog.text and arm.identity.identity_header not in caplog.text


async def test_get_maps_the_sdk_entity_to_a_domain_instance(
    arm: ArmStandIn, azure_fleet: AzureMLFleet
) -> None:
    seed_instance(
        arm,
        RESEARCH,
        "ci-anna",
        size="Standard_NC6s_v3",
        owner_object_id=ANNA,
        last_started_at="2026-01-05T07:58:00.1234567Z",
        idle_shutdown_minutes=90,
        tags={"team": "vision"},
    )

    instance = await azure_fleet.get_instance("research", "ci-anna")

    assert instance.key.name == "ci-anna"
    assert instance.workspace == "research"
    assert instance.size == "Standard_NC6s_v3"
    assert instance.state is InstanceState.RUNNING
    assert (instance.owner_object_id, instance.owner_tenant_id) == (ANNA, TENANT)
    assert instance.last_started_at == datetime(2026, 1, 5, 7, 58, 0, 123456, tzinfo=UTC)
    assert instance.location == "westeurope"
    assert instance.idle_shutdown_minutes == 90
    assert dict(instance.tags) == {"team": "vision"}


async def test_last_started_is_unknown_after_a_stop(arm: ArmStandIn, azure_fleet: AzureMLFleet) -> None:
    seed_instance(arm, RESEARCH, "ci-anna", state="Stopped")

    instance = await azure_fleet.get_instance("research", "ci-anna")

    assert instance.state is InstanceState.STOPPED
    assert instance.last_started_at is None


async def test_unknown_instance_cluster_or_workspace_is_not_found(
    arm: ArmStandIn, azure_fleet: AzureMLFleet
) -> None:
    arm.seed_cluster(RESEARCH.subscription_id, RESEARCH.resource_group, RESEARCH.workspace, "cpu-cluster")

    with pytest.raises(NotFound, match="No compute instance ci-nobody in workspace research"):
        await azure_fleet.get_instance("research", "ci-nobody")
    with pytest.raises(NotFound, match="No compute instance cpu-cluster"):
        await azure_fleet.get_instance("research", "cpu-cluster")
    with pytest.raises(NotFound, match="No workspace marketing is configured"):
        await azure_fleet.stop("marketing", "ci-anna")


async def test_stop_returns_once_accepted_and_never_polls(arm: ArmStandIn, azure_fleet: AzureMLFleet) -> None:
    seed_instance(arm, RESEARCH, "ci-anna", owner_object_id=ANNA)

    result = await azure_fleet.stop("research", "ci-anna")

    assert result is ActionResult.ACCEPTED
    assert arm.instance("ci-anna").state == "Stopping"  # returned before the operation ended
    await settle(arm)
    stopped = arm.instance("ci-anna")
    assert stopped.state == "Stopped"
    assert stopped.last_operation is not None and stopped.last_operation["operationName"] == "Stop"
    assert [(r.method, r.status) for r in arm.requests_matching(path_regex="ci-anna")] == [("POST", 202)]
    assert arm.requests_matching(path_regex=OPERATION_STATUS) == []
    assert poller_threads() == []


async def test_the_public_sdk_call_would_poll_in_a_thread(arm: ArmStandIn, azure_env: object) -> None:
    """Why AzureMLFleet avoids ml_client.compute.begin_stop: it polls in a background thread."""
    from azure.ai.ml import MLClient
    from azure.identity import DefaultAzureCredential

    seed_instance(arm, RESEARCH, "ci-anna")
    client = MLClient(
        DefaultAzureCredential(),
        RESEARCH.subscription_id,
        RESEARCH.resource_group,
        RESEARCH.workspace,
        **cloud_kwargs(arm.url),
        connection_verify=str(arm.ca_path),
        polling_interval=0.05,
    )

    def stop_and_wait() -> list[str]:
        poller = client.compute.begin_stop("ci-anna")
        threads = poller_threads()
        poller.result(timeout=5)
        return threads

    assert len(await asyncio.to_thread(stop_and_wait)) == 1
    polls = [r.status for r in arm.requests_matching("GET", OPERATION_STATUS)]
    assert polls and set(polls) == {200}
    assert arm.instance("ci-anna").state == "Stopped"


@pytest.mark.parametrize("state", ["Stopped", "Stopping"])
async def test_stop_of_a_stopped_or_stopping_instance_is_already(
    arm: ArmStandIn, azure_fleet: AzureMLFleet, state: str
) -> None:
    seed_instance(arm, RESEARCH, "ci-anna", state=state)

    assert await azure_fleet.stop("research", "ci-anna") is ActionResult.ALREADY
    calls = [(r.method, r.status) for r in arm.requests_matching(path_regex="ci-anna")]
    assert calls == [("POST", 409), ("GET", 200)]


async def test_stop_while_starting_is_busy(arm: ArmStandIn, azure_fleet: AzureMLFleet) -> None:
    seed_instance(arm, RESEARCH, "ci-anna", state="Starting")

    with pytest.raises(Busy, match=r"ci-anna is busy with another operation.*try again in a few minutes"):
        await azure_fleet.stop("research", "ci-anna")


async def test_start_then_start_again(arm: ArmStandIn, azure_fleet: AzureMLFleet) -> None:
    seed_instance(arm, VISION, "ci-ben", state="Stopped", owner_object_id=BEN)

    assert await azure_fleet.start("vision", "ci-ben") is ActionResult.ACCEPTED
    assert arm.instance("ci-ben").state == "Starting"
    assert await azure_fleet.start("vision", "ci-ben") is ActionResult.ALREADY
    await settle(arm)
    assert arm.instance("ci-ben").state == "Running"
    assert await azure_fleet.start("vision", "ci-ben") is ActionResult.ALREADY
    assert arm.requests_matching(path_regex=OPERATION_STATUS) == []


async def test_create_on_behalf_of_a_user(arm: ArmStandIn, azure_fleet: AzureMLFleet) -> None:
    spec = CreateSpec(
        "ci-carla", "Standard_DS3_v2", ANNA, TENANT, idle_shutdown_minutes=60, tags={"by": "curfew"}
    )

    await azure_fleet.create("research", spec)

    (put,) = arm.requests_matching("PUT", r"/computes/ci-carla$")
    assert put.status == 201
    assert put.body["location"] == "westeurope"
    assert put.body["tags"] == {"by": "curfew"}
    inner = put.body["properties"]["properties"]
    assert put.body["properties"]["computeType"] == "ComputeInstance"
    assert inner["vmSize"] == "Standard_DS3_v2"
    assert inner["personalComputeInstanceSettings"]["assignedUser"] == {"objectId": ANNA, "tenantId": TENANT}
    assert inner["idleTimeBeforeShutdown"] == "PT60M"
    assert inner["enableSSO"] is False  # the SDK's default is True; on-behalf creation needs it off
    assert inner["applicationSharingPolicy"] == "Personal"  # the SDK hard-codes "Shared"
    created = await azure_fleet.get_instance("research", "ci-carla")
    assert (created.state, created.owner_object_id) == (InstanceState.CREATING, ANNA)
    # Azure names Curfew's identity as the creator; the owner is still the assigned user
    assert created.created_by is not None and created.created_by.object_id == arm.identity.principal_id
    assert created.owner_source is OwnerSource.ASSIGNED
    await settle(arm)
    assert (await azure_fleet.get_instance("research", "ci-carla")).state is InstanceState.RUNNING
    assert arm.requests_matching(path_regex=OPERATION_STATUS) == []


async def test_create_with_a_taken_name_is_an_invalid_request(
    arm: ArmStandIn, azure_fleet: AzureMLFleet
) -> None:
    seed_instance(arm, RESEARCH, "ci-anna")

    with pytest.raises(
        InvalidRequest, match=r"Azure refused to create ci-anna in workspace research: .*already"
    ):
        await azure_fleet.create("research", CreateSpec("ci-anna", "Standard_DS3_v2", ANNA, TENANT))


async def test_delete_then_the_instance_is_gone(arm: ArmStandIn, azure_fleet: AzureMLFleet) -> None:
    seed_instance(arm, RESEARCH, "ci-anna", state="Stopped")

    await azure_fleet.delete("research", "ci-anna")

    (call,) = arm.requests_matching("DELETE")
    assert (call.status, call.query["underlyingResourceAction"]) == (202, "Delete")
    assert arm.instance("ci-anna").state == "Deleting"
    await settle(arm)
    with pytest.raises(NotFound):
        await azure_fleet.get_instance("research", "ci-anna")
    with pytest.raises(NotFound):
        await azure_fleet.delete("research", "ci-anna")


async def test_active_jobs_only_with_compute_names(arm: ArmStandIn, azure_fleet: AzureMLFleet) -> None:
    seed_instance(arm, RESEARCH, "ci-anna")
    seed_job(arm, RESEARCH, "job-running", "ci-anna", "Running", display_name="train resnet")
    seed_job(arm, RESEARCH, "job-queued", "ci-anna", "Queued")
    seed_job(arm, RESEARCH, "job-done", "ci-anna", "Completed")
    seed_job(arm, RESEARCH, "job-failed", "ci-anna", "Failed")
    seed_job(arm, RESEARCH, "job-archived", "ci-anna", "Running", archived=True)
    seed_job(arm, VISION, "job-elsewhere", "ci-ben", "Running")

    jobs = await azure_fleet.list_active_jobs("research")

    assert sorted((j.name, j.compute, j.status) for j in jobs) == [
        ("job-queued", "ci-anna", "Queued"),
        ("job-running", "ci-anna", "Running"),
    ]
    assert {j.display_name for j in jobs} == {"train resnet", "job-queued"}
    (listing,) = arm.requests_matching("GET", r"/jobs$")
    assert listing.query["listViewType"] == "ActiveOnly"


async def test_forbidden_names_the_role_to_grant(arm: ArmStandIn, azure_fleet: AzureMLFleet) -> None:
    seed_instance(arm, RESEARCH, "ci-anna")
    arm.fail_next("POST", r"/stop$", 403)
    arm.fail_next("GET", r"/computes$", 403)

    with pytest.raises(
        Forbidden,
        match=r"may not perform Microsoft.MachineLearningServices/workspaces/computes/stop/action for workspace research.*Curfew Service role",
    ):
        await azure_fleet.stop("research", "ci-anna")
    with pytest.raises(Forbidden):
        await azure_fleet.list_instances("research")
    assert arm.instance("ci-anna").state == "Running"


async def test_a_throttled_stop_waits_retry_after_then_succeeds(
    arm: ArmStandIn, azure_fleet: AzureMLFleet
) -> None:
    seed_instance(arm, RESEARCH, "ci-anna")
    await azure_fleet.list_instances("research")  # the client is built; time only the stop
    arm.fail_next("POST", r"/ci-anna/stop$", 429, headers={"Retry-After": "1"})

    started = time.monotonic()
    assert await azure_fleet.stop("research", "ci-anna") is ActionResult.ACCEPTED

    assert time.monotonic() - started >= 1.0
    assert [r.status for r in arm.requests_matching("POST")] == [429, 202]


async def test_a_throttled_read_is_retried_by_the_sdk(arm: ArmStandIn, azure_fleet: AzureMLFleet) -> None:
    seed_instance(arm, RESEARCH, "ci-anna")
    arm.fail_next("GET", r"/computes$", 429, headers={"Retry-After-Ms": "50"})

    assert [i.name for i in await azure_fleet.list_instances("research")] == ["ci-anna"]
    assert [r.status for r in arm.requests_matching("GET")] == [429, 200]


async def test_persistent_server_errors_are_unavailable(arm: ArmStandIn, azure_fleet: AzureMLFleet) -> None:
    seed_instance(arm, RESEARCH, "ci-anna")
    arm.fail_next("POST", r"/stop$", 503, times=100)
    arm.fail_next("GET", r"/computes/ci-anna$", 500, times=100)

    with pytest.raises(Unavailable, match="Azure could not be reached for workspace research; try again"):
        await azure_fleet.stop("research", "ci-anna")
    with pytest.raises(Unavailable):
        await azure_fleet.get_instance("research", "ci-anna")
    assert len(arm.requests_matching("POST")) == 5  # write_attempts
    assert arm.instance("ci-anna").state == "Running"


async def test_a_burst_of_stops_within_the_budget_is_never_throttled(
    arm: ArmStandIn, azure_env: object
) -> None:
    # ARM's bucket is larger than Curfew's burst of 4, so requests bunched by a loaded machine's thread pool
    # still fit; unpaced, the 30 stops would overrun it at once.
    arm.limits = Limits(writes=(20, 40.0))
    names = [f"ci-{n:02d}" for n in range(30)]
    for name in names:
        seed_instance(arm, RESEARCH, name)
    fleet = make_fleet(arm, writes_per_second=30.0, write_burst=4)
    try:
        await fleet.list_instances("research")  # as a sweep does; the client and its token are ready
        results = await asyncio.gather(*(fleet.stop("research", name) for name in names))
    finally:
        await fleet.close()

    assert results == [ActionResult.ACCEPTED] * 30
    assert arm.counters.throttled == 0
    assert {i.state for i in arm.instances} <= {"Stopping", "Stopped"}


async def test_a_burst_beyond_arm_limits_is_paced_without_failures(
    arm: ArmStandIn, azure_env: object
) -> None:
    arm.limits = Limits(writes=(5, 15.0))
    names = [f"ci-{n:02d}" for n in range(25)]
    for name in names:
        seed_instance(arm, RESEARCH, name)
    fleet = make_fleet(arm, writes_per_second=200.0, write_burst=50)
    try:
        results = await asyncio.gather(*(fleet.stop("research", name) for name in names))
    finally:
        await fleet.close()

    assert results == [ActionResult.ACCEPTED] * 25
    assert arm.counters.throttled > 0  # ARM pushed back, the budget paused, nobody failed
    assert len(arm.requests_matching("POST", r"/stop$")) == 25 + arm.counters.throttled


async def test_no_token_from_the_identity_endpoint_is_unavailable(
    arm: ArmStandIn, azure_fleet: AzureMLFleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDENTITY_HEADER", "not-the-secret")

    with pytest.raises(Unavailable, match="could not get an Azure token for workspace research"):
        await azure_fleet.list_instances("research")
    assert arm.identity.refused >= 1
    assert arm.requests == []


async def test_sdk_calls_run_off_the_loop_with_bounded_concurrency(
    arm: ArmStandIn, azure_env: object
) -> None:
    for n in range(8):
        seed_instance(arm, RESEARCH, f"ci-{n}")
    fleet = make_fleet(arm, max_concurrency=3)
    await fleet.list_instances("research")
    arm.latency_s = 0.1
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticking = asyncio.create_task(ticker())
    try:
        found = await asyncio.gather(*(fleet.get_instance("research", f"ci-{n}") for n in range(8)))
    finally:
        ticking.cancel()
        await fleet.close()

    assert len(found) == 8
    assert arm.max_in_flight == 3
    assert ticks >= 15  # about 0.3 s of SDK calls; the loop kept ticking


async def test_persistent_throttling_gives_up_as_throttled(
    arm: ArmStandIn, azure_fleet: AzureMLFleet
) -> None:
    seed_instance(arm, RESEARCH, "ci-anna")
    arm.fail_next("POST", r"/stop$", 429, headers={"Retry-After-Ms": "20"}, times=100)

    with pytest.raises(Throttled, match="Azure is throttling Curfew's requests") as caught:
        await azure_fleet.stop("research", "ci-anna")
    assert caught.value.retry_after == pytest.approx(0.02)
    assert len(arm.requests_matching("POST")) == 5


async def test_create_asks_the_workspace_location_once(arm: ArmStandIn, azure_fleet: AzureMLFleet) -> None:
    for name in ("ci-one", "ci-two"):
        await azure_fleet.create("vision", CreateSpec(name, "Standard_DS3_v2", BEN, TENANT))

    assert len(arm.requests_matching("GET", r"/workspaces/ws-vision$")) == 1
    assert [r.status for r in arm.requests_matching("PUT")] == [201, 201]


def test_the_fleet_quiets_azure_http_logging(arm: ArmStandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    http_log = logging.getLogger("azure.core.pipeline.policies.http_logging_policy")
    monkeypatch.setattr(http_log, "level", logging.NOTSET)

    make_fleet(arm)

    assert http_log.level == logging.WARNING


def test_cloud_names_follow_the_resource_manager_url() -> None:
    assert cloud_kwargs("https://management.azure.com") == {"cloud": "AzureCloud"}
    one, two = cloud_kwargs("https://127.0.0.1:8443/"), cloud_kwargs("https://127.0.0.1:9443/")
    assert one["cloud"] != two["cloud"]
    assert one["cloud_metadata"]["resource_manager"] == "https://127.0.0.1:8443/"
    assert len(one["cloud_metadata"]) == 6


def test_the_session_reads_proxies_and_ca_bundle_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import requests

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "localhost")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ca/corp.pem")
    session, connection = requests.Session(), {}

    environment_read_once(session, connection, "https://management.azure.com/")

    assert session.trust_env is False  # no scan of the environment on each call
    assert session.proxies["https"] == "http://proxy.example:3128"
    assert connection == {"connection_verify": "/etc/ca/corp.pem"}


def test_a_bypassed_endpoint_gets_no_proxy_and_a_given_ca_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    import requests

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ca/corp.pem")
    session, connection = requests.Session(), {"connection_verify": "/tmp/stand-in.pem"}

    environment_read_once(session, connection, "https://127.0.0.1:8443/")

    assert session.trust_env is False
    assert "https" not in session.proxies
    assert connection == {"connection_verify": "/tmp/stand-in.pem"}


class _Response:
    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.status_code = status
        self.headers = headers or {}
        self.reason = "reason"
        self.request = None

    def text(self) -> str:
        return '{"error": {"code": "UserError", "message": "The size is not available in this region."}}'


@pytest.mark.parametrize(
    ("error", "expected", "message"),
    [
        (HttpResponseError(response=_Response(400)), InvalidRequest, "size is not available"),
        (HttpResponseError(response=_Response(401)), Forbidden, "lacks permission"),
        (ResourceExistsError(response=_Response(409)), Busy, "busy"),
        (HttpResponseError(response=_Response(429, {"Retry-After": "7"})), Throttled, "in 7 seconds"),
        (HttpResponseError(response=_Response(502)), Unavailable, "could not be reached"),
        (ServiceRequestError("connection refused"), Unavailable, "could not be reached"),
    ],
)
def test_sdk_errors_become_fleet_errors(error: Exception, expected: type, message: str) -> None:
    translated = _translate(error, RESEARCH, "ci-anna")
    assert isinstance(translated, expected)
    assert message in str(translated)
    if isinstance(translated, Throttled):
        assert translated.retry_after == 7.0
