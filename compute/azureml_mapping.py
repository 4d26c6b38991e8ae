"""Azure ML's REST answers to Curfew's domain values (used by compute/azureml_sdk.py; no SDK import here).

Curfew reads each compute as the JSON the REST model holds (`ComputeResource.as_dict()`, wire
names), not through the SDK's `ComputeInstance` entity: the entity drops `createdBy` (the owner of
every instance a user created for themselves, DECISIONS rule 3), raises AttributeError on
`assignedUser: null`, and reads `idleTimeBeforeShutdown` only as `PT<n>M`. The shapes follow the
REST specification (Microsoft.MachineLearningServices 2025-12-01, `ComputeInstanceProperties`):
every key may be absent, `properties.properties` included (the specification's own 201 example).

One compute whose answer cannot be read becomes one instance with `unreadable` set (its workspace
and name, state Unknown): the shell reports it as a failed instance, and the rest go on.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from compute import azure_shapes as shapes
from domain.durations import duration_minutes
from domain.model import Instance, InstanceState, LastOperation, Person, owner_of

log = logging.getLogger("compute.azureml")


def sdk_text(value: Any) -> str:
    """An SDK enum member or a plain string, as Azure spells it."""
    return str(getattr(value, "value", value) or "")


def read_compute(alias: str, raw: Mapping[str, Any]) -> Instance | None:
    """One compute of a workspace as an Instance; None when it is not a compute instance."""
    name = str(raw.get("name") or "(unnamed)")
    try:
        return _read(alias, name, raw)
    except (TypeError, ValueError, AttributeError, KeyError) as error:
        log.warning("compute %s@%s could not be read: %s: %s", name, alias, type(error).__name__, error)
        why = f"Azure's answer for it could not be read ({type(error).__name__}: {str(error)[:160]})"
        return Instance(alias, name, "", InstanceState.UNKNOWN, unreadable=why)


def _read(alias: str, name: str, raw: Mapping[str, Any]) -> Instance | None:
    envelope = _mapping(raw.get("properties"), "properties")
    if str(envelope.get("computeType") or "").casefold() != "computeinstance":
        return None
    inner = _mapping(envelope.get("properties") or {}, "properties.properties")
    state_text = _text(inner.get("state"))
    state = InstanceState.parse(state_text)
    known = state_text is None or state.value.casefold() == state_text.casefold()
    assigned = _assigned_user(inner.get("personalComputeInstanceSettings"))
    creator = _creator(inner.get("createdBy"))
    owner, source = owner_of(assigned, creator)
    operation = _last_operation(inner.get("lastOperation"))
    return Instance(
        workspace=alias,
        name=name,
        size=_text(inner.get("vmSize")) or "",
        state=state,
        owner_object_id=owner.object_id if owner else None,
        owner_tenant_id=owner.tenant_id if owner else None,
        last_started_at=operation.started_at if operation else None,
        location=_text(raw.get("location")),
        idle_shutdown_minutes=duration_minutes(_text(inner.get("idleTimeBeforeShutdown"))),
        tags={str(k): str(v) for k, v in (_mapping(raw.get("tags") or {}, "tags")).items()},
        owner_name=owner.name if owner else None,
        owner_source=source,
        created_by=creator,
        last_operation=operation,
        schedules=shapes.schedules(_start_stop(inner.get("schedules"))),
        reported_state=None if known else state_text,
    )


def _assigned_user(settings: Any) -> Person | None:
    """`personalComputeInstanceSettings.assignedUser`; null or absent at either level is nobody."""
    if settings is None:
        return None
    user = _mapping(settings, "personalComputeInstanceSettings").get("assignedUser")
    if user is None:
        return None
    user = _mapping(user, "assignedUser")
    object_id = _text(user.get("objectId"))
    return Person(object_id, _text(user.get("tenantId"))) if object_id else None


def _creator(created_by: Any) -> Person | None:
    """`createdBy` {userId, userOrgId, userName}; userId and userName are nullable."""
    if created_by is None:
        return None
    created = _mapping(created_by, "createdBy")
    user_id = _text(created.get("userId"))
    if not user_id:
        return None
    return Person(user_id, _text(created.get("userOrgId")), _text(created.get("userName")))


def _last_operation(value: Any) -> LastOperation | None:
    if value is None:
        return None
    op = _mapping(value, "lastOperation")
    return LastOperation(
        name=_text(op.get("operationName")),
        at=parse_time(op.get("operationTime")),
        status=_text(op.get("operationStatus")),
        trigger=_text(op.get("operationTrigger")),
    )


def parse_time(value: Any) -> datetime | None:
    """An ARM date-time (any number of fraction digits, Z or an offset) as aware UTC; None if unreadable."""
    if isinstance(value, datetime):
        when = value
    elif isinstance(value, str) and value:
        text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
        head, dot, rest = text.partition(".")
        if dot:  # Python reads at most 6 fraction digits; Azure sends 7
            digits = "".join(c for c in rest if c.isdigit())
            text = f"{head}.{digits[:6]}{rest[len(digits) :]}"
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            return None
    else:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"{where} is {type(value).__name__}, not an object")
    return value


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return sdk_text(value) or None


def compute_name(compute: str | None) -> str | None:
    """`azureml:ci-anna`, an ARM id `.../computes/ci-anna` or `ci-anna` -> `ci-anna`."""
    if not compute:
        return None
    return compute.rstrip("/").rsplit("/", 1)[-1].removeprefix("azureml:")


def _start_stop(value: Any) -> list[Any] | None:
    """`schedules.computeStartStop`: the instance's own start/stop schedules (absent or null: none)."""
    if not isinstance(value, Mapping):
        return None
    items = value.get("computeStartStop")
    return [i for i in items if isinstance(i, Mapping)] if isinstance(items, list) else None
