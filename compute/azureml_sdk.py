"""Every azure-ai-ml call Curfew makes, run in a worker thread: the only code that knows SDK internals.

start, stop, delete and create go one level below the public `begin_*` methods, with `polling=False`:
the public ones always start a poller thread per call (see compute/azureml.py). These private names
sit here together, so an SDK change shows up in tests/test_azureml_fleet.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from compute.azureml_mapping import compute_name, read_compute, sdk_text
from compute.port import CreateSpec, Workspace
from compute.prices import price_list
from compute.rbac import PERMISSIONS_API_VERSION, Permission
from domain.model import Instance, Job
from domain.money import PriceList

if TYPE_CHECKING:
    from azure.ai.ml import MLClient

FINISHED_JOB_STATUSES = frozenset({"completed", "failed", "canceled"})
"""Of the 14 job statuses only these are over; NotResponding, Paused, Unknown and any newer one
still hold the compute (a job that stopped answering may be training)."""


class SdkCalls:
    """Every SDK call Curfew makes, run in a worker thread; the only place that knows SDK internals."""

    @staticmethod
    def list_instances(client: MLClient, ws: Workspace) -> list[Instance]:
        """Every compute instance, read from the REST objects (compute/azureml_mapping.py says why)."""
        pages = client.compute._operation.list(ws.resource_group, ws.workspace, cls=lambda objs: objs)
        found = (read_compute(ws.alias, rest.as_dict()) for rest in pages)
        return [instance for instance in found if instance is not None]

    @staticmethod
    def get_instance(client: MLClient, ws: Workspace, name: str) -> Instance | None:
        rest = client.compute._operation.get(ws.resource_group, ws.workspace, name)
        return read_compute(ws.alias, rest.as_dict())

    @staticmethod
    def act(client: MLClient, ws: Workspace, name: str, action: str) -> None:
        begin = getattr(client.compute._operation, f"begin_{action}")
        begin(ws.resource_group, ws.workspace, name, polling=False, retry_total=0)

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
