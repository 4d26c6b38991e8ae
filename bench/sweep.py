"""Sweep benchmark: stopping N compute instances in W workspaces of S subscriptions, through the
unmodified azure-ai-ml SDK, against the ARM stand-in with ARM's token-bucket throttling.

The stand-in runs in a child process (bench/arm_process.py), so the CPU figures are the sweep's own
(Curfew, the SDK, SQLite). Figures printed in one run:
  floor     one subscription's (N/S - bucket) / refill: ARM throttles writes per subscription, so no
            client can stop the fleet faster, and S subscriptions in parallel do not raise it;
  baseline  the script Curfew replaces: stop one instance and wait for it, as `az ml compute stop`
            does, measured on 3 instances and extrapolated to N (labelled as extrapolated);
  dry run   the same sweep with dry_run=True (lists, decides, re-checks keep-ons, stops nothing);
  curfew    Curfew's sweep (`Sweeper.curfew`), measured: wall against the floor, CPU per stop, reads
            by kind, writes, 429s, peak RSS of this process.

ARM's real buckets per subscription: writes 200 refilled 10 a second, reads 250 and 25; these are the
defaults. Curfew's client budget is set to the same bucket and refill, as in production.

    .venv/bin/python -m bench.sweep [--instances 1000] [--subscriptions 1] [--workspaces 20]
        [--bucket 200] [--refill 10] [--op-seconds 2] [--profile PATH]

With `--profile PATH` the real sweep (not the dry run) is profiled on thread CPU time, the event
loop's thread and every worker thread merged (as `bench/chat.py --profile` does), and written to PATH:

    .venv/bin/python -m pstats PATH   (sort tottime, stats 30)
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import resource
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.arm_process import ArmProcess
from compute.port import Workspace
from config.settings import Settings
from ops.interpreter import short_switches
from runtime import Runtime
from scheduler.outcomes import OutcomeKind
from scheduler.sweep import Sweeper
from storage.repositories import Store
from tests.arm_faults import Limits

OWNER = "00000000-0000-0000-0000-000000000020"
TENANT = "00000000-0000-0000-0000-0000000000c3"
BASELINE_SAMPLE = 3


def subscription(n: int) -> str:
    return f"00000000-0000-0000-0000-0000000a{n:04d}"


def workspaces(count: int, subscriptions: int) -> list[Workspace]:
    return [
        Workspace(f"ws-{n:02}", subscription(n % subscriptions), "rg-ml", f"ml-ws-{n:02}", "UTC")
        for n in range(count)
    ]


def seed_document(spaces: list[Workspace], per_workspace: int) -> dict[str, Any]:
    started = (datetime.now(UTC) - timedelta(hours=6)).isoformat()
    instance = {
        "state": "Running",
        "size": "Standard_DS3_v2",
        "owner_object_id": OWNER,
        "owner_tenant_id": TENANT,
        "last_started_at": started,
    }
    entries = [
        {
            "subscription": ws.subscription_id,
            "resource_group": ws.resource_group,
            "workspace": ws.workspace,
            "generate_instances": {"count": per_workspace, "prefix": f"ci-{ws.alias}-", **instance},
        }
        for ws in spaces
    ]
    base = {  # the baseline's own instances, outside the swept workspaces
        "subscription": subscription(0),
        "resource_group": "rg-ml",
        "workspace": "ml-baseline",
        "generate_instances": {"count": BASELINE_SAMPLE, "prefix": "ci-base-", **instance},
    }
    return {"workspaces": [*entries, base]}


def settings_for(spaces: list[Workspace], tmp: str, bucket: int, refill: float) -> Settings:
    return Settings.model_validate(
        {
            "timezone": "UTC",
            "database_url": f"sqlite:///{Path(tmp)}/s.db",
            "teams": {"tenant_id": TENANT},
            "azure": {"max_concurrency": 16, "writes_per_second": refill, "write_burst": bucket},
            "curfew": {"verify_seconds": 60, "verify_interval_seconds": 5},
            "workspaces": [
                {
                    "alias": w.alias,
                    "subscription_id": w.subscription_id,
                    "resource_group": w.resource_group,
                    "workspace": w.workspace,
                }
                for w in spaces
            ],
        }
    )


def baseline(arm: ArmProcess) -> float:
    """Stop one after another and wait for each, the way `az ml compute stop` does; seconds per instance."""
    from azure.ai.ml import MLClient
    from azure.identity import DefaultAzureCredential

    from compute.azureml import cloud_kwargs

    client = MLClient(
        DefaultAzureCredential(),
        subscription(0),
        "rg-ml",
        "ml-baseline",
        connection_verify=arm.ca_path,
        polling_interval=0.5,
        **cloud_kwargs(arm.url),
    )
    started = time.monotonic()
    for n in range(BASELINE_SAMPLE):
        client.compute.begin_stop(f"ci-base-{n:04d}").result()
    return (time.monotonic() - started) / BASELINE_SAMPLE


async def timed_sweep(rt: Runtime, dry_run: bool) -> tuple[Any, float, float, dict[str, list[float]]]:
    """The report, wall, CPU, and when (seconds from the start) each workspace's verification and
    the recording began."""
    cpu, started = time.process_time(), time.monotonic()
    sweeper, phases = Sweeper(rt), {}
    for name in ("_verify", "_finish"):
        phases[name] = [0.0]
        original = getattr(sweeper, name)

        async def timed(*args: Any, _name: str = name, _call: Any = original, **kw: Any) -> Any:
            phases[_name].append(time.monotonic() - started)
            return await _call(*args, **kw)

        setattr(sweeper, name, timed)
    report = await sweeper.curfew(forced=True, dry_run=dry_run)
    return report, time.monotonic() - started, time.process_time() - cpu, phases


def _profiled(fleet: Any, path: str) -> Any:
    """From now on, profile this thread and fresh worker threads (the default executor's and the
    fleet's), each on its own thread CPU time; None without a path."""
    if not path:
        return None
    from bench.chat_server import _profiler

    profiles = _profiler(path)
    assert profiles is not None
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(max_workers=32, initializer=profiles.thread)
    )
    old = fleet._executor
    fleet._executor = ThreadPoolExecutor(max_workers=old._max_workers, initializer=profiles.thread)
    old.shutdown(wait=False)
    profiles.thread()
    return profiles


