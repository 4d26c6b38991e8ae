"""What infra/ grants Curfew's identity: which role file, at which kind of scope, read from the Bicep.

main.bicep deploys one module per role assignment kind (`module ... 'workspace-role.bicep' = [for ...]`);
each module holds `Microsoft.Authorization/roleAssignments` resources. An assignment's scope is its
`scope:` (an `existing` workspace: workspace scope) or else the module's `targetScope` (resourceGroup by
default, or subscription). Its role is the module's role parameter, whose @description names the role
file in infra/. A module main.bicep does not deploy grants nothing.

This reads Bicep with regular expressions: enough for the shapes infra/ uses, and it fails loudly
(ValueError) on a shape it does not know rather than guessing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

INFRA = Path(__file__).resolve().parents[1] / "infra"
_MODULE = re.compile(r"^module\s+\w+\s+'([^']+\.bicep)'", re.MULTILINE)
_RESOURCE = re.compile(r"^resource\s+(\w+)\s+'([^'@]+)@[^']+'\s+(existing\s+)?=", re.MULTILINE)
_ROLE_FILE = re.compile(r"infra/(role-[\w-]+\.json)")


@dataclass(frozen=True)
class Grant:
    role_file: Path
    scope_kind: str
    """"workspace", "resourceGroup" or "subscription"."""
    module: str


def _blocks(text: str) -> dict[str, tuple[str, bool, str]]:
    """Resource symbol -> (type, existing, body up to the next top-level declaration)."""
    found = {}
    matches = list(_RESOURCE.finditer(text))
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        found[match.group(1)] = (match.group(2), bool(match.group(3)), text[match.end() : end])
    return found


def _role_param_file(text: str, body: str, module: str) -> Path:
    ref = re.search(r"roleDefinitionId:\s*subscriptionResourceId\([^,]+,\s*(\w+)\)", body)
    if ref is None:
        raise ValueError(f"{module}: a role assignment whose roleDefinitionId this reader does not know")
    param = re.search(rf"@description\('([^\n]*)'\)\s*\nparam\s+{ref.group(1)}\s", text)
    role = _ROLE_FILE.search(param.group(1)) if param else None
    if role is None:
        raise ValueError(f"{module}: the description of param {ref.group(1)} names no infra/role-*.json")
    return INFRA / role.group(1)


def grants(infra: Path = INFRA) -> list[Grant]:
    main = (infra / "main.bicep").read_text()
    found = []
    for module in _MODULE.findall(main):
        text = (infra / module).read_text()
        target = re.search(r"^targetScope\s*=\s*'(\w+)'", text, re.MULTILINE)
        default_scope = target.group(1) if target else "resourceGroup"
        blocks = _blocks(text)
        for _symbol, (kind, existing, body) in blocks.items():
            if kind != "Microsoft.Authorization/roleAssignments" or existing:
                continue
            scope = re.search(r"^\s*scope:\s*(\w+)\s*$", body, re.MULTILINE)
            scope_kind = default_scope
            if scope is not None:
                target_kind = blocks.get(scope.group(1), ("", False, ""))[0]
                if target_kind != "Microsoft.MachineLearningServices/workspaces":
                    raise ValueError(f"{module}: an assignment scoped to {scope.group(1)} ({target_kind})")
                scope_kind = "workspace"
            found.append(Grant(_role_param_file(text, body, module), scope_kind, module))
    return found
