"""Azure errors to Curfew's own (compute/port.py), with messages a person can act on."""

from __future__ import annotations

import email.utils
import logging
from datetime import UTC, datetime

from azure.core.exceptions import AzureError, ClientAuthenticationError

from compute.port import (
    Busy,
    FleetError,
    Forbidden,
    InvalidRequest,
    NotFound,
    Throttled,
    Unavailable,
    Workspace,
)

log = logging.getLogger("compute.azureml")
ROLE_HINT = "AzureML Compute Operator (and Reader, to see jobs)"


def retry_after(exc: AzureError) -> float | None:
    raw = getattr(getattr(exc, "response", None), "headers", None) or {}
    headers = {str(k).lower(): v for k, v in raw.items()}
    for header, scale in (("retry-after-ms", 0.001), ("x-ms-retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(header)
        if not value:
            continue
        try:
            return max(0.0, float(value) * scale)
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(value)
            return max(0.0, (parsed - datetime.now(UTC)).total_seconds())
    return None


def azure_message(exc: BaseException) -> str:
    error = getattr(exc, "error", None)
    message = getattr(error, "message", None) or getattr(exc, "message", None) or str(exc)
    return str(message).strip().splitlines()[0] if message else "no details"


def translate(exc: BaseException, ws: Workspace, name: str | None) -> FleetError:
    status = getattr(exc, "status_code", None)
    where = f"workspace {ws.alias}"
    if isinstance(exc, ClientAuthenticationError) and status is None:
        return Unavailable(f"Curfew could not get an Azure token for {where}; try again in a few minutes.")
    if status == 404:
        if name:
            return NotFound(f"No compute instance {name} in {where}.")
        return NotFound(
            f"Azure has no workspace {ws.workspace} in resource group {ws.resource_group} ({ws.alias})."
        )
    if status == 409:
        return Busy(f"{name} is busy with another operation in Azure; try again in a few minutes.")
    if status in (401, 403):
        return Forbidden(
            f"Curfew's identity lacks permission on {where} ({ws.workspace}); ask an Azure admin to grant it "
            f"the {ROLE_HINT} role on the workspace."
        )
    if status == 429:
        wait = retry_after(exc) if isinstance(exc, AzureError) else None
        later = f"in {wait:.0f} seconds" if wait else "in a minute"
        return Throttled(f"Azure is throttling Curfew's requests; try again {later}.", retry_after=wait)
    if status is not None and 400 <= status < 500:
        return InvalidRequest(f"Azure refused the request: {azure_message(exc)}")
    log.warning("Azure unavailable for %s: %s", ws.alias, type(exc).__name__)
    return Unavailable(f"Azure could not be reached for {where}; try again in a few minutes.")


def translate_sdk(exc: Exception, ws: Workspace) -> FleetError | None:
    """azure-ai-ml's own exceptions (validation, MlException); None for anything else (a bug)."""
    if any(cls.__name__ == "MlException" for cls in type(exc).__mro__):
        return InvalidRequest(f"Azure ML refused the request for workspace {ws.alias}: {exc}")
    return None
