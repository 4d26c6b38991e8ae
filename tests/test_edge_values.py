"""Issue 12, findings 6 and 7: sizes bounded where text enters and where messages leave, and odd values
(time zones, far dates, huge durations, past days) answered at the edge, through /api/messages.

The connector stand-in refuses a message over Teams' 100 KB (UTF-16) with 413 like Teams, so a card
that grew past the limit would be lost here as it was in Teams."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from bot.adapter.teams_size import MAX_MESSAGE_BYTES, utf16_bytes
from bot.cards.requests import SUBMIT
from bot.cards.warning import input_id
from config.settings import ReportSettings
from domain.limits import REASON_MAX, ZONE_NAME_MAX
from domain.model import InstanceKey
from scheduler.service import CurfewScheduler
from storage.repositories import Store
from tests.bot_harness import DANA, BotEnv, TeamsUser, open_bot_env, words
from tests.conftest import FakeClock
from tests.protocol_env import QUICK
from tests.test_warning_protocol import run_warning

WIDE = "🙂"
"""The widest character for its length: JSON escapes it as two six-character \\u escapes, 24 UTF-16 bytes for one."""
MAX_DAYS_ANSWER = "at most 14 days"


@pytest.fixture
async def admin_env(store: Store, clock: FakeClock) -> AsyncIterator[BotEnv]:
    """The service on SQLite and on PostgreSQL, Dana an admin of the demo: she gets the digest, due
    Mondays at 23:00 in Berlin, the test clock's instant."""
    update = {"demo_admins": [DANA.aad_id], "report": ReportSettings(weekly_at="mon 23:00")}
    async with open_bot_env(store, clock, tuning=QUICK, settings_update=update) as env:
        yield env


async def answer(env: BotEnv, text: str, user: TeamsUser = DANA) -> str:
    return " ".join(words(m) for m in await env.say(text, user))


async def keep_ons(env: BotEnv) -> list[str]:
    held = await env.store.call(env.store.keep_ons.in_force, env.clock())
    return [k.reason for k in held]


# -- finding 6: bounded sizes --------------------------------------------------------------------


async def test_a_reason_over_the_limit_is_refused_in_words_and_nothing_is_kept(admin_env: BotEnv) -> None:
    said = await answer(admin_env, f"keep gpu-ci for 2 hours because {'x' * (REASON_MAX + 1)}")
    assert f"at most {REASON_MAX} characters" in said and f"{REASON_MAX + 1}" in said
    assert await keep_ons(admin_env) == []


async def test_six_reasons_at_the_limit_keep_history_and_digest_within_teams_limit(admin_env: BotEnv) -> None:
    env = admin_env
    reasons = [f"{n} " + WIDE * (REASON_MAX - 2) for n in range(6)]
    for n, reason in enumerate(reasons, 1):
        said = await answer(env, f"keep gpu-ci for {n} hours because {reason}")
        assert said.startswith("Kept gpu-ci"), said
    assert sorted(await keep_ons(env)) == sorted(reasons)

    [history] = await env.say("history gpu-ci")
    assert history.status == 201 and utf16_bytes(history.body) <= MAX_MESSAGE_BYTES
    shown = json.dumps(history.card, ensure_ascii=False)
    assert all(reason in shown for reason in reasons)

    before = len(env.connector.sent())
    claim = await CurfewScheduler(env.runtime, env.service.notifier).run("digest", "Europe/Berlin")
    assert claim is not None
    digest = [m for m in env.connector.sent()[before:] if m.card and "Curfew's week" in json.dumps(m.card)]
    assert digest, "the digest reached Dana's chat"
    assert all(m.status == 201 and utf16_bytes(m.body) <= MAX_MESSAGE_BYTES for m in digest)
    delivered = " ".join(json.dumps(m.card, ensure_ascii=False) for m in digest)
    assert all(reason in delivered for reason in reasons)  # the keep-ons are in the admins' view
    assert env.connector.too_big == 0


async def test_a_purpose_over_the_limit_gets_its_answer_beside_the_field(admin_env: BotEnv) -> None:
    form = {"workspace": "demo", "name": "long-purpose", "size": "Standard_DS3_v2", "purpose": "p" * 201}
    clicked = await admin_env.click(SUBMIT, form)
    assert clicked.status == 200 and clicked.card is not None
    assert f"The purpose may have at most {REASON_MAX} characters (this one has 201)" in json.dumps(
        clicked.card
    )
    boxes = [b for b in clicked.card["body"] if b.get("id") == "purpose"]
    assert boxes and boxes[0]["maxLength"] == REASON_MAX


async def test_a_name_longer_than_kept_is_cut_where_it_enters(admin_env: BotEnv) -> None:
    long_name = TeamsUser(DANA.aad_id, "Dana " + "Q" * 400)
    await admin_env.say("status", long_name)
    stored = await admin_env.store.call(admin_env.store.conversations.get, DANA.aad_id, DANA.tenant_id)
    assert stored is not None and stored.user_name is not None
    assert len(stored.user_name) == 200 and stored.user_name.startswith("Dana QQQ")


# -- finding 7: values checked at the edge --------------------------------------------------------


