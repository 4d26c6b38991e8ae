"""Every azure-ai-ml call Curfew makes, run in a worker thread: the only code that knows SDK internals.

delete and create go one level below the public `begin_*` methods, with `polling=False`: the public
ones always start a poller thread per call (see compute/azureml.py); stop and start send the SDK's
own request for them on its pipeline, without even the poller object. These private names
sit here together, so an SDK change shows up in tests/test_azureml_fleet.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlsplit, urlunsplit

from compute.azureml_mapping import compute_name, read_compute, sdk_text
from compute.port import CreateSpec, Workspace
from compute.prices import price_list
from compute.rbac import PERMISSIONS_API_VERSION, Permission
from domain.model import Instance, Job
from domain.money import PriceList

IDLE_API_VERSION = "2025-12-01"
"""updateIdleShutdownSetting is stable since 2021-07-01; Curfew speaks the 2025-12-01 specification."""


def iso_minutes(minutes: int | None) -> str | None:
    """60 -> "PT60M" (what the specification's examples send); None (off) -> null."""
    return None if minutes is None else f"PT{minutes}M"


if TYPE_CHECKING:
    from azure.ai.ml import MLClient

Page = tuple[str, dict[str, str]]
"""Where the next page of a listing is: ARM's nextLink and the query to ask it with."""

FINISHED_JOB_STATUSES = frozenset({"completed", "failed", "canceled"})
"""Of the 14 job statuses only these are over; NotResponding, Paused, Unknown and any newer one
still hold the compute (a job that stopped answering may be training)."""


def _absolute(operations: Any, url: str) -> str:
    """The SDK's relative request URL on its client's endpoint (as its own operations do)."""
    formatted: str = operations._client.format_url(url, endpoint=str(operations._config.base_url))
    return formatted


def _next_page(link: str | None, api_version: str) -> tuple[str | None, dict[str, str]]:
    """ARM's nextLink, asked with the client's api-version (as the SDK's pager does)."""
    if not link:
        return None, {}
    parsed = urlsplit(link)
    params = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
    params["api-version"] = api_version
    return urlunsplit((parsed.scheme, parsed.netloc, parsed.path, "", "")), params


def _sent(operations: Any, request: Any, expected: int, **options: Any) -> Any:
    """`request` on the SDK's ARM pipeline (its token, retries, TLS); the response when ARM answered
    `expected`, else Azure's error as the SDK's own operations raise it (401, 404, 409, others)."""
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ResourceExistsError,
        ResourceNotFoundError,
        map_error,
    )
    from azure.mgmt.core.exceptions import ARMErrorFormat

    response = operations._client._pipeline.run(request, **options).http_response
    if response.status_code != expected:
        errors = {401: ClientAuthenticationError, 404: ResourceNotFoundError, 409: ResourceExistsError}
        map_error(status_code=response.status_code, response=response, error_map=errors)
        raise HttpResponseError(response=response, error_format=ARMErrorFormat)
    return response


def _get_json(operations: Any, url: str, params: dict[str, str]) -> dict[str, Any]:
    """GET on the SDK's ARM pipeline; Azure's errors as the SDK raises them (404, 401, 409, others)."""
    from azure.core.exceptions import HttpResponseError
    from azure.core.rest import HttpRequest

    request = HttpRequest("GET", url, params=params, headers={"Accept": "application/json"})
    response = _sent(operations, request, 200)
    body = response.json()
    if not isinstance(body, dict):
        raise HttpResponseError(response=response, message="ARM answered with something other than an object")
    return body


