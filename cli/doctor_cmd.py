"""`python app.py doctor`: try, read-only, what tonight will do, and say per line what to fix.

Each check is one async function of a `Checkup` in `CHECKS`, run in order; a check adds `ok`, `warn`
or `FAIL` lines. FAIL means tonight would fail (no database, no Bot Framework token, a workspace
Curfew cannot list, a role action it lacks): the exit status is then 1. Nothing here writes to Azure,
Teams or the database: the writes (stop, start, create) are checked in ARM's permission listing.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from cli.doctor_azure import workspaces
from cli.doctor_checkup import Checkup, Findings
from cli.doctor_local import bot_identity, configuration, database, people, schedule, teams
from config.settings import Settings

log = logging.getLogger(__name__)
Check = Callable[[Checkup], Awaitable[None]]
CHECKS: list[Check] = [configuration, database, bot_identity, teams, workspaces, people, schedule]
"""In order; a check that needs the store skips itself when the database check could not open it."""


class Doctor:
    help = (
        "try, read-only, what tonight will do (database, bot token, Teams, each workspace's reads, "
        "prices and role actions, the schedule) and say what to fix"
    )

    def configure(self, parser: argparse.ArgumentParser) -> None:
        return None

    async def run(self, settings: Settings, args: argparse.Namespace) -> int:
        checkup = Checkup(settings, Findings(), datetime.now(UTC))
        try:
            for check in CHECKS:
                try:
                    await check(checkup)
                except Exception as error:  # a check must never hide the checks after it
                    log.exception("doctor's check %s failed", check.__name__)
                    checkup.found.fail(f"{check.__name__}: {type(error).__name__}: {error}".splitlines()[0])
        finally:
            if checkup.fleet is not None:
                await checkup.fleet.close()
            if checkup.store is not None:
                checkup.store.close()
        found = checkup.found
        print("\n".join(found.lines))
        print(f"{found.problems} problem(s) to fix" if found.problems else "nothing to fix")
        return 1 if found.problems else 0
