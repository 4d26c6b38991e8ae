"""Azure ML SDK entities to Curfew's domain values (used by compute/azureml.py; no SDK import here)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from compute import azure_shapes as shapes
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
        last_operation=shapes.last_operation(ci.last_operation),
        schedules=shapes.schedules(_rest_schedules(ci)),
    )


def _rest_schedules(ci: Any) -> Any:
    """The entity's schedules in Azure's JSON shape (its REST model is a mapping of that shape)."""
    entity = getattr(ci, "schedules", None)
    if entity is None or not getattr(entity, "compute_start_stop", None):
        return None
    try:
        return dict(entity._to_rest_object()).get("computeStartStop")
    except Exception:  # an SDK change: the instance is still read, without its schedules
        return None


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
