"""`doctor`'s checks of Curfew's own side: configuration, database, bot identity, Teams, people, schedule."""

from __future__ import annotations

from datetime import datetime

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from bot.adapter.identity import BotTokenError, bot_token
from cli.doctor_checkup import Checkup
from runtime import Runtime
from scheduler.notify import LoggingNotifier
from scheduler.service import CurfewScheduler
from storage.db import MIGRATIONS
from storage.repositories import Store

BOT_TOKEN_FIX = {
    "UserAssignedMSI": "MicrosoftAppId must be the client id of the user-assigned identity attached to "
    "this app (the Azure Bot's msaAppId) and MicrosoftAppTenantId its tenant; the managed identity endpoint "
    "(IDENTITY_ENDPOINT) must answer",
    "SingleTenant": "MicrosoftAppPassword must be a current client secret of the app registration "
    "MicrosoftAppId in tenant MicrosoftAppTenantId",
    "MultiTenant": "MicrosoftAppPassword must be a current client secret of MicrosoftAppId (new multi-tenant "
    "bots cannot be created since 2025-07-31: use SingleTenant or UserAssignedMSI)",
}


async def configuration(c: Checkup) -> None:
    s = c.settings
    mode = "simulated demo fleet" if s.simulated else f"{len(s.workspaces)} workspace(s)"
    c.found.ok(f"configuration is valid ({mode}, default zone {s.timezone})")


async def database(c: Checkup) -> None:
    url = c.settings.database_url
    try:
        store = Store.open(url, migrate=False, max_connections=c.settings.database_pool_size)
        with store.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            current = MigrationContext.configure(conn).get_current_revision()
    except Exception as error:
        c.found.fail(f"database {url.split('@')[-1]}: {type(error).__name__}: {error}".splitlines()[0])
        return
    c.store = store
    if store.engine.dialect.name == "postgresql":
        await _connections(c, store)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    c.schema_ready = current == head
    if current == head:
        c.found.ok(f"database reachable, schema at {head} (the latest)")
    else:
        at = f"at {current}" if current else "empty"
        c.found.warn(f"database schema {at}, latest is {head}: run `python app.py db upgrade`")


USER_CONNECTIONS = text(
    "SELECT current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int"
    " - coalesce(current_setting('reserved_connections', true), '0')::int"
)


async def _connections(c: Checkup, store: Store) -> None:
    """Each process may hold `database_pool_size` connections: how many such processes the server takes."""
    with store.engine.connect() as conn:
        users = int(conn.execute(USER_CONNECTIONS).scalar_one())
    size = c.settings.database_pool_size
    fits = users // size
    line = (
        f"PostgreSQL takes {users} user connections; each Curfew process may hold {size} "
        f"(database_pool_size), so {fits} process(es) fit"
    )
    if fits >= 2:
        c.found.ok(line + " (replicas plus one command line)")
    elif fits == 1:
        c.found.warn(line + ": a command line beside the service may exceed it; lower database_pool_size")
    else:
        c.found.fail(line + ": lower database_pool_size (infra/ sets it from the PostgreSQL size)")


async def bot_identity(c: Checkup) -> None:
    bot = c.settings.bot
    if not bot.authenticated:
        c.found.warn(
            "MicrosoftAppId is empty: authentication is off, so the service listens on 127.0.0.1 only "
            "(fine on a laptop with the Playground; set MicrosoftAppId and MicrosoftAppType to serve Teams)"
        )
        return
    if bot.kind == "MultiTenant":
        c.found.warn(
            "MicrosoftAppType is MultiTenant: Azure no longer creates multi-tenant bots; move to "
            "SingleTenant or UserAssignedMSI"
        )
    try:
        audience = await bot_token(bot, c.settings.teams.service_url)
    except BotTokenError as error:
        c.found.fail(
            f"no Bot Framework token for MicrosoftAppId {bot.app_id} ({bot.kind}): {error}; "
            f"{BOT_TOKEN_FIX[bot.kind]}"
        )
        return
    c.found.ok(f"Bot Framework token for {bot.app_id} ({bot.kind}) for {audience}")


async def teams(c: Checkup) -> None:
    s, found = c.settings, c.found
    url = s.teams.service_url
    if url.startswith("https://"):
        found.ok(f"Teams service URL {url}")
    else:
        found.fail(
            f"teams.service_url {url!r} must be an https URL (e.g. https://smba.trafficmanager.net/teams/)"
        )
    tenant = s.teams.tenant_id
    if not tenant:
        found.warn(
            "teams.tenant_id is not set: Curfew answers every tenant (the demo only; workspaces need it) "
            "and can only message people who already chatted with it"
        )
    elif s.bot.kind != "MultiTenant" and s.bot.app_tenant_id and s.bot.app_tenant_id.lower() != tenant:
        found.fail(
            f"teams.tenant_id {tenant} is not MicrosoftAppTenantId {s.bot.app_tenant_id}: a "
            f"{s.bot.kind} bot serves its own tenant only; set both to your Teams tenant"
        )
    else:
        found.ok(f"Teams tenant {tenant}")
    await _approvals_channel(c)


async def _approvals_channel(c: Checkup) -> None:
    channel = c.settings.teams.approvals_channel
    if not channel or c.store is None or not c.schema_ready:
        return
    ref = await c.store.call(c.store.conversations.get, channel)
    tenant = c.settings.teams.tenant_id
    if ref is None:
        c.found.warn(
            f"approvals channel {channel}: Curfew was never @mentioned there, so approval cards go to each "
            "approver instead; @mention Curfew in that channel once"
        )
    elif tenant and ref.tenant_id.lower() != tenant:
        c.found.fail(
            f"approvals channel {channel} is in tenant {ref.tenant_id}, not teams.tenant_id {tenant}"
        )
    else:
        c.found.ok(f"approvals channel {channel}: approval cards go there")


async def people(c: Checkup) -> None:
    for ws in c.settings.workspaces:
        if not ws.approvers:
            c.found.warn(
                f"workspace {ws.alias} has no approvers: requests and long keep-ons cannot be approved"
            )
        if not ws.admins:
            c.found.warn(f"workspace {ws.alias} has no admins: warnings for unowned instances reach nobody")
        if c.store is None or not c.schema_ready:
            continue
        for person in sorted({*ws.approvers, *ws.admins}):
            if await c.store.call(c.store.conversations.get, person) is None:
                c.found.warn(
                    f"{person} ({ws.alias}) has never talked to Curfew: install the app for them "
                    "(Teams admin center setup policy) so cards can reach them"
                )


async def schedule(c: Checkup) -> None:
    """The scheduler's own triggers (as the service would add them) and when each fires next."""
    if c.store is None or c.fleet is None:
        return
    rt = Runtime(c.settings, c.store, c.fleet, lambda: c.now)
    scheduler = CurfewScheduler(rt, LoggingNotifier())
    mornings = await c.store.call(c.store.mornings.all) if c.schema_ready else []
    triggers = scheduler.triggers({m.at for m in mornings if m.enabled and m.at is not None})
    for zone, aliases in scheduler.zones().items():
        fires = []
        for kind in ("warning", "curfew", "morning", "digest"):
            when = triggers[f"{kind}:{zone}"].get_next_fire_time(None, c.now)
            fires.append(f"{kind} {_local(when)}" if when else f"{kind} never")
        line = f"schedule {zone} ({', '.join(aliases)}): next " + ", ".join(fires)
        (c.found.ok if all(not f.endswith(" never") for f in fires[:2]) else c.found.fail)(line)


def _local(when: datetime) -> str:
    return f"{when:%a %d %b %H:%M %Z}"
