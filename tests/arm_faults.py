"""Bookkeeping of the ARM stand-in: limits, counters, the request log and injected faults."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tests import arm_json
from tests.arm_state import ArmError

DEFAULT_CODES = {
    400: "BadRequest",
    401: "InvalidAuthenticationToken",
    403: "AuthorizationFailed",
    404: "ResourceNotFound",
    409: "Conflict",
    429: "TooManyRequests",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}


@dataclass(frozen=True)
class Limits:
    """ARM's token buckets per subscription: (bucket size, refill per second) for each kind."""

    reads: tuple[int, float] = (250, 25.0)
    writes: tuple[int, float] = (200, 10.0)
    deletes: tuple[int, float] = (200, 10.0)


@dataclass
class Counters:
    """Requests let through per bucket kind, 429s the buckets sent, 401s, injected faults."""

    reads: int = 0
    writes: int = 0
    deletes: int = 0
    throttled: int = 0
    unauthorized: int = 0
    faults: int = 0
    by_kind_throttled: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    query: Mapping[str, str]
    status: int
    at: float
    body: Any = None
    """The parsed JSON body of a PUT or POST, else None."""


class RawError(ArmError):
    """An injected answer: status, body and headers exactly as the test gave them."""

    def __init__(self, status: int, body: Any, headers: Mapping[str, str]) -> None:
        super().__init__(status, "Injected", str(body), headers)
        self.body = body


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    status: int
    headers: dict[str, str]
    body: Any
    times: int
    served: int = 0
    query: re.Pattern[str] | None = None
    """Also the query string must match (re.search): one page of a listing, not the first."""

    def matches(self, method: str, path: str, query: str = "") -> bool:
        return (
            self.served < self.times
            and self.method == method
            and bool(self.path.search(path))
            and (self.query is None or bool(self.query.search(query)))
        )

    def answer(self, method: str, path: str, principal: str) -> RawError:
        self.served += 1
        headers = dict(self.headers)
        if self.status == 429 and not any("retry-after" in h.lower() for h in headers):
            headers["Retry-After"] = "1"
        code = DEFAULT_CODES.get(self.status, "Error")
        body = self.body or arm_json.error_body(code, _message(self.status, method, path, principal))
        return RawError(self.status, body, headers)


def _message(status: int, method: str, path: str, principal: str) -> str:
    if status == 403:
        return (
            f"The client '{principal}' with object id '{principal}' does not have authorization to perform "
            f"action '{arm_action(method, path)}' over scope '{path}' or the scope is invalid. If access was "
            "recently granted, please refresh your credentials."
        )
    return f"Injected fault {status} for {method} {path}."


def arm_action(method: str, path: str) -> str:
    """The RBAC action of a request, e.g. Microsoft.MachineLearningServices/workspaces/computes/stop/action."""
    parts = [p for p in path.split("/") if p]
    types = [parts[i] for i in range(6, len(parts), 2)] if len(parts) > 6 else []
    verb = {"GET": "read", "PUT": "write", "DELETE": "delete"}.get(method, "action")
    return "/".join(["Microsoft.MachineLearningServices", *types, verb])
