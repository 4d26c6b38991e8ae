"""`python app.py doctor`: check a configuration against reality and say what to fix."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from datetime import UTC, datetime

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from cli.doctor_idle import check_idle_shutdown
from compute.factory import build_fleet
from compute.port import FleetError
from config.settings import Settings
from storage.db import MIGRATIONS
from storage.repositories import Store


@dataclass
class Findings:
    lines: list[str] = field(default_factory=list)
    problems: int = 0

    def ok(self, what: str) -> None:
        self.lines.append(f"ok    {what}")

    def warn(self, what: str) -> None:
        self.lines.append(f"warn  {what}")

    def fail(self, what: str) -> None:
        self.lines.append(f"FAIL  {what}")
        self.problems += 1


class Doctor:
    help = "check the configuration against reality (database, each workspace, Teams) and say what to fix"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        return None

    async def run(self, settings: Settings, args: argparse.Namespace) -> int:
        found = Findings()
        mode = "simulated demo fleet" if settings.simulated else f"{len(settings.workspaces)} workspace(s)"
        found.ok(f"configuration is valid ({mode}, default zone {settings.timezone})")
        store = _database(settings, found)
        if store is not None:
            await _workspaces(settings, store, found)
            await _people(settings, store, found)
            store.close()
        _teams(settings, found)
        print("\n".join(found.lines))
        print(f"{found.problems} problem(s) to fix" if found.problems else "nothing to fix")
        return 1 if found.problems else 0


def _database(settings: Settings, found: Findings) -> Store | None:
    try:
        store = Store.open(settings.database_url, migrate=False)
        with store.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            current = MigrationContext.configure(conn).get_current_revision()
    except Exception as error:
        found.fail(
            f"database {settings.database_url.split('@')[-1]}: {type(error).__name__}: {error}".splitlines()[
                0
            ]
        )
        return None
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    if current == head:
        found.ok(f"database reachable, schema at {head}")
    else:
        found.warn(f"database schema at {current}, latest is {head}: run `python app.py db upgrade`")
    return store


async def _workspaces(settings: Settings, store: Store, found: Findings) -> None:
    fleet = build_fleet(settings, store)
    try:
        for ws in fleet.workspaces:
            try:
                instances = await fleet.list_instances(ws.alias)
                await fleet.list_active_jobs(ws.alias)
            except FleetError as error:
                found.fail(f"workspace {ws.alias} ({ws.workspace}): {error}")
                continue
            owners = sum(1 for i in instances if i.owner_object_id)
            found.ok(
                f"workspace {ws.alias}: {len(instances)} compute instance(s), {owners} with an owner; "
                "instances and jobs readable"
            )
            check_idle_shutdown(settings, ws.alias, instances, datetime.now(UTC), found.warn)
    finally:
        await fleet.close()


async def _people(settings: Settings, store: Store, found: Findings) -> None:
    for ws in settings.workspaces:
        if not ws.approvers:
            found.warn(
                f"workspace {ws.alias} has no approvers: requests and long keep-ons cannot be approved"
            )
        if not ws.admins:
            found.warn(f"workspace {ws.alias} has no admins: warnings for unowned instances reach nobody")
        for person in sorted({*ws.approvers, *ws.admins}):
            if await store.call(store.conversations.get, person) is None:
                found.warn(
                    f"{person} ({ws.alias}) has never talked to Curfew: install the app for them "
                    "(Teams admin center setup policy) so cards can reach them"
                )


def _teams(settings: Settings, found: Findings) -> None:
    url = settings.teams.service_url
    if url.startswith("https://"):
        found.ok(f"Teams service URL {url}")
    else:
        found.fail(
            f"teams.service_url {url!r} must be an https URL (e.g. https://smba.trafficmanager.net/teams/)"
        )
    if settings.teams.tenant_id:
        found.ok(f"Teams tenant {settings.teams.tenant_id}")
    else:
        found.warn("teams.tenant_id is not set: Curfew can only message people who already chatted with it")
    if settings.bot.app_id:
        found.ok(f"bot identity {settings.bot.app_id} ({settings.bot.app_type})")
    else:
        found.warn(
            "MicrosoftAppId is empty: authentication is off (fine on a laptop with the Playground only)"
        )
