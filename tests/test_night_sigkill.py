"""Promises kept across SIGKILL, with `python app.py serve` as a real process (the demo fleet, the
connector stand-in as Teams): the process is killed right after it acknowledged `stop cpu-ci`, or right
after an approver's click was answered; a second process on the same database tells the person, and
creates the instance, each exactly once. On the code before the outbox these promises were tasks in
the killed process's memory: the person was never told that cpu-ci stopped, nor that the request was
approved."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.cards.requests import APPROVE, SUBMIT
from storage.repositories import Store
from tests.bot_harness import ALEX, DANA, TENANT, TeamsActivities
from tests.connector_standin import ConnectorStandIn
from tests.test_requests import END

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Curfew:
    """`python app.py serve` processes, one at a time, on one database."""

    tmp_path: Path
    port: int
    connector: ConnectorStandIn
    db_url: str
    process: asyncio.subprocess.Process | None = None

    def config(self) -> Path:
        path = self.tmp_path / "curfew.yaml"
        path.write_text(
            f"""
timezone: UTC
teams: {{tenant_id: "{TENANT}", service_url: "{self.connector.url}"}}
curfew: {{catch_up_minutes: 1}}
outbox: {{lease_seconds: 2, idle_seconds: 0.2, backoff_seconds: 0.5}}
"""
        )
        return path

    async def start(self) -> None:
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(self.tmp_path),
            "CURFEW_CONFIG": str(self.config()),
            "DATABASE_URL": self.db_url,
            "PORT": str(self.port),
            "LOG_LEVEL": "INFO",
            "NO_PROXY": "127.0.0.1,localhost",
        }
        log = (self.tmp_path / f"serve-{self.port}.log").open("ab")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(ROOT / "app.py"),
            "serve",
            env=env,
            cwd=str(self.tmp_path),
            stdout=log,
            stderr=log,
        )
        async with aiohttp.ClientSession() as session:
            for _ in range(600):
                try:
                    async with session.get(f"{self.url}/healthz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                assert self.process.returncode is None, self.log()
                await asyncio.sleep(0.1)
        raise AssertionError(f"Curfew did not start:\n{self.log()}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.tmp_path.glob("serve-*.log"))

    async def post(self, activity: dict[str, Any]) -> tuple[int, Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{self.url}/api/messages", json=activity) as response,
        ):
            body = await response.text()
            return response.status, json.loads(body) if body else None

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 20)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


@pytest.fixture
async def curfew(tmp_path: Path, unused_tcp_port: int) -> AsyncIterator[Curfew]:
    async with ConnectorStandIn() as connector:
        service = Curfew(tmp_path, unused_tcp_port, connector, f"sqlite:///{tmp_path / 'curfew.db'}")
        try:
            yield service
        finally:
            await service.stop()


def texts_to(connector: ConnectorStandIn, user: Any) -> list[str]:
    return [m.text for m in connector.messages_for(user.chat_id) if m.text]


def cards_to(connector: ConnectorStandIn, user: Any) -> list[dict[str, Any]]:
    return [m.card for m in connector.messages_for(user.chat_id) if m.card]


async def until(condition: Callable[[], bool], what: str, curfew: Curfew, timeout: float = 90) -> None:
    for _ in range(int(timeout / 0.1)):
        if condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not in {timeout} s: {what}\n{curfew.log()[-4000:]}")


def outbox_done(db_url: str) -> bool:
    store = Store.open(db_url, migrate=False)
    try:
        return all(r.done_at is not None for r in store.outbox.rows())
    finally:
        store.close()


def audit_of(db_url: str, action: str) -> list[str]:
    from datetime import UTC, datetime

    store = Store.open(db_url, migrate=False)
    try:
        return [e.outcome for e in store.audit.since(datetime(2000, 1, 1, tzinfo=UTC)) if e.action == action]
    finally:
        store.close()


async def test_killed_after_acknowledging_a_stop_the_next_process_tells_the_person_once(
    curfew: Curfew,
) -> None:
    teams = TeamsActivities(curfew.connector.url)
    await curfew.start()
    await curfew.post(teams.installation_update(DANA))
    status, _ = await curfew.post(teams.message("stop cpu-ci", DANA))
    assert status == 201
    await curfew.kill()  # right after the acknowledgement reached Teams
    assert any(t.startswith("Stopping cpu-ci (demo).") for t in texts_to(curfew.connector, DANA))
    assert not any("stopped now" in t for t in texts_to(curfew.connector, DANA))
    await curfew.start()  # a restart on the same database
    told = "cpu-ci is stopped now."
    await until(lambda: told in texts_to(curfew.connector, DANA), "the person told", curfew)
    await until(lambda: outbox_done(curfew.db_url), "the outbox drained", curfew)
    texts = texts_to(curfew.connector, DANA)
    assert texts.count(told) == 1, texts
    assert not any("already" in t or "could not" in t for t in texts), texts
    assert audit_of(curfew.db_url, "chat stop") == ["requested", "stopped"]


async def test_killed_after_an_approval_the_next_process_creates_and_tells_once(curfew: Curfew) -> None:
    teams = TeamsActivities(curfew.connector.url)
    await curfew.start()
    for user in (DANA, ALEX):
        await curfew.post(teams.installation_update(user))
    form = {"workspace": "demo", "name": "dana-new", "size": "Standard_NC6s_v3", "purpose": "tuning", **END}
    status, _ = await curfew.post(teams.card_action(SUBMIT, form, DANA))
    assert status == 200

    def approval_card() -> dict[str, Any] | None:
        found = [
            c for c in cards_to(curfew.connector, ALEX) if "asks for a compute instance" in json.dumps(c)
        ]
        return found[0] if found else None

    await until(lambda: approval_card() is not None, "the approval card", curfew)
    card = approval_card()
    assert card is not None
    request_id = next(a["data"]["request"] for a in card["actions"] if a.get("verb") == APPROVE)
    status, body = await curfew.post(teams.card_action(APPROVE, {"request": request_id}, ALEX))
    assert status == 200 and "Approved" in json.dumps(body)
    await curfew.kill()  # right after the approver's card was answered
    await curfew.start()
    approved = f"approved your request #{request_id}"
    ready = "dana-new is ready in demo."
    for text in (approved, ready):
        await until(lambda t=text: any(t in m for m in texts_to(curfew.connector, DANA)), text, curfew)
    await until(lambda: outbox_done(curfew.db_url), "the outbox drained", curfew)
    texts = texts_to(curfew.connector, DANA)
    assert len([t for t in texts if approved in t]) == 1, texts
    assert len([t for t in texts if ready in t]) == 1, texts
    assert audit_of(curfew.db_url, "request create") == ["creating", "ready"]