async def main(args: argparse.Namespace) -> None:
    from compute.azureml import AzureMLFleet

    logging.disable(logging.WARNING)
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=32))
    spaces = workspaces(args.workspaces, args.subscriptions)
    per_workspace = args.instances // args.workspaces
    total = per_workspace * args.workspaces
    limits = Limits(reads=(250, 25.0), writes=(args.bucket, args.refill))
    with (
        tempfile.TemporaryDirectory() as tmp,
        ArmProcess(Path(tmp) / "arm", op_seconds=args.op_seconds, limits=limits) as arm,
    ):
        os.environ.update(arm.env)
        arm.seed(seed_document(spaces, per_workspace))
        per_instance = await asyncio.to_thread(baseline, arm)
        settings = settings_for(spaces, tmp, args.bucket, args.refill)
        store = Store.open(settings.database_url)
        fleet = AzureMLFleet(
            spaces,
            resource_manager_url=arm.url,
            max_concurrency=settings.azure.max_concurrency,
            writes_per_second=args.refill,
            write_burst=args.bucket,
            client_kwargs={"connection_verify": arm.ca_path},
        )
        rt = Runtime(settings, store, fleet)
        await fleet.list_instances(
            spaces[0].alias
        )  # the azure-ai-ml import and first client, outside the figures
        arm.reset()
        _, dry_wall, dry_cpu, _ = await timed_sweep(rt, dry_run=True)
        dry_counts = arm.counts()
        await asyncio.sleep(max(0.0, 250 / 25 - dry_wall))  # let ARM's read bucket refill
        arm.reset()
        profiles = _profiled(fleet, args.profile)
        report, wall, cpu, phases = await timed_sweep(rt, dry_run=False)
        if profiles:
            profiles.dump()
        counts = arm.counts()
        await fleet.close()
        store.close()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    per_sub = total / args.subscriptions
    floor = max(per_sub - args.bucket, 0) / args.refill
    stopped = report.count(OutcomeKind.STOPPED)
    print(
        f"instances={total} workspaces={args.workspaces} subscriptions={args.subscriptions} "
        f"({per_sub:.0f} each)  ARM write bucket={args.bucket} refill={args.refill:g}/s per subscription "
        f"(real ARM: 200, 10/s)  stand-in operation time={args.op_seconds:g} s"
    )
    print(f"floor     one subscription's (N/S - bucket) / refill      = {floor:8.1f} s")
    print(
        f"baseline  stop and wait, one by one: {per_instance:.2f} s/instance measured on {BASELINE_SAMPLE}, "
        f"EXTRAPOLATED to {total} = {per_instance * total:8.1f} s ({per_instance * total / max(floor, 1e-9):.1f}x floor)"
    )
    print(
        f"dry run   wall {dry_wall:6.1f} s  CPU {dry_cpu:6.1f} s  reads={dry_counts['reads']} "
        f"{dry_counts['reads_by_kind']}"
    )
    print(
        f"curfew    wall {wall:6.1f} s = {wall / max(floor, 1e-9):.3f}x floor   CPU {cpu:6.1f} s = "
        f"{cpu / max(stopped, 1) * 1000:.2f} ms per stop ({(cpu - dry_cpu) / max(stopped, 1) * 1000:.2f} ms "
        f"beyond the dry run)"
    )
    print(
        f"curfew    stopped={stopped} failed={len(report.failures)} writes={counts['writes']} "
        f"429s={counts['429s']} reads={counts['reads']} {counts['reads_by_kind']} "
        f"(budget {3 * args.workspaces + total // 10})  peak RSS {rss_mb:.0f} MB"
    )
    spans = "  ".join(f"{sub}: {a:.1f}-{b:.1f} s" for sub, (a, b) in counts["write_spans"].items())
    print(f"curfew    accepted stops per subscription, first-last: {spans}")
    print(f"curfew    429s by 5 s from the first stop: {counts['429s_by_5s']}")
    verified, finished = phases["_verify"][1:] or [0.0], phases["_finish"][-1]
    print(
        f"curfew    phases from the start: reads and stops until {max(verified):.1f} s (the last "
        f"workspace's stops; the first workspace's verification began at {min(verified):.1f} s), "
        f"verification after that {finished - max(verified):.1f} s, audit and savings {wall - finished:.1f} s"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--subscriptions", type=int, default=1)
    parser.add_argument("--workspaces", type=int, default=20)
    parser.add_argument("--bucket", type=int, default=200)
    parser.add_argument("--refill", type=float, default=10.0)
    parser.add_argument("--op-seconds", type=float, default=2.0)
    parser.add_argument("--profile", default="", help="write a cProfile (thread CPU time) of the sweep")
    with short_switches():  # as Curfew's service runs (app.py)
        asyncio.run(main(parser.parse_args()))
