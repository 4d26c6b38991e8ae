"""A database error at each write step of keep, release, stop, request, approve and reject (of an
instance and of a long keep-on), on SQLite and PostgreSQL: afterwards state and audit agree (nothing
of the step was written: no keep-on without its audit row, no approval without its follow-ups), the
person's answer says so truthfully, and the same step tried again succeeds (a second click is not
told "already approved").

The fault is injected where it happens: the database driver refuses the n-th INSERT or UPDATE on
Curfew's state tables (keep_on, audit_event, compute_request, outbox, morning_start), for every n the
step performs. On the code before the outbox each step was several transactions (the state move, then
the audit row, then in-memory follow-ups) and the fault escaped the turn, so the person read only an
apology whatever had already been committed."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError

from bot.flows.failures import NOT_SAVED
from storage.repositories import Store
from tests.conftest import FakeClock
from tests.test_requests import ALEX, DANA, END, Env, action, click, make_env, say

STATE_TABLES = ("keep_on", "audit_event", "compute_request", "outbox", "morning_start")
_WRITE = re.compile(r"^\s*(INSERT\s+INTO|UPDATE)\s+\"?(\w+)", re.IGNORECASE)


class WriteFaults:
    """Counts the writes to the state tables; fails the `fail_at`-th one after `arm`."""

    def __init__(self, store: Store) -> None:
        self.writes: list[str] = []
        self.fail_at: int | None = None
        event.listen(store.engine, "before_cursor_execute", self._before)

    def arm(self, fail_at: int | None) -> None:
        self.writes, self.fail_at = [], fail_at

    def _before(self, conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        found = _WRITE.match(statement)
        if found is None or found.group(2).lower() not in STATE_TABLES:
            return
        self.writes.append(f"{found.group(1).split()[0].upper()} {found.group(2).lower()}")
        if self.fail_at is not None and len(self.writes) == self.fail_at:
            self.fail_at = None
            raise OperationalError(statement, params, Exception("injected: server closed the connection"))


def snapshot(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    with store.engine.connect() as connection:
        return {
            t: [tuple(r) for r in connection.execute(text(f"SELECT * FROM {t} ORDER BY 1, 2"))]
            for t in STATE_TABLES
        }


def said(answer: Any) -> str:
    if isinstance(answer, list):
        return " ".join(r.text or json.dumps(r.card) for r in answer)
    return json.dumps(answer, ensure_ascii=False)


Step = Callable[[Env], Awaitable[Any]]


@dataclass(frozen=True)
class Case:
    name: str
    setup: Step | None
    step: Step
    success: str
    """A pattern of the answer when the step succeeds (PostgreSQL spends ids on rolled-back rows)."""


async def _keep(env: Env) -> None:
    await say(env.chat, "keep gpu-ci for 3 hours because eval")


async def _request(env: Env) -> None:
    await env.request()


async def _long_keep(env: Env) -> None:
    await say(env.chat, "keep gpu-ci until Friday because training")


async def _send_form(env: Env) -> Any:
    form = (await say(env.chat, "I need a GPU"))[0].card
    assert form is not None
    inputs = {"workspace": "demo", "name": "dana-gpu", "size": "Standard_NC6s_v3", "purpose": "tuning", **END}
    return await click(env.chat, action(dict(form), "Send request"), DANA, **inputs)


def _decide(title: str) -> Step:
    async def decide(env: Env) -> Any:
        return await click(env.chat, action(env.inbox.cards_for(ALEX)[0], title), ALEX, comment="ok")

    return decide


CASES = [
    Case("keep", None, lambda env: say(env.chat, "keep gpu-ci for 3 hours because eval"), "Kept gpu-ci"),
    Case("long keep", None, lambda env: say(env.chat, "keep gpu-ci until Friday"), "needs an approver"),
    Case("release", _keep, lambda env: say(env.chat, "release gpu-ci"), "Released gpu-ci"),
    Case("stop", None, lambda env: say(env.chat, "stop cpu-ci"), "Stopping cpu-ci"),
    Case("request", None, _send_form, r"Request #\d+ sent"),
    Case("approve", _request, _decide("Approve"), "Approved by Alex Approver"),
    Case("reject", _request, _decide("Reject"), "Rejected by Alex Approver"),
    Case("keep approval", _long_keep, _decide("Approve"), "Approved by Alex Approver"),
    Case("keep rejection", _long_keep, _decide("Reject"), "Rejected by Alex Approver"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_a_database_error_at_any_write_step_changes_nothing_and_says_so(
    case: Case, store: Store, clock: FakeClock
) -> None:
    env = make_env(store, clock)
    if case.setup is not None:
        await case.setup(env)
        await env.settle()
    faults = WriteFaults(store)
    before = snapshot(store)
    sent_before = len(env.inbox.sent)
    n = 0
    while True:  # fail write 1, then 2, ...: each time from the same, untouched state
        n += 1
        faults.arm(n)
        answer = said(await case.step(env))
        if faults.fail_at is not None:  # the step makes fewer than n writes: this run had no fault
            break
        failed = faults.writes[-1]
        assert NOT_SAVED.split(";")[0] in answer, f"write {n} ({failed}): {answer[:300]}"
        assert not re.search(case.success, answer)
        assert snapshot(store) == before, f"{case.name}: failing write {n} ({failed}) left a trace"
        await env.settle()
        assert len(env.inbox.sent) == sent_before, "a step that failed still sent something"
    assert n - 1 >= 2, f"{case.name} writes {faults.writes}: expected a state change and its audit row"
    assert re.search(case.success, answer), answer[:400]  # the same step, the database back: it works
    after = snapshot(store)
    assert len(after["audit_event"]) > len(before["audit_event"])
    assert any(after[t] != before[t] for t in STATE_TABLES if t != "audit_event")
