"""Azure RBAC for the ARM stand-in: principals per token, role assignments at scopes, ARM's 403.

ARM authorizes every request before the resource provider sees it: the request maps to one provider
operation (its RBAC action), and the caller's principal must hold, at the request's scope or any scope
above it, a role whose `Actions` match the action and whose `NotActions` do not. Otherwise ARM answers
403 `AuthorizationFailed` naming the client, the action and the scope.

`OPERATIONS` maps each request Curfew (or a data scientist's client) can send to its operation: the
path templates are the REST specification's (azure-rest-api-specs, specification/machinelearningservices/
resource-manager/Microsoft.MachineLearningServices/stable/2025-12-01, operationId in the name), the
actions those of the provider's operation list (`az provider operation show --namespace
Microsoft.MachineLearningServices`). A request matching no operation is refused and kept in `unmapped`,
so a test sees a gap in the table instead of a silent pass.

Off by default: `arm.rbac = ArmRbac(...)` turns it on for one stand-in (see tests/test_roles_rbac.py).
"""

from __future__ import annotations

import base64
import fnmatch
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.arm_identity import IssuedToken, ManagedIdentityEndpoint
from tests.arm_state import ArmError

PROVIDER = "Microsoft.MachineLearningServices"
_WS = (
    "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/"
    "Microsoft.MachineLearningServices/workspaces/{workspaceName}"
)
_LOC = "/subscriptions/{subscriptionId}/providers/Microsoft.MachineLearningServices/locations/{location}"


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str
    action: str

    @property
    def pattern(self) -> re.Pattern[str]:
        regex = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(self.path))
        return re.compile(f"^{regex}$", re.IGNORECASE)

    def __str__(self) -> str:
        return f"{self.operation_id} ({self.method} {self.path.split('/providers/')[-1]})"


OPERATIONS: tuple[Operation, ...] = (
    Operation("Workspaces_Get", "GET", _WS, f"{PROVIDER}/workspaces/read"),
    Operation("Compute_List", "GET", _WS + "/computes", f"{PROVIDER}/workspaces/computes/read"),
    Operation("Compute_Get", "GET", _WS + "/computes/{computeName}", f"{PROVIDER}/workspaces/computes/read"),
    Operation(
        "Compute_CreateOrUpdate",
        "PUT",
        _WS + "/computes/{computeName}",
        f"{PROVIDER}/workspaces/computes/write",
    ),
    Operation(
        "Compute_Delete", "DELETE", _WS + "/computes/{computeName}", f"{PROVIDER}/workspaces/computes/delete"
    ),
    Operation(
        "Compute_Start",
        "POST",
        _WS + "/computes/{computeName}/start",
        f"{PROVIDER}/workspaces/computes/start/action",
    ),
    Operation(
        "Compute_Stop",
        "POST",
        _WS + "/computes/{computeName}/stop",
        f"{PROVIDER}/workspaces/computes/stop/action",
    ),
    Operation(
        "Compute_Restart",
        "POST",
        _WS + "/computes/{computeName}/restart",
        f"{PROVIDER}/workspaces/computes/restart/action",
    ),
    Operation(
        "Compute_UpdateIdleShutdownSetting",
        "POST",
        _WS + "/computes/{computeName}/updateIdleShutdownSetting",
        f"{PROVIDER}/workspaces/computes/updateIdleShutdownSetting/action",
    ),
    Operation("Jobs_List", "GET", _WS + "/jobs", f"{PROVIDER}/workspaces/jobs/read"),
    Operation("VirtualMachineSizes_List", "GET", _LOC + "/vmSizes", f"{PROVIDER}/locations/vmsizes/read"),
    # specification/authorization/.../stable/2022-04-01/authorization-RoleDefinitionsCalls.json; the
    # provider operation "Lists all the permissions the caller has at a given scope".
    Operation(
        "Permissions_ListForResource",
        "GET",
        _WS + "/providers/Microsoft.Authorization/permissions",
        "Microsoft.Authorization/permissions/read",
    ),
    # Not in the published specification (the SDK follows it as Azure-AsyncOperation); Curfew never polls.
    Operation(
        "ComputeOperationsStatus_Get",
        "GET",
        _LOC + "/computeOperationsStatus/{operationId}",
        f"{PROVIDER}/locations/computeoperationsstatus/read",
    ),
)


