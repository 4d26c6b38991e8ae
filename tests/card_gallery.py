"""Curfew's main cards as a Teams user meets them, built by the real flows on the demo fleet (simulated
prices): the warning, the status card, the request form, the approval card and the weekly digest.

Used by the 360 px UI test (tests/test_card_renders.py) and by `scripts/render-cards`, which draws them
to docs/cards/.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.cards import requests as rc
from bot.flows.followups import FollowUps
from bot.flows.notifier import TeamsNotifier
from bot.turns import Inbound, InboundKind
from compute.prices import PriceBook
from scheduler.service import CurfewScheduler
from scheduler.warnings import Warner
from storage.repositories import Store
from tests.conftest import FakeClock
from tests.sweep_fixtures import DEMO_OWNER
from tests.test_report_digest import ADMIN, DIGEST, ZONE, a_week, admin_runtime
from wiring import build_bot

WARN_AT = datetime(2026, 11, 30, 22, 30, tzinfo=UTC)  # Mon 30 Nov 23:30 Europe/Berlin
MAIN = ("warning", "status", "request-form", "approval", "digest")


def _said(words: str) -> Inbound:
    return Inbound(
        InboundKind.MESSAGE, DEMO_OWNER, "Dana Scientist", "t", "c", text=words, local_timezone=ZONE
    )


async def main_cards() -> dict[str, dict[str, Any]]:
    """name -> card, for each of MAIN."""
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(f"sqlite:///{Path(tmp) / 'curfew.db'}")
        try:
            return await _cards(store)
        finally:
            store.close()


async def _cards(store: Store) -> dict[str, dict[str, Any]]:
    clock = FakeClock(WARN_AT)
    rt, spy, inbox = admin_runtime(store, clock)
    followups = FollowUps(rt.fleet, rt.store, rt.clock, lambda: inbox, poll_seconds=0.01)
    chat = build_bot(rt, lambda: inbox, followups=followups).conversation
    cards: dict[str, dict[str, Any]] = {}
    await Warner(rt, TeamsNotifier(rt.settings, inbox, rt.clock, PriceBook(rt.fleet))).warn()
    cards["warning"] = inbox.cards_for(DEMO_OWNER)[-1]
    [status] = await chat.on_message(_said("status"))
    cards["status"] = dict(status.card or {})
    [form] = await chat.on_message(_said("request a GPU instance"))
    cards["request-form"] = dict(form.card or {})
    view = rc.RequestView(
        7,
        "Dana Scientist",
        "demo",
        "dana-gpu2",
        "Standard_NC6s_v3",
        "fine-tune the ranking model on the new click logs",
        (("gpu-ci", "Standard_NC6s_v3", "Running"), ("cpu-ci", "Standard_DS3_v2", "Running")),
        "USD 3.06/h (simulated)",
        "USD 2,233.80 a month if left on around the clock (730 h) (simulated)",
    )
    cards["approval"] = rc.approval_card(view)
    await a_week(rt, spy)
    rt.clock.now = DIGEST + timedelta(seconds=5)  # type: ignore[attr-defined]
    await CurfewScheduler(rt, TeamsNotifier(rt.settings, inbox, rt.clock), owner="a").run("digest", ZONE)
    cards["digest"] = inbox.cards_for(ADMIN)[-1]
    return cards
