"""Chat against the Azure ML fleet (real SDK, ARM stand-in): one name in two workspaces asks which one
(DECISIONS rule 7), `NAME@ALIAS` picks it, and an instance without owner is for admins only."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from bot.conversation.router import Conversation
from bot.flows.followups import FollowUps
from bot.turns import Inbound, InboundKind, Reply
from config.settings import Settings
from runtime import Runtime
from storage.repositories import Store
from tests.arm_fixtures import (
    OTHER_SUBSCRIPTION,
    RESEARCH,
    SUBSCRIPTION,
    TEAMS_TENANT,
    VISION,
    make_fleet,
    seed_instance,
)
from tests.arm_standin import ArmStandIn
from tests.bot_harness import words
from wiring import build_bot

DANA = "00000000-0000-0000-0000-000000000020"
ADMIN = "00000000-0000-0000-0000-000000000025"


def chat(arm: ArmStandIn, store: Store) -> Conversation:
    settings = Settings.model_validate(
        {
            "timezone": "Europe/Berlin",
            "teams": {"tenant_id": TEAMS_TENANT},
            "workspaces": [
                {
                    "alias": "research",
                    "subscription_id": SUBSCRIPTION,
                    "resource_group": "rg-ml",
                    "workspace": "ws-research",
                },
                {
                    "alias": "vision",
                    "subscription_id": OTHER_SUBSCRIPTION,
                    "resource_group": "rg-vision",
                    "workspace": "ws-vision",
                    "admins": [ADMIN],
                },
            ],
        }
    )
    rt = Runtime(settings, store, make_fleet(arm), lambda: datetime(2026, 11, 29, 14, 0, tzinfo=UTC))
    return build_bot(
        rt, lambda: None, followups=FollowUps(rt.fleet, rt.store, rt.clock, lambda: None), with_requests=False
    ).conversation


async def say(
    bot: Conversation, words: str, user: str = DANA, value: dict[str, object] | None = None
) -> list[Reply]:
    return await bot.on_message(
        Inbound(
            InboundKind.MESSAGE,
            user,
            "Dana",
            "t",
            "c",
            text=words,
            local_timezone="Europe/Berlin",
            value=value,
        )
    )


async def test_one_name_in_two_workspaces(
    arm: ArmStandIn, azure_env: dict[str, str], sqlite_store: Store
) -> None:
    started = datetime.now(UTC) - timedelta(hours=2)
    for ws in (RESEARCH, VISION):
        seed_instance(arm, ws, "gpu-ci", state="Running", owner_object_id=DANA, last_started_at=started)
    bot = chat(arm, sqlite_store)
    try:
        [question] = await say(bot, "keep gpu-ci for 2 hours")
        assert question.card is not None and "gpu-ci exists in 2 workspaces. Which one?" in json.dumps(
            question.card
        )
        commands = [a["data"]["command"] for a in question.card["actions"]]
        assert commands == ["keep gpu-ci@research for 2 hours", "keep gpu-ci@vision for 2 hours"]
        [kept] = await say(bot, "", value=question.card["actions"][1]["data"])
        assert words(kept).startswith("Kept gpu-ci until Sun 29 Nov 17:00 Europe/Berlin")
        keeps = await sqlite_store.call(
            sqlite_store.keep_ons.in_force, datetime(2026, 11, 29, 14, 0, tzinfo=UTC)
        )
        assert [(k.workspace, k.instance) for k in keeps] == [("vision", "gpu-ci")]
    finally:
        await bot.rt.fleet.close()


async def test_an_instance_without_owner_is_for_admins_only(
    arm: ArmStandIn, azure_env: dict[str, str], sqlite_store: Store
) -> None:
    seed_instance(arm, VISION, "shared-ci", state="Running", owner_object_id=None)
    bot = chat(arm, sqlite_store)
    try:
        [refused] = await say(bot, "keep shared-ci tonight", user=DANA)
        assert refused.text is not None and "shared-ci is not yours" in refused.text
        [kept] = await say(bot, "keep shared-ci tonight", user=ADMIN)
        assert words(kept).startswith("Kept shared-ci until")
    finally:
        await bot.rt.fleet.close()
