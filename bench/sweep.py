"""Sweep benchmark: stopping 1,000 compute instances in 20 workspaces of one subscription, through the
unmodified azure-ai-ml SDK, against the ARM stand-in with ARM's token-bucket write throttling.

Three figures in one run:
  floor     (N - bucket) / refill: no client can stop N instances faster under ARM's write bucket;
  baseline  the script Curfew replaces: stop one instance and wait for it, as `az ml compute stop`
            does, measured on a few instances with the stand-in's operation time and extrapolated to
            N (labelled as extrapolated);
  curfew    Curfew's sweep (`Sweeper.curfew`), measured.

ARM's real write bucket is 200 with 10 refills a second; both are scaled here so the run stays short,
and printed. Curfew's client budget is set to the same bucket and refill, as in production.

    .venv/bin/python -m bench.sweep [--instances 1000] [--workspaces 20] [--bucket 100] [--refill 20]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from compute.azureml import AzureMLFleet
from compute.port import Workspace
from config.settings import Settings
from runtime import Runtime
from scheduler.outcomes import OutcomeKind
from scheduler.sweep import Sweeper
from storage.repositories import Store
from tests.arm_standin import ArmStandIn, Limits

SUBSCRIPTION = "00000000-0000-0000-0000-0000000000a1"
OWNER = "00000000-0000-0000-0000-000000000020"
TENANT = "00000000-0000-0000-0000-0000000000c3"


def workspaces(count: int) -> list[Workspace]:
    return [Workspace(f"ws-{n:02}", SUBSCRIPTION, "rg-ml", f"ml-ws-{n:02}", "UTC") for n in range(count)]


def seed(arm: ArmStandIn, spaces: list[Workspace], per_workspace: int) -> None:
    started = datetime.now(UTC) - timedelta(hours=6)
    for ws in spaces:
        arm.add_workspace(ws.subscription_id, ws.resource_group, ws.workspace)
        for n in range(per_workspace):
            arm.seed_instance(
                ws.subscription_id,
                ws.resource_group,
                ws.workspace,
                f"ci-{ws.alias}-{n:03}",
                size="Standard_DS3_v2",
                state="Running",
                owner_object_id=OWNER,
                owner_tenant_id=TENANT,
                last_started_at=started,
            )


def settings_for(spaces: list[Workspace], tmp: str, bucket: int, refill: float) -> Settings:
    return Settings.model_validate(
        {
            "timezone": "UTC",
            "database_url": f"sqlite:///{Path(tmp)}/s.db",
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


def baseline(arm: ArmStandIn, ws: Workspace, names: list[str]) -> float:
    """Stop one after another and wait for each, the way `az ml compute stop` does; seconds per instance."""
    from azure.ai.ml import MLClient
    from azure.identity import DefaultAzureCredential

    from compute.azureml import cloud_kwargs

    client = MLClient(
        DefaultAzureCredential(),
        ws.subscription_id,
        ws.resource_group,
        ws.workspace,
        connection_verify=str(arm.ca_path),
        polling_interval=0.5,
        **cloud_kwargs(arm.url),
    )
    started = time.monotonic()
    for name in names:
        client.compute.begin_stop(name).result()
    return (time.monotonic() - started) / len(names)


async def main(instances: int, spaces_count: int, bucket: int, refill: float, op_seconds: float) -> None:
    logging.disable(logging.WARNING)
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=32))
    spaces = workspaces(spaces_count)
    per_workspace = instances // spaces_count
    with tempfile.TemporaryDirectory() as tmp:
        big = Limits(reads=(10_000, 10_000.0), writes=(10_000, 10_000.0))
        async with ArmStandIn(Path(tmp) / "arm", op_seconds=op_seconds, limits=big) as arm:
            os.environ.update(arm.env)
            seed(arm, spaces, per_workspace)
            sample = [f"ci-{spaces[0].alias}-{n:03}" for n in range(3)]
            per_instance = await asyncio.to_thread(baseline, arm, spaces[0], sample)
            for name in sample:  # running again, so the sweep has N running instances
                record = arm.instance(name, spaces[0].workspace)
                record.state, record.pending = "Running", None
            arm.limits = Limits(reads=(250, 25.0), writes=(bucket, refill))
            arm.counters.reads = arm.counters.writes = arm.counters.throttled = 0
            settings = settings_for(spaces, tmp, bucket, refill)
            store = Store.open(settings.database_url)
            fleet = AzureMLFleet(
                spaces,
                resource_manager_url=arm.url,
                max_concurrency=16,
                writes_per_second=refill,
                write_burst=bucket,
                client_kwargs={"connection_verify": str(arm.ca_path)},
            )
            rt = Runtime(settings, store, fleet)
            started = time.monotonic()
            report = await Sweeper(rt).curfew(forced=True)
            wall = time.monotonic() - started
            await fleet.close()
            store.close()
            counters = arm.counters
    total = per_workspace * spaces_count
    floor = (total - bucket) / refill
    stopped = report.count(OutcomeKind.STOPPED)
    print(
        f"instances={total} workspaces={spaces_count} subscription=1  ARM write bucket={bucket} refill={refill:g}/s "
        f"(real ARM: 200, 10/s; scaled)  stand-in operation time={op_seconds:g} s"
    )
    print(f"floor     (N - bucket) / refill                     = {floor:8.1f} s")
    print(
        f"baseline  stop and wait, one by one: {per_instance:.2f} s/instance measured on {len(sample)}, "
        f"EXTRAPOLATED to {total} = {per_instance * total:8.1f} s ({per_instance * total / floor:.1f}x floor)"
    )
    print(f"curfew    sweep, measured                           = {wall:8.1f} s ({wall / floor:.3f}x floor)")
    print(
        f"curfew    stopped={stopped} failed={len(report.failures)} writes={counters.writes} "
        f"reads={counters.reads} (budget {3 * spaces_count + total // 10}) 429s={counters.throttled}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--workspaces", type=int, default=20)
    parser.add_argument("--bucket", type=int, default=100)
    parser.add_argument("--refill", type=float, default=20.0)
    parser.add_argument("--op-seconds", type=float, default=2.0)
    args = parser.parse_args()
    asyncio.run(main(args.instances, args.workspaces, args.bucket, args.refill, args.op_seconds))
