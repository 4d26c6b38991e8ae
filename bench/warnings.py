"""Warning benchmark: the pre-curfew warning to 1,000 owners through a local Teams connector that
enforces a per-tenant rate with 429 answers (Teams allows 50 requests a second per tenant; the rate is
scaled here to keep the run short, and printed).

Each owner has no stored conversation, so each warning is two connector requests (create the 1:1 chat,
send the card). The floor is requests / rate. Curfew paces itself with a client-side budget at the
same rate and obeys Retry-After; the figures are wall time, the ratio to the floor, 429s received and
cards lost.

    .venv/bin/python -m bench.warnings [--owners 1000] [--rate 100] [--burst 50]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import bot.adapter  # noqa: F401  # botbuilder set-up as in the service
from app import WORKER_THREADS
from bot.adapter.messenger import TeamsMessenger
from bot.flows.notifier import TeamsNotifier
from compute.simulated import DEMO_TENANT, SimulatedFleet, demo_workspace
from config.settings import Settings
from runtime import Runtime
from scheduler.warnings import Warner
from storage.models import SimInstanceRow
from storage.repositories import Store
from tests.connector_standin import ConnectorStandIn
from wiring import teams_side

WARN_AT = datetime(2026, 11, 30, 22, 30, tzinfo=UTC)  # Mon 23:30 Europe/Berlin, 30 min before the curfew


def owner(n: int) -> str:
    return f"00000000-0000-0000-0000-2000000{n:05d}"


def seed(store: Store, owners: int) -> None:
    with store.sessions.begin() as session:
        for n in range(owners):
            session.add(
                SimInstanceRow(
                    workspace="demo",
                    name=f"ci-{n}",
                    size="Standard_NC6s_v3",
                    state="Running",
                    owner_object_id=owner(n),
                    owner_tenant_id=DEMO_TENANT,
                    last_started_at=WARN_AT - timedelta(hours=5),
                    tags={},
                )
            )


async def main(owners: int, rate: float, burst: int) -> None:
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=WORKER_THREADS))
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        async with ConnectorStandIn() as connector:
            settings = Settings.model_validate(
                {
                    "timezone": "Europe/Berlin",
                    "database_url": f"sqlite:///{Path(tmp)}/w.db",
                    "teams": {"tenant_id": DEMO_TENANT, "service_url": connector.url},
                }
            )
            store = Store.open(settings.database_url)
            seed(store, owners)
            fleet = SimulatedFleet(store, demo_workspace("Europe/Berlin"), clock=lambda: WARN_AT)
            rt = Runtime(settings, store, fleet, lambda: WARN_AT)
            messenger = TeamsMessenger(teams_side(rt).adapter, store, settings, tenant_limit=(rate, burst))
            connector.limit_tenant(rate, burst)
            warner = Warner(rt, TeamsNotifier(settings, messenger, rt.clock))
            started = time.monotonic()
            report = await warner.warn(now=WARN_AT)
            wall = time.monotonic() - started
            store.close()
        cards = sum(1 for r in connector.sent() if r.card is not None)
        requests = len([r for r in connector.sent() if r.status < 300]) + len(connector.created())
    floor = max(0.0, (2 * owners - burst) / rate)
    delivered = sum(1 for d in report.deliveries if d.delivery.value == "sent")
    print(
        f"owners={owners} tenant rate={rate:g}/s burst={burst} (Teams: 50/s; scaled) "
        f"requests needed={2 * owners}"
    )
    print(f"floor=(requests - burst) / rate = {floor:.2f} s")
    print(
        f"curfew warnings: wall={wall:.2f} s  ratio to floor={wall / floor:.3f}  "
        f"429s received={connector.throttled}  cards delivered={cards}  owners told={delivered}  "
        f"cards lost={owners - cards}  connector requests seen={requests}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--owners", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--burst", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(main(args.owners, args.rate, args.burst))
