"""The bot under test for bench/chat.py, in a child process of its own so that its CPU is measured
alone: Curfew (simulated fleet or Azure ML through the ARM stand-in) or the bare echo bot.

The parent sends one dict (what to serve) over a pipe; the child answers {"port", "pid"} once it
serves, and stops when the parent sends anything else.
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from typing import Any

from aiohttp import web

OTHER_OWNER = "00000000-0000-0000-0000-0000000000ee"


def seed_simulated(app: web.Application, owners: list[str], fleet: int, tenant: str) -> None:
    """`fleet` instances in the demo workspace: ci-user-N for each owner, the rest someone else's."""
    from runtime import RUNTIME
    from storage.models import SimInstanceRow

    started = datetime.now(UTC) - timedelta(hours=2)
    store = app[RUNTIME].store
    rows = [(f"ci-user-{n}", owner) for n, owner in enumerate(owners)]
    rows += [(f"ci-other-{n:05d}", OTHER_OWNER) for n in range(max(0, fleet - len(owners)))]
    with store.sessions.begin() as session:
        for name, owner in rows:
            session.add(
                SimInstanceRow(
                    workspace="demo",
                    name=name,
                    size="Standard_DS3_v2",
                    state="Running",
                    owner_object_id=owner,
                    owner_tenant_id=tenant,
                    last_started_at=started,
                    tags={},
                )
            )


def record_warnings(app: web.Application, aliases: list[str]) -> dict[int, str]:
    """The warning card each user got for the coming curfew (as the warning pass stores it): the
    ids their clicks carry."""
    from domain.model import InstanceKey
    from domain.schedule import next_curfew
    from runtime import RUNTIME
    from storage.warnings_repo import NewWarning

    rt = app[RUNTIME]
    now = rt.clock()
    wanted = []
    for n, alias in enumerate(aliases):
        at = next_curfew(rt.settings.policy(alias), now, inclusive=True)
        assert at is not None
        wanted.append(NewWarning(None, at, (InstanceKey(alias, f"ci-user-{n}"),)))
    sent = rt.store.warnings.add(wanted, now)
    return {n: w.id for n, w in enumerate(sent)}


async def _serve(conn: Connection, spec: dict[str, Any]) -> None:
    os.environ.update(spec.get("env") or {})
    from concurrent.futures import ThreadPoolExecutor

    from app import WORKER_THREADS, create_app
    from config.settings import Settings
    from tests.echo_bot import create_app as create_echo_app

    profiles = _profiler(spec.get("profile"))
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(max_workers=WORKER_THREADS, initializer=profiles.thread if profiles else None)
    )
    if spec["bot"] == "echo":
        app = create_echo_app()
    else:
        app = create_app(Settings.model_validate(spec["settings"]), scheduler=False)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    warnings: dict[int, str] = {}
    if spec["bot"] == "curfew":
        if spec.get("simulated"):
            seed_simulated(app, spec["owners"], spec["fleet"], spec["tenant"])
        warnings = record_warnings(app, spec["aliases"])
    port = runner.addresses[0][1]
    if profiles:
        profiles.thread()
    conn.send({"port": port, "pid": os.getpid(), "warnings": warnings})
    sweeps: list[asyncio.Task[Any]] = []
    while (await asyncio.get_running_loop().run_in_executor(None, conn.recv)) == "sweep":
        sweeps.append(asyncio.create_task(_sweep(app, conn)))
    for task in sweeps:
        task.cancel()
    if profiles:
        profiles.dump()
    await runner.cleanup()


class _Profiles:
    """cProfile on thread CPU time in the event loop's thread and every worker thread, merged."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.profiles: list[Any] = []

    def thread(self) -> None:
        import cProfile
        import time

        profile = cProfile.Profile(time.thread_time)
        self.profiles.append(profile)
        profile.enable()

    def dump(self) -> None:
        import pstats

        for profile in self.profiles:
            profile.disable()
        stats = pstats.Stats(self.profiles[0])
        for profile in self.profiles[1:]:
            stats.add(profile)
        stats.dump_stats(self.path)


def _profiler(path: str | None) -> _Profiles | None:
    return _Profiles(path) if path else None


async def _sweep(app: web.Application, conn: Connection) -> None:
    """A forced curfew in the serving process, as the scheduler runs it; its figures to the parent."""
    import time

    from runtime import RUNTIME
    from scheduler.outcomes import OutcomeKind
    from scheduler.sweep import Sweeper

    started = time.monotonic()
    report = await Sweeper(app[RUNTIME]).curfew(forced=True)
    print(
        f"sweep in the server: {report.count(OutcomeKind.STOPPED)} stopped in "
        f"{time.monotonic() - started:.1f} s",
        flush=True,
    )


def child(conn: Connection, spec: dict[str, Any]) -> None:
    import logging

    logging.disable(logging.WARNING)
    asyncio.run(_serve(conn, spec))


def cpu_seconds(pid: int) -> float:
    """User plus system CPU of a process so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0
