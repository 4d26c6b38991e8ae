"""The command line's commands: one small class each, registered in COMMANDS."""

from __future__ import annotations

import argparse
import sys
from typing import Protocol

from cli.audit_cmd import Audit
from cli.doctor_cmd import Doctor
from cli.idle_cmd import Idle
from cli.lifecycle_cmd import Lifecycle
from cli.manifest_cmd import Manifest
from cli.report_cmd import Report
from cli.runs import Scheduled, Sweep, Warn
from cli.tables import render_table
from config.settings import Settings
from domain.lifecycle import lifetime_text
from runtime import open_runtime
from storage.db import make_engine, upgrade


class Command(Protocol):
    help: str

    def configure(self, parser: argparse.ArgumentParser) -> None: ...

    async def run(self, settings: Settings, args: argparse.Namespace) -> int: ...


class Serve:
    help = "run the service (the default): Bot Framework endpoint, scheduler, /healthz"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        return None

    async def run(self, settings: Settings, args: argparse.Namespace) -> int:
        raise AssertionError("app.main runs the service itself")


class FleetTable:
    help = "list every compute instance: workspace, name, size, state, owner, keep-on"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--workspace", help="only this workspace alias")

    async def run(self, settings: Settings, args: argparse.Namespace) -> int:
        async with open_runtime(settings) as rt:
            instances = await rt.fleet.list_instances(args.workspace)
            keeps = await rt.store.call(rt.store.keep_ons.in_force, rt.clock(), [i.key for i in instances])
            ends = await rt.store.call(rt.store.life.ends, [i.key for i in instances])
            now = rt.clock()
        kept = {k.key: k for k in keeps}
        life = settings.lifecycle.policy()
        rows = []
        for i in sorted(instances, key=lambda i: (i.workspace, i.name)):
            keep = kept.get(i.key)
            zone = settings.policy(i.workspace).zone
            rows.append(
                [
                    i.workspace,
                    i.name,
                    i.size,
                    i.state.value,
                    i.owner_object_id or "(none)",
                    f"until {keep.until.astimezone(zone):%a %d %b %H:%M} ({keep.state.value})"
                    if keep
                    else "",
                    lifetime_text(i, ends, settings.policy(i.workspace), life, now),
                ]
            )
        print(render_table(["WORKSPACE", "NAME", "SIZE", "STATE", "OWNER", "KEEP-ON", "END"], rows))
        if settings.simulated:
            print("(simulated demo fleet: no Azure ML workspace is configured)")
        return 0


class Db:
    help = "database maintenance: `db upgrade` applies the migrations"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("action", choices=["upgrade"])

    async def run(self, settings: Settings, args: argparse.Namespace) -> int:
        engine = make_engine(settings.database_url, max_connections=settings.database_pool_size)
        try:
            upgrade(engine)
        finally:
            engine.dispose()
        print(
            f"database at the latest schema: {engine.url.render_as_string(hide_password=True)}",
            file=sys.stderr,
        )
        return 0


COMMANDS: dict[str, Command] = {
    "serve": Serve(),
    "fleet": FleetTable(),
    "db": Db(),
    "sweep": Sweep(),
    "idle": Idle(),
    "lifecycle": Lifecycle(),
    "warn": Warn(),
    "scheduled": Scheduled(),
    "manifest": Manifest(),
    "doctor": Doctor(),
    "report": Report(),
    "audit": Audit(),
}
