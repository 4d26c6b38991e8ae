"""Issue 12, finding 2: one long message must not stall the service (protocol level and grammar)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from domain import grammar as g
from domain.grammar_text import MAX_MESSAGE_CHARS, plain_words
from tests.bot_harness import BotEnv

NOW = datetime(2026, 11, 30, 21, 0, tzinfo=UTC)
ZONE = ZoneInfo("Europe/Berlin")


async def test_a_message_over_the_limit_gets_a_short_answer_through_api_messages(curfew_env: BotEnv) -> None:
    # The input: about 10 s of regex backtracking on the event loop before the fix.
    [answer] = await curfew_env.say("stop gpu-ci " + "!" * 28_000 + "x")
    assert answer.text is not None
    assert "too long" in answer.text and f"{MAX_MESSAGE_CHARS:,}" in answer.text
    assert len(answer.text) < 200


def test_the_limit_is_checked_before_any_parsing() -> None:
    over = g.parse_command("status" + " " * MAX_MESSAGE_CHARS, NOW, ZONE)
    assert isinstance(over, g.ParseError) and "too long" in over.message
    assert g.parse_command("status" + " " * (MAX_MESSAGE_CHARS - 6), NOW, ZONE) == g.Status()


def test_trailing_politeness_and_punctuation_are_trimmed_as_before() -> None:
    table = {
        "status please": "status",
        "status, thanks!!": "status",
        "status thank you.": "status",
        "status pls ?! ": "status",
        "keep gpu-ci for 2h, cheers": "keep gpu-ci for 2h",
        "please stop gpu-ci thx": "stop gpu-ci",
        "statusplease": "statusplease",
        "stop gpu-ci " + "!" * 1000 + "x": "stop gpu-ci " + "!" * 1000 + "x",
        "!!!": "",
        "thank you": "",
    }
    assert {text: plain_words(text) for text in table} == table
