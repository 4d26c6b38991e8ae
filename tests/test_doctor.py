"""`python app.py doctor` as a process against the RBAC-enforcing ARM stand-in and its managed identity.

With the roles infra/ ships, assigned where infra/ assigns them, doctor finds nothing to fix: a Bot
Framework token for the UserAssignedMSI identity, each workspace's list and jobs, the prices of each
region (two subscriptions), and every write action in ARM's permission listing. With any one action
taken out of the roles, doctor names that action and exits 1. It never writes: every request is a GET.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from compute.rbac import NEEDS
from tests.arm_fixtures import (
    OTHER_SUBSCRIPTION,
    RESEARCH,
    SUBSCRIPTION,
    TENANT,
    VISION,
    seed_instance,
    seed_job,
)
from tests.arm_rbac import ArmRbac, RoleDefinition
from tests.arm_standin import ArmStandIn
from tests.infra_roles import grants
from tests.login_standin import LoginStandIn
from tests.test_curfew_processes import cli, cli_env, finish
from tests.test_roles_rbac import scope_of

DANA = "00000000-0000-0000-0000-000000000020"
ALEX = "00000000-0000-0000-0000-000000000021"


def write_config(tmp_path: Path, arm: ArmStandIn) -> Path:
    path = tmp_path / "curfew.yaml"
    people = f'approvers: ["{ALEX}"], admins: ["{ALEX}"]'
    path.write_text(
        f"""
timezone: UTC
azure: {{resource_manager_url: "{arm.url}"}}
teams: {{tenant_id: "{TENANT}"}}
workspaces:
  - {{alias: research, subscription_id: "{SUBSCRIPTION}", resource_group: rg-ml, workspace: ws-research, {people}}}
  - {{alias: vision, subscription_id: "{OTHER_SUBSCRIPTION}", resource_group: rg-vision, workspace: ws-vision,
     timezone: Europe/Berlin, {people}}}
