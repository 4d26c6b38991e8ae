"""Start times Azure does not say: Curfew's own last start from its audit trail, else "since before"
the first instant Curfew saw the instance running, else unknown. Through the SDK and the stand-in."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from bot.cards.costs import since_start_text
from bot.cards.warning import WarningView, warning_card
from domain.decide import Action, Decision
from domain.model import Instance, InstanceState
from domain.money import Money
from runtime import Runtime
from scheduler.snapshot import read_fleet
from storage.money_repo import Seen
from storage.repositories import AuditEvent, Store
from tests.arm_fixtures import RESEARCH, make_fleet, seed_instance, workspace_settings
from tests.arm_standin import ArmStandIn

ANNA = "00000000-0000-0000-0000-000000000020"
NOW = datetime(2026, 12, 3, 20, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")


def no_last_operation(body: dict) -> None:  # type: ignore[type-arg]
    body["properties"]["properties"].pop("lastOperation", None)


def resized_at(when: datetime):  # type: ignore[no-untyped-def]
    op = {
        "operationName": "Resize",
        "operationTime": when.isoformat().replace("+00:00", "Z"),
        "operationStatus": "Succeeded",
        "operationTrigger": "User",
    }
    return lambda body: body["properties"]["properties"].__setitem__("lastOperation", op)


async def test_start_time_from_curfew_s_own_audit_else_since_before_else_unknown(
    arm: ArmStandIn, azure_env: dict[str, str], sqlite_store: Store
) -> None:
    settings = workspace_settings(RESEARCH)
    rt = Runtime(settings, sqlite_store, make_fleet(arm, workspaces=[RESEARCH]))
    morning = NOW - timedelta(hours=12)
    for name in ("ci-audited", "ci-seen", "ci-stopped-since", "ci-resized", "ci-unknown"):
        shape = resized_at(morning + timedelta(hours=1)) if name == "ci-resized" else no_last_operation
        seed_instance(arm, RESEARCH, name, owner_object_id=ANNA, shape=shape)
    started = AuditEvent(morning, "curfew", "morning", "started", "morning start", "research", None)
    stopped = AuditEvent(morning + timedelta(hours=2), "curfew", "curfew", "stopped", "", "research", None)
    sqlite_store.audit.record(
        *(
            AuditEvent(**{**vars_of(started), "instance": n})
            for n in ("ci-audited", "ci-stopped-since", "ci-resized")
        ),
        AuditEvent(**{**vars_of(stopped), "instance": "ci-stopped-since"}),
    )
    seen_at = NOW - timedelta(hours=5)
    sqlite_store.money.observe(
        [Seen("research", "ci-seen", "Standard_DS3_v2", ANNA, True, None)], seen_at, complete=[]
    )
    try:
        snap = await read_fleet(rt, None, NOW)
    finally:
        await rt.fleet.close()

    got = {i.name: i for i in snap.instances}
    assert (got["ci-audited"].last_started_at, got["ci-audited"].started_before) == (morning, None)
    assert (got["ci-seen"].last_started_at, got["ci-seen"].started_before) == (None, seen_at)
    assert got["ci-stopped-since"].last_started_at is None  # Curfew stopped it after its start
    assert got["ci-resized"].last_started_at is None  # Azure did something to it after Curfew's start
    assert (got["ci-unknown"].last_started_at, got["ci-unknown"].started_before) == (None, None)
    price = Money(Decimal("1.00"), "USD")
    text = since_start_text(got["ci-seen"], price, NOW, BERLIN)
    assert text == "at least USD 5.00, running since before Thu 3 Dec 16:00 Europe/Berlin"
    assert since_start_text(got["ci-unknown"], price, NOW, BERLIN) == "unknown (start time unknown)"


def vars_of(event: AuditEvent) -> dict:  # type: ignore[type-arg]
    return {f: getattr(event, f) for f in AuditEvent.__dataclass_fields__}


def test_the_warning_card_says_since_before_rather_than_unknown() -> None:
    curfew = NOW + timedelta(hours=3)
    seen = Instance("research", "ci-seen", "Standard_DS3_v2", InstanceState.RUNNING, started_before=NOW)
    blank = Instance("research", "ci-blank", "Standard_DS3_v2", InstanceState.RUNNING)
    decisions = tuple(Decision(i, Action.WARN, "stops at 00:00", curfew) for i in (seen, blank))
    shown = json.dumps(
        warning_card(WarningView(curfew, BERLIN, decisions, NOW + timedelta(hours=2), warning_id="w"))
    )
    assert "on since before Thu 3 Dec 21:00 Europe/Berlin" in shown
    assert "on (since unknown)" in shown  # no bound known: still said so
