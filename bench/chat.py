"""Chat benchmark: Teams activity JSON posted to /api/messages, Curfew against a bare echo bot.

Each bot runs in a child process of its own (bench/chat_server.py), so the CPU per turn printed is
the server's alone; the connector stand-in and this driver run here, the ARM stand-in (with
`--azure`) in a third process (bench/arm_process.py). Latency is from the POST to the reply arriving
at the connector stand-in (a card click: to the invoke's answer, which carries the card).

Kinds of turn (`--kinds`): `status`; `keep` (a short keep, `keep NAME for 2 hours`); `approval` (a
keep for a week, which goes to the approvers); `click` (Keep 1 hour on the warning card, an
Action.Execute invoke). Every turn comes from a user of its own who owns one instance and has said
`status` once before the figures start (as everyone whom a warning card reached has a stored reference).

Modes:
  single   one user at a time, one turn after another (`--turns` of each kind);
  open     open-loop arrivals at `--rate` a second (exponential gaps, never waiting for answers)
           for `--seconds`, the kinds in turn.
Fleets:
  --fleet N                      the simulated fleet with N instances (the users' and others');
  --azure WORKSPACES x INSTANCES the Azure ML fleet through the unmodified SDK over TLS against the
                                 ARM stand-in with ARM's read throttle (250, 25/s per subscription),
                                 reporting ARM reads per turn.

    .venv/bin/python -m bench.chat --mode single --fleet 100
    .venv/bin/python -m bench.chat --mode open --rate 10 --fleet 1000
    .venv/bin/python -m bench.chat --mode single --azure 20x50
    .venv/bin/python -m bench.chat --mode open --rate 5 --kinds click --azure 20x50
    .venv/bin/python -m bench.chat --mode open --rate 10 --azure 20x500 --during-sweep 20

With `--profile PATH` the Curfew server writes a cProfile of its thread CPU time (the event loop's
thread and every worker thread, merged; warm-up turns included) to PATH when it stops:

    .venv/bin/python -m bench.chat --mode single --fleet 1000 --kinds status --turns 50 --profile /tmp/s.prof

With `--during-sweep S` the open-loop phase runs again (with other users, who also said `status`
first) while a forced curfew runs in the server process, from S seconds after it started.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from bench.arm_process import ArmProcess
from bench.chat_server import child, cpu_seconds, rss_mb
from compute.simulated import DEMO_TENANT
from config.settings import Settings
from tests.arm_faults import Limits
from tests.connector_standin import ConnectorStandIn

APPROVER = "00000000-0000-0000-0000-000000000021"
KINDS = ("status", "keep", "approval", "click")
SETTLE_SECONDS = 300.0


def user_id(n: int) -> str:
    return f"00000000-0000-0000-0000-1{n:011d}"


def subscription(n: int) -> str:
    return f"00000000-0000-0000-0000-0000000b{n:04d}"


@contextmanager
def bot(spec: dict[str, Any]) -> Iterator[tuple[str, int, Any]]:
    context = multiprocessing.get_context("spawn")
    conn, theirs = context.Pipe()
    process = context.Process(target=child, args=(theirs, spec), daemon=True)
    process.start()
    hello = conn.recv()
    try:
        spec["warnings"] = hello["warnings"]
        yield f"http://127.0.0.1:{hello['port']}/api/messages", hello["pid"], conn
    finally:
        conn.send("stop")
        process.join(timeout=20)


def text_for(kind: str, n: int, now: datetime) -> str:
    if kind == "status":
        return "status"
    if kind == "keep":
        return f"keep ci-user-{n} on for 2 hours"
    week = (now + timedelta(days=7)).strftime("%b %d")
    return f"keep ci-user-{n} on until {week} 18:00 because training"


class Driver:
    def __init__(
        self, connector: ConnectorStandIn, endpoint: str, workspace_of: Any, warnings: Any, tag: str
    ) -> None:
        self.connector, self.endpoint, self.tag = connector, endpoint, tag
        self.workspace_of, self.warnings = workspace_of, warnings

    def conversation(self, n: int | str) -> str:
        return f"a:bench-{self.tag}-{n}"

    def activity(self, n: int, kind: str, echo: bool, aad: str | None = None) -> dict[str, Any]:
        aad = aad or user_id(n)
        base: dict[str, Any] = {
            "id": f"bench-{n}",
            "channelId": "msteams",
            "serviceUrl": self.connector.url,
            "timestamp": datetime.now(UTC).isoformat(),
            "localTimezone": "Europe/Berlin",
            "from": {"id": f"29:{aad}", "name": f"User {n}", "aadObjectId": aad},
            "recipient": {"id": "28:bot", "name": "Curfew"},
            "conversation": {
                "id": self.conversation(n),
                "conversationType": "personal",
                "tenantId": DEMO_TENANT,
            },
            "channelData": {"tenant": {"id": DEMO_TENANT}},
        }
        if kind != "click" or echo:
            return {
                **base,
                "type": "message",
                "text": "hello" if echo else text_for(kind, n, datetime.now(UTC)),
            }
        data = {
            "curfew": True,
            "verb": "warning",
            "choice": "keep_1h",
            "instance": f"ci-user-{n}",
            "workspace": self.workspace_of(n),
            "warning": self.warnings.get(n),
        }
        value = {"action": {"type": "Action.Execute", "verb": "warning", "data": data}, "trigger": "manual"}
        return {
            **base,
            "type": "invoke",
            "name": "adaptiveCard/action",
            "value": value,
            "replyToId": "1:card",
        }

    async def approver_hello(self) -> None:
        """The approver says `status` once, as an approver whom cards reach has: a keep that goes to
        the approvers then sends them its card (without it the card reaches nobody, and Curfew tells
        the requester so instead)."""
        activity = self.activity("approver", "status", False, aad=APPROVER)  # type: ignore[arg-type]
        async with aiohttp.ClientSession() as session, session.post(self.endpoint, json=activity) as response:
            assert response.status < 300, await response.text()

    def approver_cards(self) -> int:
        """Cards that reached the approver so far."""
        return sum(
            1 for m in self.connector.messages_for(self.conversation("approver")) if m.card is not None
        )

    async def turn(self, session: aiohttp.ClientSession, n: int, kind: str, echo: bool) -> float:
        activity = self.activity(n, kind, echo)
        seen = len(self.connector.messages_for(self.conversation(n)))
        start = time.monotonic()
        async with session.post(self.endpoint, json=activity) as response:
            body = await response.text()
            assert response.status < 300, body
        if activity["type"] == "invoke":
            assert '"value"' in body, f"no card in the answer to a click: {body[:200]}"
            assert "changed nothing" not in body and "never sent" not in body, body[:300]
            return time.monotonic() - start
        replies = self.connector.messages_for(self.conversation(n))
        assert len(replies) > seen, f"user {n} got no reply to {kind}"
        return replies[seen].at - start


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else 0.0


async def run_phase(
    driver: Driver,
    pid: int,
    plan: list[tuple[int, str]],
    mode: str,
    rate: float,
    echo: bool,
    arm: Any,
    settled: Callable[[], bool] = lambda: True,
) -> dict[str, Any]:
    """The turns of `plan`; CPU is read once `settled()` holds (the work that follows the turns,
    such as the approvers' cards, done), waiting at most SETTLE_SECONDS."""
    latencies: dict[str, list[float]] = {}
    if arm is not None:
        arm.reset()
    cpu = cpu_seconds(pid)
    started = time.monotonic()
    async with aiohttp.ClientSession() as session:
        if mode == "single":
            for n, kind in plan:
                latencies.setdefault(kind, []).append(await driver.turn(session, n, kind, echo))
        else:
            rng, tasks = random.Random(17), []

            async def one(n: int, kind: str) -> None:
                latencies.setdefault(kind, []).append(await driver.turn(session, n, kind, echo))

            for n, kind in plan:
                tasks.append(asyncio.create_task(one(n, kind)))
                await asyncio.sleep(rng.expovariate(rate))
            await asyncio.gather(*tasks)
    wall = time.monotonic() - started
    waited = time.monotonic()
    while not settled() and time.monotonic() - waited < SETTLE_SECONDS:
        await asyncio.sleep(0.05)
    assert settled(), f"the work that follows the turns was not done within {SETTLE_SECONDS} s"
    turns = sum(len(v) for v in latencies.values())
    figures: dict[str, Any] = {
        "wall": wall,
        "turns": turns,
        "cpu_ms": (cpu_seconds(pid) - cpu) / turns * 1000,
        "rss": rss_mb(pid),
        "kinds": {k: (percentile(v, 50) * 1000, percentile(v, 99) * 1000) for k, v in latencies.items()},
        "all": [x for v in latencies.values() for x in v],
    }
    if arm is not None:
        counts = arm.counts()
        figures["reads_per_turn"] = counts["reads"] / turns
        figures["reads"] = counts["reads_by_kind"]
        figures["429s"] = counts["429s"]
    return figures


def show(name: str, f: dict[str, Any]) -> None:
    kinds = "  ".join(f"{k} p50 {p50:.1f} p99 {p99:.1f} ms" for k, (p50, p99) in f["kinds"].items())
    extra = ""
    if "reads_per_turn" in f:
        extra = f"  ARM reads/turn {f['reads_per_turn']:.2f} {f['reads']} 429s={f['429s']}"
    if f.get("approver_cards"):
        extra += f"  cards to the approver {f['approver_cards']}"
    print(
        f"{name:22} turns={f['turns']:4d}  CPU/turn {f['cpu_ms']:6.2f} ms  all p50 "
        f"{percentile(f['all'], 50) * 1000:7.1f} p99 {percentile(f['all'], 99) * 1000:7.1f} ms  "
        f"RSS {f['rss']:.0f} MB  [{kinds}]{extra}"
    )


def azure_seed(workspaces: int, per_workspace: int, users: int) -> dict[str, Any]:
    started = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    entries = []
    for w in range(workspaces):
        mine = [n for n in range(users) if n % workspaces == w][:per_workspace]
        instances = [
            {
                "name": f"ci-user-{n}",
                "owner_object_id": user_id(n),
                "owner_tenant_id": DEMO_TENANT,
                "last_started_at": started,
            }
            for n in mine
        ]
        others = {
            "count": per_workspace - len(mine),
            "prefix": f"ci-other-{w:02d}-",
            "state": "Running",
            "owner_object_id": "00000000-0000-0000-0000-0000000000ee",
            "owner_tenant_id": DEMO_TENANT,
            "last_started_at": started,
        }
        entries.append(
            {
                "subscription": subscription(w % 10),
                "resource_group": "rg-ml",
                "workspace": f"ml-ws-{w:02d}",
                "instances": instances,
                "generate_instances": others,
            }
        )
    return {"workspaces": entries}


def azure_settings(tmp: str, workspaces: int, arm: ArmProcess) -> dict[str, Any]:
    return {
        "timezone": "Europe/Berlin",
        "database_url": f"sqlite:///{Path(tmp)}/c.db",
        "azure": {"resource_manager_url": arm.url},
        "teams": {"tenant_id": DEMO_TENANT},
        "workspaces": [
            {
                "alias": f"ws-{w:02d}",
                "subscription_id": subscription(w % 10),
                "resource_group": "rg-ml",
                "workspace": f"ml-ws-{w:02d}",
                "approvers": [APPROVER],
            }
            for w in range(workspaces)
        ],
    }


async def main(args: argparse.Namespace) -> None:
    kinds = args.kinds.split(",")
    count = args.turns * len(kinds) if args.mode == "single" else round(args.rate * args.seconds)
    plan = [(n, kinds[n % len(kinds)]) for n in range(count)]
    users = 2 * count if args.during_sweep else count
    with tempfile.TemporaryDirectory() as tmp, contextmanager_arm(args, tmp) as arm:
        if arm is not None:
            workspaces, per_workspace = (int(x) for x in args.azure.lower().split("x"))
            arm.seed(azure_seed(workspaces, per_workspace, users + 5))
            settings = azure_settings(tmp, workspaces, arm)
            env = {**arm.env, "REQUESTS_CA_BUNDLE": arm.ca_path}
            label = f"Azure ML {workspaces}x{per_workspace} ({workspaces * per_workspace} instances)"
        else:
            workspaces, env = 1, {}
            settings = {"timezone": "Europe/Berlin", "database_url": f"sqlite:///{Path(tmp)}/c.db"}
            label = f"simulated fleet of {max(args.fleet, users + 5)}"
        Settings.model_validate(settings)  # a mistake in the benchmark's settings fails here
        alias = (lambda n: f"ws-{n % workspaces:02d}") if arm is not None else (lambda n: "demo")

        async with ConnectorStandIn() as connector:
            with bot({"bot": "echo"}) as (endpoint, pid, _):
                driver = Driver(connector, endpoint, alias, {}, "echo")
                await run_phase(driver, pid, [(n, "status") for n in range(count)], "single", 1, True, None)
                echo = await run_phase(driver, pid, plan, args.mode, args.rate, True, None)
            owners = [user_id(n) for n in range(users + 5)]
            spec = {
                "bot": "curfew",
                "settings": settings,
                "env": env,
                "simulated": arm is None,
                "owners": owners,
                "aliases": [alias(n) for n in range(users + 5)],
                "fleet": args.fleet,
                "tenant": DEMO_TENANT,
                "profile": args.profile,
            }
            with bot(spec) as (endpoint, pid, control):
                driver = Driver(connector, endpoint, alias, spec["warnings"], "curfew")
                # every user has talked to Curfew before (as everyone a warning card reached has):
                # a first turn's one-time work (imports, first clients, the stored reference) is not
                # in the figures
                await run_phase(driver, pid, [(n, "status") for n in range(users)], "single", 1, False, None)
                await driver.approver_hello()
                cards = driver.approver_cards()
                approvals = sum(1 for _, kind in plan if kind == "approval")
                delivered = lambda: driver.approver_cards() - cards >= approvals  # noqa: E731
                ours = await run_phase(driver, pid, plan, args.mode, args.rate, False, arm, delivered)
                ours["approver_cards"] = driver.approver_cards() - cards
                if args.during_sweep:  # the same again while a forced curfew runs in the server
                    control.send("sweep")
                    await asyncio.sleep(args.during_sweep)  # into its stops
                    again = [(n + count, kind) for n, kind in plan]
                    during = await run_phase(driver, pid, again, args.mode, args.rate, False, arm)
    rate = f" rate={args.rate:g}/s for {args.seconds:g} s" if args.mode == "open" else ""
    print(f"mode={args.mode}{rate}  {label}  kinds={','.join(kinds)}  turns={count}")
    show("echo bot (baseline)", echo)
    show("curfew", ours)
    p99 = percentile(ours["all"], 99) / max(percentile(echo["all"], 99), 1e-9)
    print(f"ratio curfew/echo: CPU per turn {ours['cpu_ms'] / echo['cpu_ms']:.2f}x  p99 {p99:.2f}x")
    if args.during_sweep:
        show("curfew during a sweep", during)
        slower = percentile(during["all"], 99) / max(percentile(ours["all"], 99), 1e-9)
        print(f"ratio during the sweep / idle: p99 {slower:.2f}x")


@contextmanager
def contextmanager_arm(args: argparse.Namespace, tmp: str) -> Iterator[ArmProcess | None]:
    if not args.azure:
        yield None
        return
    with ArmProcess(Path(tmp) / "arm", op_seconds=2.0, limits=Limits(reads=(250, 25.0))) as arm:
        yield arm


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--profile", default="", help="write a cProfile (thread CPU time, all threads) of the Curfew server"
    )
    parser.add_argument("--mode", choices=("single", "open"), default="single")
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--turns", type=int, default=25, help="single: turns of each kind")
    parser.add_argument("--rate", type=float, default=10.0, help="open: arrivals a second")
    parser.add_argument("--seconds", type=float, default=20.0, help="open: how long arrivals come")
    parser.add_argument("--fleet", type=int, default=100, help="simulated fleet size")
    parser.add_argument("--azure", default="", help="WORKSPACESxINSTANCES: the Azure ML fleet instead")
    parser.add_argument(
        "--during-sweep",
        type=float,
        default=0.0,
        help="also measure while a forced curfew runs in the server, starting this many seconds in",
    )
    asyncio.run(main(parser.parse_args()))