"""
    )
    return path


def assign_roles(arm: ArmStandIn, without: str | None = None) -> ArmRbac:
    """The shipped roles at the scopes infra/ assigns them, less one action when `without` says so."""
    rbac = arm.rbac = ArmRbac()
    for grant in grants():
        role = RoleDefinition.from_file(grant.role_file)
        role = dataclasses.replace(role, actions=tuple(a for a in role.actions if a != without))
        for ws in (RESEARCH, VISION):
            rbac.assign(arm.identity.principal_id, role, scope_of(ws, grant.scope_kind))
    return rbac


async def run_doctor(tmp_path: Path, arm: ArmStandIn, **bot: str) -> tuple[int, str]:
    for ws in (RESEARCH, VISION):
        arm.add_workspace(ws.subscription_id, ws.resource_group, ws.workspace)
    seed_instance(arm, RESEARCH, "ci-dana", owner_object_id=DANA)
    seed_job(arm, RESEARCH, "job-1", "ci-dana")
    env = cli_env(tmp_path, arm, write_config(tmp_path, arm), f"sqlite:///{tmp_path}/c.db")
    env |= {
        "MicrosoftAppType": "UserAssignedMSI",
        "MicrosoftAppId": arm.identity.client_id,
        "MicrosoftAppTenantId": TENANT,
        "AZURE_CLIENT_ID": arm.identity.client_id,
        **bot,
    }
    migrated = await finish(await cli(env, "db", "upgrade"))
    assert migrated[0] == 0, migrated[2]
    code, out, err = await finish(await cli(env, "doctor"))
    assert "Traceback" not in err, err
    assert {r.method for r in arm.requests} == {"GET"}, "doctor must not write"
    return code, out


async def test_doctor_finds_nothing_to_fix_with_the_shipped_roles(tmp_path: Path, arm: ArmStandIn) -> None:
    rbac = assign_roles(arm)
    code, out = await run_doctor(tmp_path, arm)
    assert code == 0, out
    assert out.strip().endswith("nothing to fix") and "FAIL" not in out
    lines = out.splitlines()
    assert (
        f"ok    Bot Framework token for {arm.identity.client_id} (UserAssignedMSI) for https://api.botframework.com"
        in lines
    )
    assert "https://api.botframework.com" in {t.resource for t in arm.identity.issued.values()}
    for alias in ("research", "vision"):
        assert any(
            line.startswith(f"ok    workspace {alias}: prices in westeurope readable") for line in lines
        )
        assert any(
            line.startswith(f"ok    workspace {alias}: may stop instances at the curfew, start instances")
            for line in lines
        )
    assert "ok    workspace research: 1 compute instance(s), 1 with an owner" in lines
    assert "ok    workspace research: jobs readable, 1 queued or running" in lines
    assert any(line.startswith("ok    schedule Europe/Berlin (vision): next warning") for line in lines)
    assert rbac.denials == [] and rbac.unmapped == []
    assert arm.requests_matching("GET", r"/providers/Microsoft.Authorization/permissions$")


@pytest.mark.parametrize(
    "need", NEEDS, ids=[n.action.rsplit("/", 2)[-2] + "/" + n.action.rsplit("/", 1)[-1] for n in NEEDS]
)
async def test_doctor_names_a_missing_action_and_exits_1(
    tmp_path: Path, arm: ArmStandIn, need: object
) -> None:
    action = need.action  # type: ignore[attr-defined]
    assign_roles(arm, without=action)
    code, out = await run_doctor(tmp_path, arm)
    assert code == 1, out
    fails = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert fails, out
    assert all(action in line for line in fails), fails
    assert {re.match(r"FAIL  workspace (\S+): ", line).group(1) for line in fails} == {"research", "vision"}  # type: ignore[union-attr]
    assert out.strip().endswith(f"{len(fails)} problem(s) to fix")


async def test_doctor_fails_when_the_managed_identity_is_not_the_bots(
    tmp_path: Path, arm: ArmStandIn
) -> None:
    assign_roles(arm)
    stranger = "0badc11e-0000-4000-8000-000000000000"
    code, out = await run_doctor(tmp_path, arm, MicrosoftAppId=stranger)
    assert code == 1, out
    [fail] = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert f"no Bot Framework token for MicrosoftAppId {stranger} (UserAssignedMSI)" in fail
    assert "No User Assigned or Delegated Managed Identity found" in fail
    assert "client id of the user-assigned identity" in fail


@pytest.mark.parametrize("right", [True, False], ids=["the app's secret", "a wrong secret"])
async def test_doctor_gets_a_single_tenant_bots_token_from_entra(
    tmp_path: Path, arm: ArmStandIn, right: bool
) -> None:
    """SingleTenant: MSAL asks login.microsoftonline.com (the loopback stand-in, through a proxy) with the
    app's id and secret; a wrong secret is a FAIL that says which setting to fix, and never shows it."""
    assign_roles(arm)
    app, secret = "3c1f0c2d-0000-4000-8000-00000000b0b0", "the-apps-secret"
    async with LoginStandIn(tmp_path / "login", {app: secret}) as login:
        bundle = tmp_path / "cas.pem"
        bundle.write_text(arm.ca_path.read_text() + login.ca_path.read_text())
        sent = secret if right else "an-old-secret"
        code, out = await run_doctor(
            tmp_path,
            arm,
            MicrosoftAppType="SingleTenant",
            MicrosoftAppId=app,
            MicrosoftAppPassword=sent,
            HTTPS_PROXY=login.proxy_url,
            REQUESTS_CA_BUNDLE=str(bundle),
        )
    assert login.refused_hosts == []
    assert sent not in out
    if right:
        assert code == 0, out
        assert f"ok    Bot Framework token for {app} (SingleTenant) for https://api.botframework.com" in out
        assert list(login.tokens.values()) == [(app, "https://api.botframework.com/.default")]
    else:
        assert code == 1, out
        [fail] = [line for line in out.splitlines() if line.startswith("FAIL")]
        assert f"no Bot Framework token for MicrosoftAppId {app} (SingleTenant)" in fail, login.requests
        assert "invalid_client" in fail and "AADSTS7000215" in fail, login.requests
        assert "MicrosoftAppPassword must be a current client secret" in fail
        assert login.tokens == {}


async def test_doctor_fails_a_single_tenant_bot_without_its_tenant(tmp_path: Path, arm: ArmStandIn) -> None:
    assign_roles(arm)
    code, out = await run_doctor(
        tmp_path,
        arm,
        MicrosoftAppType="SingleTenant",
        MicrosoftAppPassword="not-a-real-secret",
        MicrosoftAppTenantId="",
    )
    assert code == 1, out
    [fail] = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert "(SingleTenant): MicrosoftAppTenantId is not set" in fail
    assert "not-a-real-secret" not in out
