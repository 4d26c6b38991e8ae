"""Chat benchmark: 50 concurrent users talking to Curfew through /api/messages.

Each user sends `status` and `keep ... until Friday` in turn (ROUNDS times each), as Teams activity
JSON posted to the real endpoint; the bot's replies go to a local connector stand-in. Latency is from
the POST to the reply arriving at the connector. In the same run, a minimal botbuilder echo bot on the
same CloudAdapter and connector is the baseline.

    .venv/bin/python -m bench.chat [--users 50] [--rounds 4]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from aiohttp import web

import bot.adapter  # noqa: F401  # the same botbuilder set-up for the baseline as for Curfew
from app import WORKER_THREADS, create_app
from compute.simulated import DEMO_TENANT
from config.settings import Settings
from runtime import RUNTIME
from storage.models import SimInstanceRow
from tests.connector_standin import ConnectorStandIn
from tests.echo_bot import create_app as create_echo_app


def user_id(n: int) -> str:
    return f"00000000-0000-0000-0000-1000000{n:05d}"


def activity(service_url: str, n: int, text: str, seq: int) -> dict[str, object]:
    aad = user_id(n)
    return {
        "type": "message",
        "id": f"bench-{n}-{seq}",
        "channelId": "msteams",
        "serviceUrl": service_url,
        "timestamp": datetime.now(UTC).isoformat(),
        "localTimezone": "Europe/Berlin",
        "from": {"id": f"29:{aad}", "name": f"User {n}", "aadObjectId": aad},
        "recipient": {"id": "28:bot", "name": "Curfew"},
        "conversation": {"id": f"a:bench-{n}", "conversationType": "personal", "tenantId": DEMO_TENANT},
        "channelData": {"tenant": {"id": DEMO_TENANT}},
        "text": text,
    }


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}/api/messages"
    finally:
        await runner.cleanup()


def seed_users(app: web.Application, users: int) -> None:
    store = app[RUNTIME].store
    with store.sessions.begin() as session:
        for n in range(users):
            session.add(
                SimInstanceRow(
                    workspace="demo",
                    name=f"ci-user-{n}",
                    size="Standard_DS3_v2",
                    state="Running",
                    owner_object_id=user_id(n),
                    owner_tenant_id=DEMO_TENANT,
                    last_started_at=datetime.now(UTC) - timedelta(hours=2),
                    tags={},
                )
            )


async def drive(
    endpoint: str, connector: ConnectorStandIn, users: int, rounds: int, texts: list[str]
) -> tuple[list[float], float]:
    """Every user sends `rounds` messages one after another, all users at once; latencies and wall time."""
    latencies: list[float] = []

    async def one_user(session: aiohttp.ClientSession, n: int) -> None:
        for seq in range(rounds):
            text = texts[seq % len(texts)].format(n=n)
            conversation = f"/v3/conversations/a:bench-{n}/"
            seen = sum(1 for r in connector.sent() if r.path.startswith(conversation))
            start = time.monotonic()
            async with session.post(endpoint, json=activity(connector.url, n, text, seq)) as response:
                assert response.status < 300, await response.text()
            replies = [r for r in connector.sent() if r.path.startswith(conversation)]
            assert len(replies) > seen, f"user {n} got no reply to {text!r}"
            latencies.append(replies[seen].at - start)

    started = time.monotonic()
    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(one_user(session, n) for n in range(users)))
    return latencies, time.monotonic() - started


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def report(name: str, latencies: list[float], wall: float) -> dict[str, float]:
    figures = {
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "throughput": len(latencies) / wall,
        "messages": len(latencies),
        "wall_s": wall,
    }
    print(
        f"{name:10} messages={len(latencies):4d}  p50={figures['p50_ms']:7.1f} ms  p99={figures['p99_ms']:7.1f} ms"
        f"  mean={statistics.mean(latencies) * 1000:7.1f} ms  throughput={figures['throughput']:6.1f} msg/s"
        f"  wall={wall:5.2f} s"
    )
    return figures


async def main(users: int, rounds: int) -> None:
    # as `python app.py` does: enough threads for botbuilder's HTTP calls and the database
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=WORKER_THREADS))
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.model_validate(
            {"timezone": "Europe/Berlin", "database_url": f"sqlite:///{Path(tmp)}/b.db"}
        )
        async with ConnectorStandIn() as connector:
            echo_app = create_echo_app()
            async with serve(echo_app) as echo:
                await drive(echo, connector, 5, 1, ["warm up"])
                base = report("echo", *await drive(echo, connector, users, rounds, ["hello {n}"]))
            app = create_app(settings, scheduler=False)
            async with serve(app) as curfew:
                seed_users(app, users)
                await drive(curfew, connector, 5, 1, ["status"])  # warm up (dateparser, SQLAlchemy)
                texts = ["status", "keep ci-user-{n} on until Friday because training"]
                ours = report("curfew", *await drive(curfew, connector, users, rounds, texts))
    print(
        f"ratio curfew/echo: p50 {ours['p50_ms'] / base['p50_ms']:.1f}x, p99 {ours['p99_ms'] / base['p99_ms']:.1f}x,"
        f" throughput {ours['throughput'] / base['throughput']:.2f}x"
    )
    print(f"users={users} rounds={rounds} (each Curfew user alternates status and keep ... until Friday)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    asyncio.run(main(args.users, args.rounds))
