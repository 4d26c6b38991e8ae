"""ARM JSON shapes for the stand-in, modelled on what Azure ML's control plane returns.

Compute instances carry what azure-ai-ml parses (properties.properties.state, vmSize,
personalComputeInstanceSettings.assignedUser, idleTimeBeforeShutdown, lastOperation, ...) plus the
noise a real answer has (applications, connectivity endpoints, OS image metadata, systemData).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.arm_state import PROVIDER, ComputeRecord, JobRecord, Operation, WorkspaceRecord

DEFAULT_OWNER_TENANT = "00000000-0000-0000-0000-0000000000aa"


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": [], "additionalInfo": []}}


def workspace_json(ws: WorkspaceRecord) -> dict[str, Any]:
    return {
        "id": ws.arm_id,
        "name": ws.name,
        "type": f"{PROVIDER}/workspaces",
        "location": ws.location,
        "kind": "Default",
        "tags": {},
        "identity": {"type": "SystemAssigned", "principalId": "11111111-2222-3333-4444-555555555555"},
        "sku": {"name": "Basic", "tier": "Basic"},
        "properties": {
            "friendlyName": ws.name,
            "provisioningState": "Succeeded",
            "workspaceId": "6c7d1a44-0000-4000-8000-" + format(abs(hash(ws.arm_id)) % 16**12, "012x"),
            "discoveryUrl": f"https://{ws.location}.api.azureml.ms/discovery",
            "mlFlowTrackingUri": f"azureml://{ws.location}.api.azureml.ms/mlflow/v1.0{ws.arm_id}",
            "publicNetworkAccess": "Enabled",
            "v1LegacyMode": False,
        },
    }


def compute_json(record: ComputeRecord) -> dict[str, Any]:
    if record.kind != "ComputeInstance":
        return _cluster_json(record)
    ws = record.workspace
    inner: dict[str, Any] = {
        "vmSize": record.size,
        "state": record.state,
        "applicationSharingPolicy": record.sharing_policy,
        "computeInstanceAuthorizationType": "personal",
        "sshSettings": {"sshPublicAccess": "Disabled", "adminUserName": "azureuser", "sshPort": 4000},
        "connectivityEndpoints": {"publicIpAddress": "20.61.0.10", "privateIpAddress": "10.0.0.4"},
        "applications": [
            {"displayName": "Jupyter", "endpointUri": _app_url(record, "tree/")},
            {"displayName": "JupyterLab", "endpointUri": _app_url(record, "lab")},
        ],
        "errors": [],
        "osImageMetadata": {
            "isLatestOsImageVersion": True,
            "currentImageVersion": "25.09.15",
            "latestImageVersion": "25.09.15",
        },
        "schedules": {"computeStartStop": [dict(item) for item in record.schedules]},
        "enableNodePublicIp": True,
        "enableSSO": True,
        "enableRootAccess": True,
        "releaseQuotaOnStop": False,
    }
    if record.idle_shutdown_minutes:
        inner["idleTimeBeforeShutdown"] = f"PT{record.idle_shutdown_minutes}M"
    if record.owner_object_id:
        inner["personalComputeInstanceSettings"] = {
            "assignedUser": {
                "objectId": record.owner_object_id,
                "tenantId": record.owner_tenant_id or DEFAULT_OWNER_TENANT,
            }
        }
    if record.created_by is not None:
        inner["createdBy"] = dict(record.created_by)
    if record.last_operation:
        inner["lastOperation"] = dict(record.last_operation)
    body = _resource(record, ws, {"computeType": "ComputeInstance", "properties": inner})
    if record.shape is not None:
        record.shape(body)
    return body


def _cluster_json(record: ComputeRecord) -> dict[str, Any]:
    inner = {
        "vmSize": record.size,
        "vmPriority": "Dedicated",
        "scaleSettings": {"minNodeCount": 0, "maxNodeCount": 4, "nodeIdleTimeBeforeScaleDown": "PT120S"},
        "allocationState": "Steady",
        "currentNodeCount": 0,
        "targetNodeCount": 0,
        "osType": "Linux",
    }
    return _resource(record, record.workspace, {"computeType": "AmlCompute", "properties": inner})


def _resource(record: ComputeRecord, ws: WorkspaceRecord, properties: dict[str, Any]) -> dict[str, Any]:
    created = iso(record.created_at)
    return {
        "id": record.arm_id,
        "name": record.name,
        "type": f"{PROVIDER}/workspaces/computes",
        "location": ws.location,
        "tags": dict(record.tags),
        "systemData": {
            "createdAt": created,
            "createdBy": "curfew-standin@example.com",
            "createdByType": "User",
            "lastModifiedAt": created,
        },
        "properties": {
            **properties,
            "computeLocation": ws.location,
            "provisioningState": "Creating" if record.state == "Creating" else "Succeeded",
            "createdOn": created,
            "modifiedOn": created,
            "isAttachedCompute": False,
            "disableLocalAuth": True,
            "provisioningErrors": None,
            "description": None,
            "resourceId": None,
        },
    }


def _app_url(record: ComputeRecord, tail: str) -> str:
    return f"https://{record.name}.{record.workspace.location}.instances.azureml.ms/{tail}"


def job_json(job: JobRecord) -> dict[str, Any]:
    ws = job.workspace
    compute_id = f"{ws.arm_id}/computes/{job.compute}"
    studio = f"https://ml.azure.com/runs/{job.name}?wsid={ws.arm_id}"
    answer: dict[str, Any] = {
        "id": f"{ws.arm_id}/jobs/{job.name}",
        "name": job.name,
        "type": f"{PROVIDER}/workspaces/jobs",
        "systemData": {
            "createdAt": iso(job.created_at),
            "createdBy": "Anna Example",
            "createdByType": "User",
        },
        "properties": {
            "jobType": "Command",
            "displayName": job.display_name or job.name,
            "experimentName": "curfew-standin",
            "status": job.status,
            "computeId": compute_id,
            "command": "python train.py",
            "environmentId": "azureml://registries/azureml/environments/sklearn-1.5/labels/latest",
            "codeId": f"{ws.arm_id}/codes/0f3c2a1e-0000-4000-8000-000000000001/versions/1",
            "isArchived": job.archived,
            "description": None,
            "tags": {},
            "properties": {"_azureml.ComputeTargetType": "computeinstance"},
            "inputs": {},
            "outputs": {
                "default": {
                    "jobOutputType": "uri_folder",
                    "mode": "ReadWriteMount",
                    "uri": f"azureml://datastores/workspaceartifactstore/ExperimentRun/dcid.{job.name}",
                }
            },
            "environmentVariables": {},
            "resources": {"instanceCount": 1, "shmSize": "2g", "properties": {}},
            "services": {
                "Tracking": {
                    "jobServiceType": "Tracking",
                    "endpoint": f"azureml://{ws.location}.api.azureml.ms",
                },
                "Studio": {"jobServiceType": "Studio", "endpoint": studio},
            },
        },
    }
    if job.shape is not None:
        job.shape(answer)
    return answer


def operation_json(op: Operation, status: str, now: datetime) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": operation_path(op).split("?")[0],
        "name": op.id,
        "status": status,
        "startTime": iso(op.started_at),
    }
    if status != "InProgress":
        body["endTime"] = iso(now)
    if status == "Failed" and op.error:
        body["error"] = dict(op.error)
    return body


def operation_path(op: Operation) -> str:
    ws = op.workspace
    return (
        f"subscriptions/{ws.subscription}/providers/{PROVIDER}/locations/{ws.location}"
        f"/computeOperationsStatus/{op.id}"
    )


# name, family, vCPUs, GPUs, memory GB, {(os, tier): USD per hour in westeurope}; None: no price published
VM_SIZES: list[tuple[str, str, int, int, float, dict[tuple[str, str], float] | None]] = [
    (
        "Standard_DS3_v2",
        "standardDSv2Family",
        4,
        0,
        14.0,
        {
            ("Linux", "Standard"): 0.293,
            ("Linux", "LowPriority"): 0.0586,
            ("Windows", "Standard"): 0.479,
            ("Linux", "Spot"): 0.0527,
        },
    ),
    (
        "Standard_DS11_v2",
        "standardDSv2Family",
        2,
        0,
        14.0,
        {("Linux", "Standard"): 0.185, ("Windows", "Standard"): 0.278},
    ),
    (
        "Standard_E4ds_v4",
        "standardEDSv4Family",
        4,
        0,
        32.0,
        {("Windows", "Standard"): 0.517, ("Linux", "Standard"): 0.333, ("Linux", "LowPriority"): 0.0666},
    ),
    (
        "Standard_NC6s_v3",
        "standardNCSv3Family",
        6,
        1,
        112.0,
        {("Linux", "Standard"): 3.06, ("Linux", "LowPriority"): 0.612, ("Windows", "Standard"): 3.344},
    ),
    (
        "Standard_NC24ads_A100_v4",
        "StandardNCADSA100v4Family",
        24,
        1,
        220.0,
        {("Linux", "Standard"): 3.673, ("Linux", "Spot"): 1.469},
    ),
    ("Standard_ND96amsr_A100_v4", "standardNDAMSv4_A100Family", 96, 8, 1900.0, None),
]
REGION_FACTORS = {"westeurope": 1.0, "eastus": 0.9, "swedencentral": 0.95}


def vm_sizes_json(location: str) -> dict[str, Any]:
    """GET .../locations/{location}/vmSizes: every size, with estimated prices where Azure has them."""
    factor = REGION_FACTORS.get(location.lower(), 1.1)
    sizes = []
    for name, family, cpus, gpus, memory, prices in VM_SIZES:
        size: dict[str, Any] = {
            "name": name,
            "family": family,
            "vCPUs": cpus,
            "gpus": gpus,
            "osVhdSizeMB": 1047552,
            "maxResourceVolumeMB": cpus * 7168,
            "memoryGB": memory,
            "lowPriorityCapable": prices is not None and ("Linux", "LowPriority") in prices,
            "premiumIO": True,
            "supportedComputeTypes": ["ComputeInstance", "AmlCompute"],
        }
        if prices is not None:
            size["estimatedVMPrices"] = {
                "billingCurrency": "USD",
                "unitOfMeasure": "OneHour",
                "values": [
                    {"retailPrice": round(price * factor, 4), "osType": os_type, "vmTier": tier}
                    for (os_type, tier), price in prices.items()
                ],
            }
        sizes.append(size)
    return {"value": sizes}
