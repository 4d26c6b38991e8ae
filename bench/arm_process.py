"""The ARM stand-in in a child process, so a benchmark's CPU figures are Curfew's own.

In the benchmark's process the stand-in's TLS, JSON and specification checks would be counted as
Curfew's CPU. Here it runs in its own process (multiprocessing, spawn) and is driven through a pipe:
seed it, reset its counters, read them (with reads split by kind of request), stop it.

It checks the first `SPEC_CHECKS` answers of each definition against the REST specification, not every
one as in the tests: checking every listing page cost the stand-in about 60% of its CPU (26% of all the
samples of a 10,000-instance sweep, py-spy), a core that ARM does not take from Curfew, on a machine of two.
Its answers are built by the same code either way, and the tests check every one of them.

    with ArmProcess(workdir, op_seconds=2, limits=Limits(...)) as arm:
        arm.seed(document)            # the seed JSON of tests/arm_standin.py
        os.environ.update(arm.env)    # the managed-identity endpoint
        ...                           # MLClient at arm.url, trusting arm.ca_path
        arm.counts()                  # {"reads": ..., "writes": ..., "429s": ..., "reads_by_kind": {...}}
"""

from __future__ import annotations

import asyncio
import multiprocessing
import re
from collections import Counter
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from tests.arm_faults import Limits

SPEC_CHECKS = 20
"""Answers of each definition (a listing page, a compute, an error...) checked against the specification."""

_KINDS = (
    ("list computes", re.compile(r"/computes$")),
    ("get compute", re.compile(r"/computes/[^/]+$")),
    ("jobs", re.compile(r"/jobs$")),
    ("workspace", re.compile(r"/workspaces/[^/]+$")),
    ("vm sizes", re.compile(r"/vmSizes$")),
    ("operation status", re.compile(r"/computeOperationsStatus/")),
)


def read_kind(path: str) -> str:
    return next((name for name, pattern in _KINDS if pattern.search(path)), "other")


def _counts(arm: Any, since: int) -> dict[str, Any]:
    kinds = Counter(read_kind(r.path) for r in arm.requests[since:] if r.method == "GET" and r.status < 400)
    c = arm.counters
    writes: dict[str, list[float]] = {}
    for r in arm.requests[since:]:
        if r.method == "POST" and r.status == 202:
            writes.setdefault(r.path.split("/")[2], []).append(r.at)
    start = min((min(times) for times in writes.values()), default=0.0)
    throttled = Counter(
        int((r.at - start) // 5) * 5 for r in arm.requests[since:] if r.method == "POST" and r.status == 429
    )
    spans = {sub[-4:]: (min(t) - start, max(t) - start) for sub, t in sorted(writes.items())}
    return {
        "reads": c.reads,
        "writes": c.writes,
        "429s": c.throttled,
        "reads_by_kind": dict(kinds),
        "write_spans": spans,
        "429s_by_5s": dict(sorted(throttled.items())),
    }


async def _serve(conn: Connection, workdir: str, op_seconds: float, limits: Limits) -> None:
    from tests.arm_standin import ArmStandIn

    async with ArmStandIn(
        Path(workdir), op_seconds=op_seconds, limits=limits, spec_checks=SPEC_CHECKS
    ) as arm:
        conn.send({"url": arm.url, "ca": str(arm.ca_path), "env": arm.env})
        loop, since = asyncio.get_running_loop(), 0
        while True:
            command, argument = await loop.run_in_executor(None, conn.recv)
            if command == "seed":
                arm.seed(argument)
                conn.send(None)
            elif command == "reset":
                c = arm.counters
                c.reads = c.writes = c.deletes = c.throttled = 0
                since = len(arm.requests)
                conn.send(None)
            elif command == "counts":
                conn.send(_counts(arm, since))
            elif command == "states":
                conn.send(Counter(r.state for r in arm.instances))
            else:
                conn.send(None)
                return


def _child(conn: Connection, workdir: str, op_seconds: float, limits: Limits) -> None:
    asyncio.run(_serve(conn, workdir, op_seconds, limits))


class ArmProcess:
    def __init__(self, workdir: Path, *, op_seconds: float, limits: Limits) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_child, args=(child, str(workdir), op_seconds, limits), daemon=True
        )
        self.url = self.ca_path = ""
        self.env: dict[str, str] = {}

    def __enter__(self) -> ArmProcess:
        self._process.start()
        hello = self._conn.recv()
        self.url, self.ca_path, self.env = hello["url"], hello["ca"], hello["env"]
        return self

    def __exit__(self, *exc: object) -> None:
        self._ask("stop")
        self._process.join(timeout=10)

    def _ask(self, command: str, argument: Any = None) -> Any:
        self._conn.send((command, argument))
        return self._conn.recv()

    def seed(self, document: dict[str, Any]) -> None:
        self._ask("seed", document)

    def reset(self) -> None:
        self._ask("reset")

    def counts(self) -> dict[str, Any]:
        return dict(self._ask("counts"))

    def states(self) -> dict[str, int]:
        return dict(self._ask("states"))
