"""Outbox benchmark: replicas (one engine and one running worker each) draining N rows of one outbox,
on SQLite or PostgreSQL. The handler does nothing but record the row, so the figure is the outbox's
own cost: claiming, marking done, and the waits between claims. It also checks each row was done once.

    .venv/bin/python -m bench.outbox [--rows 2000] [--replicas 2] [--url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections import Counter
from pathlib import Path

from bot.flows.worker import OutboxWorker
from config.settings import OutboxSettings
from storage.outbox import OutboxItem, Tx
from storage.repositories import Store


async def run(url: str, rows: int, replicas: int) -> None:
    stores = [Store.open(url)] + [Store.open(url, migrate=False) for _ in range(replicas - 1)]
    done: list[tuple[int, int]] = []

    def handler(replica: int):  # type: ignore[no-untyped-def]
        async def record(item: OutboxItem) -> None:
            done.append((replica, item.id))

        return record

    def fill(tx: Tx) -> None:
        for n in range(rows):
            tx.enqueue("bench", {"n": n})

    await stores[0].atomically(fill)
    settings = OutboxSettings(idle_seconds=0.05)
    workers = [OutboxWorker(s, {"bench": handler(i)}, f"bench-{i}", settings) for i, s in enumerate(stores)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    while len(done) < rows:
        await asyncio.sleep(0.01)
    wall = time.perf_counter() - started
    for worker in workers:
        await worker.close()
    counts = Counter(row for _, row in done)
    by_replica = Counter(replica for replica, _ in done)
    print(f"{url.split(':')[0]}: {rows} rows, {replicas} replicas: {wall:.2f} s, {rows / wall:.0f} rows/s")
    print(
        f"  done more than once: {sum(1 for c in counts.values() if c > 1)}; per replica: {dict(by_replica)}"
    )
    for store in stores:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--url", default=None, help="a database URL (default: a new SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        asyncio.run(run(url, args.rows, args.replicas))


if __name__ == "__main__":
    main()
