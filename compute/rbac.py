"""The Azure RBAC actions Curfew's calls need, and reading ARM's list of what the caller may do.

`NEEDS` is the one list of every action a night (and the chat) performs, with what it is for, the role
file that grants it and the harmless call that proves it, if one exists. A write (stop, start, create)
has no harmless call, so `python app.py doctor` checks those in ARM's permission listing of the
workspace (`GET {workspace}/providers/Microsoft.Authorization/permissions`, api-version 2022-04-01):
one entry per role assignment that applies there, each with `actions` and `notActions`. An action is
allowed when one entry's actions match it and the same entry's notActions do not (Azure's rule; deny
assignments aside). Wildcards (`*`) match any run of characters; actions compare case-insensitively.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol, runtime_checkable

ML = "Microsoft.MachineLearningServices"
PERMISSIONS_API_VERSION = "2022-04-01"
WORKSPACE_ROLE = "Curfew Service role (infra/role-curfew.json) on the workspace"
PRICES_ROLE = "Curfew VM Prices Reader role (infra/role-curfew-prices.json) on the subscription"


@dataclass(frozen=True)
class Need:
    action: str
    purpose: str
    role: str
    probe: str | None
    """The harmless read that proves the grant, or None: only the permission listing can tell."""


NEEDS: tuple[Need, ...] = (
    Need(f"{ML}/workspaces/read", "find the workspace's region", WORKSPACE_ROLE, "GET workspace"),
    Need(f"{ML}/workspaces/computes/read", "list compute instances", WORKSPACE_ROLE, "list computes"),
    Need(f"{ML}/workspaces/jobs/read", "leave instances running a job", WORKSPACE_ROLE, "list jobs"),
    Need(f"{ML}/locations/vmsizes/read", "show prices", PRICES_ROLE, "list VM sizes"),
    Need(
        "Microsoft.Authorization/permissions/read",
        "let doctor check the writes below",
        WORKSPACE_ROLE,
        "list permissions",
    ),
    Need(f"{ML}/workspaces/computes/stop/action", "stop instances at the curfew", WORKSPACE_ROLE, None),
    Need(f"{ML}/workspaces/computes/start/action", "start instances", WORKSPACE_ROLE, None),
    Need(f"{ML}/workspaces/computes/write", "create approved instances", WORKSPACE_ROLE, None),
    Need(
        f"{ML}/workspaces/computes/updateIdleShutdownSetting/action",
        "set idle shutdown within the admins' bounds",
        WORKSPACE_ROLE,
        None,
    ),
    Need(
        f"{ML}/workspaces/computes/delete", "delete instances at the end of their life", WORKSPACE_ROLE, None
    ),
)
"""Every action Curfew performs (tests/test_roles_rbac.py checks each call against this list)."""


@dataclass(frozen=True)
class Permission:
    """One entry of ARM's permission listing (one role assignment's permissions)."""

    actions: tuple[str, ...]
    not_actions: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, entry: Mapping[str, Any]) -> Permission:
        return cls(tuple(entry.get("actions") or ()), tuple(entry.get("notActions") or ()))

    def allows(self, action: str) -> bool:
        return any(_pattern(a).match(action) for a in self.actions) and not any(
            _pattern(n).match(action) for n in self.not_actions
        )


def allowed(permissions: Iterable[Permission], action: str) -> bool:
    return any(p.allows(action) for p in permissions)


def missing(permissions: Iterable[Permission], needs: Iterable[Need] = NEEDS) -> list[Need]:
    """The needs without a harmless call that no permission entry grants."""
    granted = list(permissions)
    return [n for n in needs if n.probe is None and not allowed(granted, n.action)]


@cache
def _pattern(action: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(map(re.escape, action.split("*"))) + "$", re.IGNORECASE)


@runtime_checkable
class ReadsPermissions(Protocol):
    """A fleet that can try the reads a night makes without any cache, and list its permissions."""

    async def permissions(self, workspace: str) -> list[Permission]: ...

    async def fetch_prices(self, workspace: str) -> tuple[str, int]:
        """(region, number of sizes with a price), asked of Azure now."""
        ...