class SdkCalls:
    """Every SDK call Curfew makes, run in a worker thread; the only place that knows SDK internals."""

    @staticmethod
    def list_instances(client: MLClient, ws: Workspace) -> list[Instance]:
        """Every compute instance, read from ARM's JSON as it arrives (compute/azureml_mapping.py).

        The request is the SDK's own (its request builder, api-version, pipeline: token, retries,
        TLS); only the per-compute SDK model is skipped. Building those models was 99% of a chat
        turn on a 1,000-instance fleet and most of the sweep's reading."""
        found, page = SdkCalls.list_page(client, ws, None)
        while page is not None:
            more, page = SdkCalls.list_page(client, ws, page)
            found += more
        return found

    @staticmethod
    def list_page(client: MLClient, ws: Workspace, page: Page | None) -> tuple[list[Instance], Page | None]:
        """One page of the listing: the first (`page` None) or the one a previous answer linked to;
        its instances and the link to the next page (None after the last)."""
        operations = client.compute._operation
        if page is None:
            from azure.ai.ml._restclient.arm_ml_service.operations._operations import (
                build_compute_list_request,
            )

            request = build_compute_list_request(
                resource_group_name=ws.resource_group,
                workspace_name=ws.workspace,
                subscription_id=operations._config.subscription_id,
                api_version=operations._config.api_version,
            )
            page = (_absolute(operations, request.url), {})  # the builder put the api-version in the URL
        body = _get_json(operations, *page)
        found = [i for raw in body.get("value") or [] if (i := read_compute(ws.alias, raw)) is not None]
        url, params = _next_page(body.get("nextLink"), operations._config.api_version)
        return found, None if url is None else (url, params)

    @staticmethod
    def get_instance(client: MLClient, ws: Workspace, name: str) -> Instance | None:
        from azure.ai.ml._restclient.arm_ml_service.operations._operations import build_compute_get_request

        operations = client.compute._operation
        request = build_compute_get_request(
            resource_group_name=ws.resource_group,
            workspace_name=ws.workspace,
            compute_name=name,
            subscription_id=operations._config.subscription_id,
            api_version=operations._config.api_version,
        )
        return read_compute(ws.alias, _get_json(operations, _absolute(operations, request.url), {}))

    @staticmethod
    def act(client: MLClient, ws: Workspace, name: str, action: str) -> None:
        """`POST .../computes/{name}/stop|start` as `begin_stop|start` sends it (the SDK's request
        builder and pipeline), without their poller and response deserializing: Curfew only needs
        ARM's 202. A third of the SDK's own CPU per stop in the sweep's profile went to those."""
        from azure.ai.ml._restclient.arm_ml_service.operations import _operations

        operations = client.compute._operation
        request = getattr(_operations, f"build_compute_{action}_request")(
            resource_group_name=ws.resource_group,
            workspace_name=ws.workspace,
            compute_name=name,
            subscription_id=operations._config.subscription_id,
            api_version=operations._config.api_version,
        )
        request.url = _absolute(operations, request.url)
        _sent(operations, request, 202, retry_total=0)

    @staticmethod
    def delete(client: MLClient, ws: Workspace, name: str) -> None:
        client.compute._operation.begin_delete(
            resource_group_name=ws.resource_group,
            workspace_name=ws.workspace,
            compute_name=name,
            underlying_resource_action="Delete",
            polling=False,
            retry_total=0,
        )

    @staticmethod
    def set_idle_shutdown(client: MLClient, ws: Workspace, name: str, minutes: int | None) -> None:
        """`POST .../computes/{name}/updateIdleShutdownSetting`: neither azure-ai-ml 1.35.2 nor
        azure-mgmt-machinelearningservices 1.0.1 has an operation for it, so the request goes out on
        the SDK's own ARM pipeline (its credential, retries and transport)."""
        from azure.core.rest import HttpRequest

        operations = client.compute._operation
        path = (
            f"subscriptions/{quote(ws.subscription_id)}/resourceGroups/{quote(ws.resource_group)}"
            f"/providers/Microsoft.MachineLearningServices/workspaces/{quote(ws.workspace)}"
            f"/computes/{quote(name)}/updateIdleShutdownSetting"
        )
        base = str(operations._config.base_url).rstrip("/")
        request = HttpRequest(
            "POST",
            f"{base}/{path}",
            params={"api-version": IDLE_API_VERSION},
            json={"idleTimeBeforeShutdown": iso_minutes(minutes)},
        )
        _sent(operations, request, 200, retry_total=0)

    @staticmethod
    def workspace_location(client: MLClient) -> str:
        return client.compute._get_workspace_location()

    @staticmethod
    def prices(client: MLClient, region: str, now: datetime) -> PriceList:
        return price_list(region, client.compute.list_sizes(location=region), now)

    @staticmethod
    def permissions(client: MLClient, ws: Workspace, resource_manager_url: str) -> list[Permission]:
        """ARM's permission listing for the caller at the workspace (Permissions_ListForResource),
        sent through the SDK's own ARM pipeline (its token, retries and TLS settings)."""
        from azure.core.exceptions import HttpResponseError
        from azure.core.rest import HttpRequest
        from azure.mgmt.core.exceptions import ARMErrorFormat

        pipeline = client.compute._operation._client
        url: str | None = (
            f"{resource_manager_url.rstrip('/')}/subscriptions/{ws.subscription_id}/resourceGroups/"
            f"{ws.resource_group}/providers/Microsoft.MachineLearningServices/workspaces/{ws.workspace}"
            "/providers/Microsoft.Authorization/permissions"
        )
        params = {"api-version": PERMISSIONS_API_VERSION}
        found: list[Permission] = []
        while url:
            response = pipeline.send_request(HttpRequest("GET", url, params=params))
            if response.status_code != 200:
                raise HttpResponseError(response=response, error_format=ARMErrorFormat)
            body = response.json()
            found += [Permission.from_json(entry) for entry in body.get("value") or []]
            url, params = body.get("nextLink"), {}
        return found

    @staticmethod
    def create(client: MLClient, ws: Workspace, spec: CreateSpec, location: str) -> None:
        from azure.ai.ml.entities import AssignedUserConfiguration, ComputeInstance

        instance = ComputeInstance(
            name=spec.name,
            size=spec.size,
            create_on_behalf_of=AssignedUserConfiguration(
                user_tenant_id=spec.owner_tenant_id, user_object_id=spec.owner_object_id
            ),
            idle_time_before_shutdown_minutes=spec.idle_shutdown_minutes,
            enable_sso=False,  # Microsoft: SSO must be off for an instance created on someone's behalf
            tags=dict(spec.tags) or None,
        )
        instance.location = location
        parameters = instance._to_rest_object()
        # The SDK hard-codes "Shared"; an instance made for one person is that person's alone.
        parameters.properties.properties["applicationSharingPolicy"] = "Personal"  # type: ignore[union-attr]
        client.compute._operation.begin_create_or_update(
            ws.resource_group,
            ws.workspace,
            compute_name=spec.name,
            parameters=parameters,
            polling=False,
            retry_total=0,
        )

    @staticmethod
    def active_jobs(client: MLClient, alias: str) -> list[Job]:
        jobs = []
        for job in client.jobs.list():
            status, compute = sdk_text(job.status) or "Unknown", compute_name(job.compute)
            if status.casefold() not in FINISHED_JOB_STATUSES and compute:
                jobs.append(Job(alias, job.name, compute, status, job.display_name))
        return jobs
