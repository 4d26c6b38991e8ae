"""pytest fixtures for the ARM stand-in and an AzureMLFleet wired to it (a plugin module).

Enable with `pytest_plugins = ["tests.arm_fixtures"]` in the root conftest.py.

- `arm`: a started ArmStandIn (TLS with a test CA at `arm.ca_path`, operations take 0.2 s),
  function-scoped. Change `arm.limits` before the first request to shrink ARM's buckets.
- `azure_env`: the environment of an App Service with a managed identity pointing at the
  stand-in's token endpoint; every other credential source of DefaultAzureCredential is removed, and
  a dead proxy catches any request that would leave loopback.
- `azure_fleet`: AzureMLFleet over two workspaces (`RESEARCH`, `VISION`) with the default
  credential (DefaultAzureCredential -> managed identity -> the stand-in), fast SDK retries.
- `make_fleet(arm, **overrides)`: another fleet on the same stand-in (own budget, say); close it.
- `seed_instance(arm, workspace, name, **kw)` / `seed_job(arm, workspace, name, compute, status)`:
  seed with a `compute.port.Workspace` instead of its three ARM names.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from compute.azureml import AzureMLFleet
from compute.port import Workspace
from config.settings import Settings
from tests.arm_standin import ArmStandIn
from tests.arm_state import ComputeRecord, JobRecord
from tests.connector_standin import DEFAULT_TENANT as TEAMS_TENANT

SUBSCRIPTION = "00000000-0000-0000-0000-0000000000a1"
OTHER_SUBSCRIPTION = "00000000-0000-0000-0000-0000000000b2"
TENANT = "00000000-0000-0000-0000-0000000000c3"
RESEARCH = Workspace("research", SUBSCRIPTION, "rg-ml", "ws-research", "Europe/Berlin")
VISION = Workspace("vision", OTHER_SUBSCRIPTION, "rg-vision", "ws-vision", "UTC")

_CREDENTIAL_ENV = (
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_CLIENT_CERTIFICATE_PASSWORD",
    "AZURE_CLIENT_SEND_CERTIFICATE_CHAIN",
    "AZURE_USERNAME",
    "AZURE_PASSWORD",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_AUTHORITY_HOST",
    "AZURE_TOKEN_CREDENTIALS",
    "AZURE_POD_IDENTITY_AUTHORITY_HOST",
    "AZURE_REGIONAL_AUTHORITY_NAME",
    "IDENTITY_SERVER_THUMBPRINT",
    "IMDS_ENDPOINT",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "ARM_CLOUD_METADATA_URL",
    "AZUREML_CURRENT_CLOUD",
)
_DEAD_PROXY = "http://127.0.0.1:9"


@pytest.fixture
async def arm(tmp_path: Path) -> AsyncIterator[ArmStandIn]:
    async with ArmStandIn(tmp_path / "arm", op_seconds=0.2) as stand_in:
        yield stand_in
    assert not stand_in.server_errors, f"the ARM stand-in failed: {stand_in.server_errors}"
    assert not stand_in.spec_violations, (
        f"the ARM stand-in answered off the REST specification: {stand_in.spec_violations[:5]}"
    )


@pytest.fixture
def azure_env(arm: ArmStandIn, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    for name in _CREDENTIAL_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in arm.env.items():
        monkeypatch.setenv(name, value)
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(name, _DEAD_PROXY)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")
    yield arm.env


def make_fleet(arm: ArmStandIn, **overrides: Any) -> AzureMLFleet:
    """A fleet on the stand-in; SDK and write retries are fast so failure tests stay short."""
    client_kwargs = {
        "connection_verify": str(arm.ca_path),
        "retry_backoff_factor": 0.01,
        "retry_backoff_max": 0.05,
    }
    options: dict[str, Any] = {
        "resource_manager_url": arm.url,
        "client_kwargs": client_kwargs,
        "writes_per_second": 100.0,
        "write_burst": 100,
        "retry_backoff_s": 0.01,
        **overrides,
    }
    workspaces = options.pop("workspaces", [RESEARCH, VISION])
    for ws in workspaces:
        arm.add_workspace(ws.subscription_id, ws.resource_group, ws.workspace)
    return AzureMLFleet(workspaces, **options)


@pytest.fixture
async def azure_fleet(arm: ArmStandIn, azure_env: dict[str, str]) -> AsyncIterator[AzureMLFleet]:
    fleet = make_fleet(arm)
    yield fleet
    await fleet.close()


def seed_instance(arm: ArmStandIn, ws: Workspace, name: str, **kwargs: Any) -> ComputeRecord:
    kwargs.setdefault("owner_tenant_id", TENANT)
    return arm.seed_instance(ws.subscription_id, ws.resource_group, ws.workspace, name, **kwargs)


def seed_job(
    arm: ArmStandIn, ws: Workspace, name: str, compute: str, status: str = "Running", **kwargs: Any
) -> JobRecord:
    return arm.seed_job(ws.subscription_id, ws.resource_group, ws.workspace, name, compute, status, **kwargs)


def workspace_settings(*workspaces: Workspace, **extra: Any) -> Settings:
    """Curfew's settings for these stand-in workspaces (each in its own zone), plus `extra` keys; the
    Teams tenant is the protocol harness's unless `extra` says otherwise (one is required)."""
    entries = [
        {
            "alias": ws.alias,
            "subscription_id": ws.subscription_id,
            "resource_group": ws.resource_group,
            "workspace": ws.workspace,
            "timezone": ws.timezone,
        }
        for ws in workspaces
    ]
    teams = {"tenant_id": TEAMS_TENANT, **extra.pop("teams", {})}
    return Settings.model_validate(
        {"timezone": "Europe/Berlin", **extra, "teams": teams, "workspaces": entries}
    )
