"""`doctor`'s Teams checks, in process on a real store: the tenant against the bot's, and whether the
approvals channel's conversation is stored (Curfew was @mentioned there) and in the right tenant."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from cli.doctor_checkup import Checkup, Findings
from cli.doctor_local import teams
from config.settings import load_settings
from storage.repositories import ConversationRef, Store

TENANT = "00000000-0000-0000-0000-0000000000c3"
OTHER = "00000000-0000-0000-0000-0000000000d4"
CHANNEL = "19:approvals@thread.tacv2"
NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)


def checkup(tmp_path: Path, store: Store, env: dict[str, str] | None = None) -> Checkup:
    config = tmp_path / "curfew.yaml"
    config.write_text(f'teams: {{tenant_id: "{TENANT}", approvals_channel: "{CHANNEL}"}}\n')
    settings = load_settings(config, env=env or {})
    return Checkup(settings, Findings(), NOW, store=store, schema_ready=True)


def remember_channel(store: Store, tenant: str) -> None:
    store.conversations.upsert(
        ConversationRef(CHANNEL, tenant, "approvals channel", {"conversation": {"id": CHANNEL}}, None, NOW)
    )


async def test_an_approvals_channel_curfew_never_saw_is_a_warning(
    tmp_path: Path, sqlite_store: Store
) -> None:
    c = checkup(tmp_path, sqlite_store)
    await teams(c)
    assert c.found.problems == 0
    assert f"warn  approvals channel {CHANNEL}: Curfew was never @mentioned there" in "\n".join(c.found.lines)


async def test_a_stored_approvals_channel_is_where_cards_go(tmp_path: Path, sqlite_store: Store) -> None:
    remember_channel(sqlite_store, TENANT)
    c = checkup(tmp_path, sqlite_store)
    await teams(c)
    assert c.found.lines[-1] == f"ok    approvals channel {CHANNEL}: approval cards go there"
    assert c.found.problems == 0


async def test_an_approvals_channel_in_another_tenant_fails(tmp_path: Path, sqlite_store: Store) -> None:
    remember_channel(sqlite_store, OTHER)
    c = checkup(tmp_path, sqlite_store)
    await teams(c)
    assert (
        c.found.lines[-1]
        == f"FAIL  approvals channel {CHANNEL} is in tenant {OTHER}, not teams.tenant_id {TENANT}"
    )


@pytest.mark.parametrize(
    ("app_type", "fails"), [("SingleTenant", True), ("UserAssignedMSI", True), ("MultiTenant", False)]
)
async def test_a_single_tenant_bot_must_live_in_the_teams_tenant(
    tmp_path: Path, sqlite_store: Store, app_type: str, fails: bool
) -> None:
    env = {"MicrosoftAppId": "9b2a6c1e-0000-4000-8000-00000000c11e", "MicrosoftAppType": app_type}
    c = checkup(tmp_path, sqlite_store, env | {"MicrosoftAppTenantId": OTHER})
    await teams(c)
    assert c.found.problems == int(fails), c.found.lines
    c = checkup(tmp_path, sqlite_store, env | {"MicrosoftAppTenantId": TENANT})
    await teams(c)
    assert f"ok    Teams tenant {TENANT}" in c.found.lines and c.found.problems == 0
