"""A self-made instance on Azure (no assigned user, only createdBy), through the SDK and the stand-in:
its creator gets the warning card and can keep it; someone else cannot (DECISIONS rule 3)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.cards.warning import input_id
from bot.flows.followups import FollowUps
from bot.flows.notifier import TeamsNotifier
from domain.model import InstanceKey
from runtime import Runtime
from scheduler.sweep import Sweeper
from scheduler.warnings import Warner
from storage.repositories import Store
from tests.arm_fixtures import RESEARCH, TENANT, make_fleet, seed_instance, workspace_settings
from tests.arm_standin import ArmStandIn
from tests.conftest import FakeClock
from tests.test_warning_card import CURFEW, WARN_AT, Inbox, buttons, click, text_of
from wiring import build_bot

DANA = "00000000-0000-0000-0000-000000000020"  # the demo owner name the click helper uses
BEN = "00000000-0000-0000-0000-000000000021"


async def test_the_creator_of_a_self_made_instance_is_warned_and_may_keep_it(
    arm: ArmStandIn, azure_env: dict[str, str], sqlite_store: Store
) -> None:
    settings = workspace_settings(RESEARCH, curfew={"verify_seconds": 2, "verify_interval_seconds": 0.3})
    clock = FakeClock(WARN_AT)
    rt = Runtime(settings, sqlite_store, make_fleet(arm, workspaces=[RESEARCH]), clock)
    started = WARN_AT - timedelta(hours=6)
    creator = {"userId": DANA, "userOrgId": TENANT, "userName": "Dana Scientist"}
    seed_instance(arm, RESEARCH, "ci-dana", created_by=creator, last_started_at=started)
    seed_instance(arm, RESEARCH, "ci-ben", owner_object_id=BEN, last_started_at=started)
    inbox = Inbox()
    followups = FollowUps(rt.fleet, rt.store, rt.clock, lambda: inbox, poll_seconds=0.01, timeout_seconds=1)
    chat = build_bot(rt, lambda: inbox, followups=followups, with_requests=False)
    try:
        report = await Warner(rt, TeamsNotifier(rt.settings, inbox, rt.clock)).warn()
        assert report.ok
        [card] = inbox.cards_for(DANA)
        assert {name for name, _ in buttons(card)} == {"ci-dana"}
        assert "ci-dana" not in text_of(inbox.cards_for(BEN)[0])

        apply = buttons(card)[("ci-dana", "Apply")]
        tonight = {input_id(InstanceKey(apply["data"]["workspace"], "ci-dana"), "choice"): "keep_tonight"}
        refused = await click(chat, apply, user=BEN, **tonight)
        assert "Only the owner of ci-dana or an admin of workspace research can change it" in text_of(refused)
        assert await rt.store.call(rt.store.keep_ons.in_force, clock()) == []

        kept: Any = await click(chat, apply, user=DANA, **tonight)
        assert "Kept ci-dana until" in text_of(kept)
        clock.now = CURFEW
        night = await Sweeper(rt).curfew(now=CURFEW)
    finally:
        await rt.fleet.close()
    outcomes = {o.instance.name: o.kind.value for o in night.outcomes}
    assert outcomes == {"ci-dana": "left", "ci-ben": "stopped"}
    assert arm.instance("ci-dana").state == "Running"
