"""The card check itself (tests/card_check.py): it fails on the cards Curfew sent before issue 16 (duplicate
input ids; a 20-instance warning over Teams' size), passes today's, and sees what a protocol test sends."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.adapter.teams_size import MAX_MESSAGE_BYTES, fit_for_teams, teams_bytes
from bot.turns import Reply
from tests import card_check
from tests.bot_harness import DANA, BotEnv
from tests.conftest import require

BEFORE = Path(__file__).parent / "adaptivecards"


def before(name: str) -> dict[str, Any]:
    card: dict[str, Any] = json.loads((BEFORE / name).read_text(encoding="utf-8"))
    return card


def test_the_warning_card_before_issue_16_fails_on_duplicate_ids() -> None:
    require(card_check.node_path() is not None, "the card check needs Node.js")
    problems = card_check.check_cards([before("before-warning-2-instances.json")])
    [found] = problems.values()
    assert any('DuplicateId: Duplicate Id "until_date"' in p for p in found), found
    assert any('DuplicateId: Duplicate Id "reason"' in p for p in found), found


def test_the_20_instance_warning_before_issue_16_fails_the_size_rule() -> None:
    card = before("before-warning-20-instances.json")
    message = {"type": "message", "attachments": [{"contentType": card_check.CARD_TYPE, "content": card}]}
    assert len(json.dumps(message).encode()) < 80_000  # what Curfew checked: UTF-8 bytes
    [problem] = card_check.size_problems(card_check.Outbound([message]))
    assert "over the size rule" in problem
    assert card_check.utf16_bytes(message) > 100_000  # Teams answered 413


def test_the_messenger_rule_splits_that_card_into_messages_teams_takes() -> None:
    card = before("before-warning-20-instances.json")
    parts = fit_for_teams(Reply(card=card))
    assert len(parts) >= 2 and all(teams_bytes(p) <= MAX_MESSAGE_BYTES for p in parts)
    assert sum(len(p.card["body"]) - 1 for p in parts if p.card) == len(card["body"]) - 1  # nothing lost


def test_the_schema_allows_teams_extensions_only_as_teams_does() -> None:
    table = {"type": "Table", "columns": [{"width": 1}], "rows": []}
    chart = {"type": "Chart.Donut", "data": [], "fallback": table}
    ok = {"type": "AdaptiveCard", "version": "1.5", "msteams": {"width": "Full"}, "body": [chart]}
    assert card_check.schema_errors(ok) == []
    no_fallback = {**ok, "body": [{"type": "Chart.Donut", "data": []}]}
    assert card_check.schema_errors(no_fallback) == ["Chart.Donut has no fallback for clients without charts"]
    wrong = {**ok, "body": [{"type": "TextBlock", "text": "x", "colour": "Warning"}]}
    assert card_check.schema_errors(wrong) != []


def test_the_renderer_warns_on_unknown_elements_but_not_on_charts_with_fallback() -> None:
    require(card_check.node_path() is not None, "the card check needs Node.js")
    chart = {"type": "Chart.Donut", "data": [], "fallback": {"type": "TextBlock", "text": "x"}}
    cards = [
        {"type": "AdaptiveCard", "version": "1.5", "body": [chart]},
        {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "Carousel.Of.Sorts"}]},
        {
            "type": "AdaptiveCard",
            "version": "1.5",
            "body": [{**chart, "fallback": None} | {"type": "Chart.Pie"}],
        },
    ]
    cards[2]["body"][0].pop("fallback")
    ok, unknown, missing = card_check.renderer_warnings(cards)
    assert ok == []
    assert any("UnknownElementType" in w for w in unknown)
    assert any("MissingFallback: Chart.Pie" in w for w in missing)


async def test_a_protocol_test_s_cards_are_collected_for_the_check(curfew_env: BotEnv) -> None:
    card_check.SENT.activities.clear()
    await curfew_env.say("help", user=DANA)
    await curfew_env.say("status", user=DANA)
    titles = [c["body"][0]["text"] for c in card_check.SENT.cards()]
    assert "What I can do" in titles and any(t.startswith("Your compute instances") for t in titles)
    assert card_check.check_outbound(card_check.SENT) == []
