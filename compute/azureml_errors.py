"""Azure errors to Curfew's own (compute/port.py), with messages a person can act on."""

from __future__ import annotations

import email.utils
import logging
import math
import re
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
from compute.rbac import PRICES_ROLE, WORKSPACE_ROLE

log = logging.getLogger("compute.azureml")
ROLE_HINT = WORKSPACE_ROLE
PRICES_ROLE_HINT = PRICES_ROLE
_DENIED_ACTION = re.compile(r"perform action '([^']+)'")


MAX_RETRY_AFTER_S = 120.0
"""The longest Curfew waits on one Retry-After: a night's run must not sleep past its lease on a typo."""
DEFAULT_RETRY_AFTER_S = 5.0
"""The wait when Azure sends a Retry-After that is neither seconds nor an HTTP date."""


def parse_retry_after(
    value: str, *, default: float = DEFAULT_RETRY_AFTER_S, now: datetime | None = None
) -> float:
    """Seconds to wait for a Retry-After value: seconds or an HTTP date, else `default`; capped."""
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return min(default, MAX_RETRY_AFTER_S)
        when = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if math.isnan(seconds):
        return min(default, MAX_RETRY_AFTER_S)
    return min(max(0.0, seconds), MAX_RETRY_AFTER_S)


def retry_after(exc: AzureError, default: float = DEFAULT_RETRY_AFTER_S) -> float | None:
    """Seconds from the answer's Retry-After(-Ms) headers; None when it carries none."""
    raw = getattr(getattr(exc, "response", None), "headers", None) or {}
    headers = {str(k).lower(): v for k, v in raw.items()}
    for header in ("retry-after-ms", "x-ms-retry-after-ms"):
        value = headers.get(header)
        if value:
            return min(max(0.0, float(value) / 1000), MAX_RETRY_AFTER_S) if _number(value) else default
    value = headers.get("retry-after")
    return None if value is None else parse_retry_after(str(value), default=default)


def _number(value: object) -> bool:
    try:
        return not math.isnan(float(str(value)))
    except ValueError:
        return False


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
        return forbidden(exc, ws)
    if status == 429:
        wait = retry_after(exc) if isinstance(exc, AzureError) else None
        later = f"in {wait:.0f} seconds" if wait else "in a minute"
        return Throttled(f"Azure is throttling Curfew's requests; try again {later}.", retry_after=wait)
    if status is not None and 400 <= status < 500:
        return InvalidRequest(f"Azure refused the request: {azure_message(exc)}")
    log.warning("Azure unavailable for %s: %s", ws.alias, type(exc).__name__)
    return Unavailable(f"Azure could not be reached for {where}; try again in a few minutes.")


def forbidden(exc: BaseException, ws: Workspace) -> Forbidden:
    """ARM's 403 names the action it refused; say it, and which of Curfew's roles grants it."""
    action = _DENIED_ACTION.search(azure_message(exc))
    if action is None:
        return Forbidden(
            f"Curfew's identity lacks permission on workspace {ws.alias} ({ws.workspace}); ask an Azure "
            f"admin to assign it the {ROLE_HINT}."
        )
    hint = PRICES_ROLE_HINT if "/locations/" in action.group(1).lower() else ROLE_HINT
    return Forbidden(
        f"Curfew's identity may not perform {action.group(1)} for workspace {ws.alias} ({ws.workspace}); "
        f"ask an Azure admin to assign it the {hint}."
    )


def translate_sdk(exc: Exception, ws: Workspace) -> FleetError:
    """Any other exception from inside an SDK call: azure-ai-ml's own (validation, MlException) are
    refusals; anything else (an answer the SDK or Curfew's mapping could not read, a bug) is
    Unavailable for this workspace only, logged with its traceback."""
    if any(cls.__name__ == "MlException" for cls in type(exc).__mro__):
        return InvalidRequest(f"Azure ML refused the request for workspace {ws.alias}: {exc}")
    log.warning("unreadable answer from Azure ML for %s", ws.alias, exc_info=exc)
    return Unavailable(
        f"Curfew could not read Azure ML's answer for workspace {ws.alias} ({type(exc).__name__}: "
        f"{str(exc)[:200]}); try again later, and if it persists send Curfew's log to its maintainers."
    )
