"""Azure ML SDK entities to Curfew's domain values (used by compute/azureml.py; no SDK import here)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from domain.model import Instance, InstanceState


def is_instance(compute: Any) -> bool:
    return str(getattr(compute, "type", "")).lower() == "computeinstance"


def sdk_text(value: Any) -> str:
    """An SDK enum member or a plain string, as Azure spells it."""
    return str(getattr(value, "value", value) or "")


def to_instance(alias: str, ci: Any) -> Instance:
    owner = getattr(ci, "create_on_behalf_of", None)
    return Instance(
        workspace=alias,
        name=ci.name,
        size=ci.size or "",
        state=InstanceState.parse(sdk_text(ci.state) or None),
        owner_object_id=getattr(owner, "user_object_id", None),
        owner_tenant_id=getattr(owner, "user_tenant_id", None),
        last_started_at=last_started(ci.last_operation),
        location=ci.location,
        idle_shutdown_minutes=ci.idle_time_before_shutdown_minutes,
        tags=dict(ci.tags or {}),
    )


def last_started(operation: Mapping[str, Any] | None) -> datetime | None:
    if not operation or operation.get("operationStatus") != "Succeeded":
        return None
    if operation.get("operationName") not in ("Start", "Create"):
        return None
    try:
        when = datetime.fromisoformat(str(operation.get("operationTime")).replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def compute_name(compute: str | None) -> str | None:
    """`azureml:ci-anna`, an ARM id `.../computes/ci-anna` or `ci-anna` -> `ci-anna`."""
    if not compute:
        return None
    return compute.rstrip("/").rsplit("/", 1)[-1].removeprefix("azureml:")


# Translating SDK errors ------------------------------------------------------------------------