def operation_for(method: str, path: str) -> Operation | None:
    for op in OPERATIONS:
        if op.method == method.upper() and op.pattern.match(path):
            return op
    return None


@dataclass(frozen=True)
class RoleDefinition:
    """A role as `az role definition create --role-definition FILE` reads it."""

    name: str
    actions: tuple[str, ...]
    not_actions: tuple[str, ...] = ()

    @classmethod
    def from_file(cls, path: Path) -> RoleDefinition:
        data = json.loads(path.read_text())
        return cls(data["Name"], tuple(data.get("Actions", ())), tuple(data.get("NotActions", ())))

    def allows(self, action: str) -> bool:
        def hit(patterns: tuple[str, ...]) -> bool:
            return any(fnmatch.fnmatchcase(action.lower(), p.lower()) for p in patterns)

        return hit(self.actions) and not hit(self.not_actions)


@dataclass(frozen=True)
class Assignment:
    principal_id: str
    role: RoleDefinition
    scope: str

    def covers(self, request_scope: str) -> bool:
        scope, target = self.scope.rstrip("/").lower(), request_scope.rstrip("/").lower()
        return target == scope or target.startswith(scope + "/")


@dataclass(frozen=True)
class Denial:
    principal_id: str
    operation: Operation | None
    method: str
    path: str


@dataclass
class ArmRbac:
    """Role assignments and the tokens of extra principals; `authorize` is called for every request."""

    assignments: list[Assignment] = field(default_factory=list)
    denials: list[Denial] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)
    _principals: dict[str, str] = field(default_factory=dict)

    def assign(self, principal_id: str, role: RoleDefinition, scope: str) -> Assignment:
        assignment = Assignment(principal_id, role, scope)
        self.assignments.append(assignment)
        return assignment

    def token_for(self, identity: ManagedIdentityEndpoint, principal_id: str, resource: str) -> str:
        """A bearer token for another principal (a person), accepted by the stand-in like its own."""
        now = int(time.time())
        claims = {"aud": resource, "oid": principal_id, "tid": identity.tenant_id, "exp": now + 3600}
        token = ".".join(
            base64.urlsafe_b64encode(part).rstrip(b"=").decode()
            for part in (b'{"typ":"JWT","alg":"RS256"}', json.dumps(claims).encode(), secrets.token_bytes(16))
        )
        identity.issued[token] = IssuedToken(resource, now + 3600)
        self._principals[token] = principal_id
        return token

    def grants(self, principal_id: str, action: str, scope: str) -> list[Assignment]:
        return [
            a
            for a in self.assignments
            if a.principal_id == principal_id and a.covers(scope) and a.role.allows(action)
        ]

    def principal_of(self, authorization: str, default_principal: str) -> str:
        return self._principals.get(authorization.partition(" ")[2], default_principal)

    def permissions_at(self, principal_id: str, scope: str) -> list[dict[str, list[str]]]:
        """Permissions_ListForResource's `value`: one Permission per role assignment that applies at
        the scope (at it or above it), as the Authorization spec shapes it."""
        return [
            {
                "actions": list(a.role.actions),
                "notActions": list(a.role.not_actions),
                "dataActions": [],
                "notDataActions": [],
            }
            for a in self.assignments
            if a.principal_id == principal_id and a.covers(scope)
        ]

    def authorize(self, method: str, path: str, authorization: str, default_principal: str) -> None:
        """Raise ARM's 403 AuthorizationFailed unless the token's principal may perform the request."""
        principal = self.principal_of(authorization, default_principal)
        op = operation_for(method, path)
        if op is None:
            self.unmapped.append(f"{method} {path}")
        elif self.grants(principal, op.action, path):
            return
        self.denials.append(Denial(principal, op, method, path))
        action = op.action if op else f"{PROVIDER}/<no operation for {method} {path}>"
        raise ArmError(403, "AuthorizationFailed", authorization_failed(principal, action, path))


def authorization_failed(principal: str, action: str, scope: str) -> str:
    """ARM's message, word for word apart from the ids."""
    return (
        f"The client '{principal}' with object id '{principal}' does not have authorization to perform "
        f"action '{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, "
        "please refresh your credentials."
    )