@pytest.mark.parametrize(
    "zone",
    [
        "A" * 300,
        "Europe/" + "x" * (ZONE_NAME_MAX - 6),
        "Mars/Olympus_Mons",
        "../../etc/passwd",
        "Europe/Berlin ",
    ],
    ids=["longer-than-255", "longer-than-the-column", "unknown", "a-path", "trailing-space"],
)
async def test_an_unknown_local_timezone_uses_the_workspace_zone_and_says_so(
    admin_env: BotEnv, zone: str
) -> None:
    someone = TeamsUser(DANA.aad_id, DANA.name, timezone=zone)
    replies = await admin_env.say("keep gpu-ci until tomorrow 18:00", someone)
    said = " ".join(words(m) for m in replies)
    assert "went wrong" not in said
    assert "Kept gpu-ci until" in said and "Europe/Berlin" in said  # the demo workspace's zone
    note = replies[-1].text or ""
    assert "which is no time zone I know; I used Europe/Berlin." in note
    assert len(note) < 200  # a long value is not echoed whole
    stored = await admin_env.store.call(admin_env.store.conversations.get, DANA.aad_id, DANA.tenant_id)
    assert stored is not None and stored.local_timezone is None  # never stored when invalid


async def test_a_known_local_timezone_is_used_stored_and_not_remarked_on(admin_env: BotEnv) -> None:
    tokyo = TeamsUser(DANA.aad_id, DANA.name, timezone="Asia/Tokyo")
    replies = await admin_env.say("keep gpu-ci until tomorrow 18:00", tokyo)
    assert "Asia/Tokyo" in words(replies[0]) and not any(
        "time zone I know" in (m.text or "") for m in replies
    )
    stored = await admin_env.store.call(admin_env.store.conversations.get, DANA.aad_id, DANA.tenant_id)
    assert stored is not None and stored.local_timezone == "Asia/Tokyo"


@pytest.mark.parametrize(
    "text",
    [
        "keep gpu-ci until 9999-12-31",
        "keep gpu-ci until 9999-12-31 23:59",
        "keep gpu-ci until Dec 31 9999 midnight",
        "keep gpu-ci for 999999999 days",
        "keep gpu-ci for 99999999999999999999 weeks",
        "keep gpu-ci for " + "9" * 400 + " hours",
    ],
)
async def test_ends_far_past_the_limit_get_the_limit_in_words(admin_env: BotEnv, text: str) -> None:
    said = await answer(admin_env, text)
    assert MAX_DAYS_ANSWER in said and "went wrong" not in said
    assert await keep_ons(admin_env) == []


@pytest.mark.parametrize(
    "when",
    ["yesterday", "last Friday", "the day before yesterday", "Friday last week", "3 days ago", "2026-11-01"],
)
async def test_days_in_the_past_are_said_to_be_in_the_past(admin_env: BotEnv, when: str) -> None:
    said = await answer(admin_env, f"keep gpu-ci until {when}")
    assert "is in the past" in said and "could not read" not in said
    assert await keep_ons(admin_env) == []


async def test_yesterday_names_the_day_it_was(admin_env: BotEnv) -> None:
    yesterday = admin_env.clock() - timedelta(days=1)  # Sun 29 Nov 2026 in Berlin (the clock: Mon 23:00)
    said = await answer(admin_env, "keep gpu-ci until yesterday")
    assert f"{yesterday:%a} {yesterday.day} {yesterday:%b %Y} is in the past" in said


def _elements(node: Any, kind: str) -> list[dict[str, Any]]:
    """Every element of a card whose type starts with `kind` ("Action.", "Input."), however nested."""
    if isinstance(node, list):
        return [e for n in node for e in _elements(n, kind)]
    if not isinstance(node, dict):
        return []
    own = [node] if str(node.get("type", "")).startswith(kind) else []
    return own + [e for v in node.values() for e in _elements(v, kind)]


async def test_a_reason_over_the_limit_in_the_warning_cards_form_changes_nothing(curfew_env: BotEnv) -> None:
    await run_warning(curfew_env)
    card = curfew_env.connector.messages_for(DANA.chat_id)[0].card
    key = InstanceKey("demo", "gpu-ci")
    [keep] = [
        a
        for a in _elements(card, "Action.")
        if a.get("title") == "Keep until then"
        and a["type"] == "Action.Execute"  # not its Action.Submit fallback
        and (a.get("data") or {}).get("instance") == "gpu-ci"
    ]
    form = {input_id(key, "until_date"): "2026-12-01", input_id(key, "reason"): "r" * (REASON_MAX + 1)}
    clicked = await curfew_env.click(keep["verb"], {**keep["data"], **form})
    assert clicked.status == 200 and clicked.card is not None
    assert f"at most {REASON_MAX} characters" in json.dumps(clicked.card) and "Nothing changed" in json.dumps(
        clicked.card
    )
    assert await keep_ons(curfew_env) == []
    reasons = [b for b in _elements(card, "Input.") if b.get("id") == input_id(key, "reason")]
    assert reasons and reasons[0]["maxLength"] == REASON_MAX  # the card's own box says so too


@pytest.mark.parametrize("value", ["99999999999999999999", "9" * 1500, "99999999999 weeks"])
async def test_an_idle_time_far_past_azures_bound_is_answered_with_the_bound(
    curfew_env: BotEnv, value: str
) -> None:
    said = await answer(curfew_env, f"idle gpu-ci {value}")
    assert "from 15 minutes to 3 days" in said and "went wrong" not in said
