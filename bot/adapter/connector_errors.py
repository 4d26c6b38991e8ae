"""What a failed Bot Connector call means, and how long to wait before the next try.

Facts (botbuilder 4.17.1 with msrest 0.7.1, measured against a local connector):

- A connector HTTP error raises `botbuilder.schema.ErrorResponseException`, an
  `msrest.exceptions.HttpOperationError`; `error.response` is the `requests.Response` (status_code,
  headers such as Retry-After) and `error.error.error.code` the Teams error code (MessageWritesBlocked).
- msrest sends each call once: 429, 412 and 5xx are not retried underneath, so the messenger retries.
- No connection raises `msrest.exceptions.ClientRequestError` (or an OSError from `requests`).
- Curfew's own reply path (bot/adapter/replies.py) raises `ConnectorHttpError` (status, headers, code)
  for an HTTP error and aiohttp's `ClientError` (or an OSError, TimeoutError) without a connection.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum

from aiohttp import ClientError
from msrest.exceptions import ClientRequestError, HttpOperationError

from bot.adapter.replies import ConnectorHttpError

RETRYABLE_STATUSES = frozenset({408, 412, 429})
UNREACHABLE_STATUSES = frozenset({403, 404})
UNREACHABLE_CODES = frozenset(
    {
        "MessageWritesBlocked",
        "BotNotInConversationRoster",
        "ConversationBlockedByUser",
        "BotDisabledByAdmin",
        "ConversationNotFound",
        "UserNotFound",
    }
)


class Verdict(StrEnum):
    RETRY = "retry"
    UNREACHABLE = "unreachable"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class ConnectorFailure:
    """One failed connector call, in Curfew's words."""

    verdict: Verdict
    status: int | None
    code: str | None
    retry_after: float | None
    detail: str


def http_verdict(status: int, code: str | None) -> Verdict:
    """403/404 and Teams' "cannot reach this user" codes: unreachable; 408/412/429/5xx: retry."""
    if code in UNREACHABLE_CODES or status in UNREACHABLE_STATUSES:
        return Verdict.UNREACHABLE
    if status in RETRYABLE_STATUSES or status >= 500:
        return Verdict.RETRY
    return Verdict.FAIL


def connector_failure(error: BaseException) -> ConnectorFailure:
    """Classify an exception raised by a connector call (never reads or keeps a token)."""
    if isinstance(error, HttpOperationError):
        response = error.response
        status = int(getattr(response, "status_code", None) or getattr(response, "status", 0) or 0)
        headers = getattr(response, "headers", None) or {}
        code = _error_code(error)
        detail = f"HTTP {status}" + (f" {code}" if code else "")
        wait = retry_after_seconds(headers.get("Retry-After"))
        return ConnectorFailure(http_verdict(status, code), status, code, wait, detail)
    if isinstance(error, ConnectorHttpError):
        detail = f"HTTP {error.status}" + (f" {error.code}" if error.code else "")
        wait = retry_after_seconds(error.headers.get("Retry-After"))
        verdict = http_verdict(error.status, error.code)
        return ConnectorFailure(verdict, error.status, error.code, wait, detail)
    if isinstance(error, ClientRequestError | ClientError | OSError | TimeoutError):
        detail = f"no connection to the connector ({type(error).__name__})"
        return ConnectorFailure(Verdict.RETRY, None, None, None, detail)
    detail = f"unexpected error ({type(error).__name__}: {error})"
    return ConnectorFailure(Verdict.FAIL, None, None, None, detail)


def _error_code(error: HttpOperationError) -> str | None:
    model = getattr(error, "error", None)
    inner = getattr(model, "error", None)
    code = getattr(inner, "code", None)
    return str(code) if code else None


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: a number (fractions allowed) or an HTTP date; None when absent or bad."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with jitter: a random wait between half and all of base * 2**attempt, capped."""

    base: float = 0.5
    cap: float = 30.0

    def delay(self, attempt: int) -> float:
        ceiling = min(self.cap, self.base * (2**attempt))
        return random.uniform(ceiling / 2, ceiling)
