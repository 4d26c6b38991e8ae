"""docs/deploy.md, docs/roles.md and the README say what infra/ does: the same app settings, role files,
actions and modules, and the settings the web app gets are ones Curfew (or App Service) reads."""

from __future__ import annotations

import json
import re
from pathlib import Path

from config.settings import _BOT_ENV, _ENV_KEYS

ROOT = Path(__file__).resolve().parents[1]
INFRA = ROOT / "infra"
MAIN = (INFRA / "main.bicep").read_text()
DEPLOY = (ROOT / "docs" / "deploy.md").read_text()
ROLES = (ROOT / "docs" / "roles.md").read_text()
README = (ROOT / "README.md").read_text()
READ_ELSEWHERE = {
    "WEBSITES_PORT": "App Service",
    "WEBSITES_ENABLE_APP_SERVICE_STORAGE": "App Service",
    "AZURE_CLIENT_ID": "azure-identity",
    "CURFEW_CONFIG": "config/settings.py load_settings",
    "APPLICATIONINSIGHTS_CONNECTION_STRING": "ops/telemetry.py",
    "LOG_FORMAT": "ops/logs.py",
}


def app_settings() -> set[str]:
    block = MAIN[MAIN.index("appSettings: [") : MAIN.index("]", MAIN.index("appSettings: ["))]
    return set(re.findall(r"name: '(\w+)'", block))


def test_the_guide_lists_every_app_setting_the_template_sets() -> None:
    sentence = DEPLOY[DEPLOY.index("The web app gets these settings") :].split("\n\n")[0]
    documented = set(re.findall(r"`(\w+)(?:=[^`]*)?`", sentence))
    assert app_settings() <= documented, app_settings() - documented
    assert {s for s in documented if s.isupper() or s.startswith("Microsoft")} - app_settings() == set()


def test_every_app_setting_is_read_by_someone() -> None:
    read_by_curfew = set(_ENV_KEYS) | set(_BOT_ENV)
    assert app_settings() - read_by_curfew - set(READ_ELSEWHERE) == set()
    for name in app_settings() & read_by_curfew:
        assert f"`{name}`" in README, f"{name} is set by infra/ but missing from the README's reference"


def test_every_role_file_and_its_actions_are_in_the_docs() -> None:
    role_files = sorted(p.name for p in INFRA.glob("role-*.json"))
    assert len(role_files) == 3
    loop = re.search(r"for role in ([\w -]+); do", DEPLOY)
    assert loop is not None and sorted(f"role-{r}.json" for r in loop.group(1).split()) == role_files
    for name in role_files:
        assert f"infra/{name}" in ROLES and f"infra/{name}" in README, name
        role = json.loads((INFRA / name).read_text())
        assert role["AssignableScopes"] == ["/subscriptions/00000000-0000-0000-0000-000000000000"]
        assert f'"{role["Name"]}"' in ROLES, role["Name"]
        for action in role["Actions"]:
            short = action.removeprefix("Microsoft.MachineLearningServices/").removeprefix("workspaces/")
            assert short in ROLES, f"{name}: {action} is not explained in docs/roles.md"
    curfew = json.loads((INFRA / "role-curfew.json").read_text())["Actions"]
    words = {6: "six", 7: "seven", 8: "eight", 9: "nine"}
    assert f"Exactly {words[len(curfew)]} actions" in ROLES


def test_the_guide_names_every_module_main_bicep_deploys() -> None:
    modules = set(re.findall(r"^module \w+ '([\w-]+\.bicep)'", MAIN, re.MULTILINE))
    assert modules == {"workspace-role.bicep", "subscription-role.bicep"}
    for module in modules:
        assert f"infra/{module}" in DEPLOY, module
    assert "infra/db-role.sql" in DEPLOY and "docs/deploy.md step 6" in (INFRA / "db-role.sql").read_text()
    assert "-f infra/db-role.sql" in DEPLOY[DEPLOY.index("## 6.") : DEPLOY.index("## 7.")]


def test_every_template_parameter_without_a_default_is_in_the_example_and_the_guide() -> None:
    required = set(re.findall(r"^param (\w+) \w+$", MAIN, re.MULTILINE))
    example = json.loads((INFRA / "main.parameters.example.json").read_text())["parameters"]
    assert required <= set(example), required - set(example)
    step5 = DEPLOY[DEPLOY.index("## 5.") : DEPLOY.index("## 6.")]
    assert all(f"`{p}`" in step5 for p in required), [p for p in required if f"`{p}`" not in step5]
