"""Issue 12, finding 2: one long message must not stall the service (protocol level and grammar).

Timing is bench/parse.py's job (figures in docs/benchmarks.md); these tests check what is answered,
that the service answers others meanwhile, and that the super-linear parts are never reached."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bench.parse import FAMILIES
from domain import grammar as g
from domain import grammar_dates
from domain.grammar_text import MAX_MESSAGE_CHARS, markup_removed, plain_words
from tests.bot_harness import ALEX, DANA, BotEnv

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


async def test_the_service_answers_healthz_and_other_turns_while_worst_case_messages_are_handled(
    curfew_env: BotEnv,
) -> None:
    # Every adversarial family of bench/parse.py at the limit, and the message over it, posted at
    # once; /healthz is asked and another user talks while they are in flight.
    worst = [build(MAX_MESSAGE_CHARS) for build in FAMILIES.values()] + ["stop gpu-ci " + "!" * 28_000 + "x"]
    posts = [asyncio.create_task(curfew_env.post(curfew_env.teams.message(text))) for text in worst]
    other = asyncio.create_task(curfew_env.say("status", ALEX))
    health = []
    while not all(post.done() for post in posts):
        response = await curfew_env.client.get("/healthz")
        health.append((response.status, await response.json()))
    results = await asyncio.gather(*posts)
    await other
    assert health and all(answer == (200, {"status": "ok"}) for answer in health)
    assert all(r.status < 300 for r in results)
    answers = curfew_env.connector.messages_for(DANA.chat_id)
    assert len(answers) >= len(worst)  # every message got its answer
    assert not [m for m in answers if m.text and "went wrong" in m.text]
    assert [m for m in curfew_env.connector.messages_for(ALEX.chat_id) if m.card or m.text]


def test_dateparser_is_never_given_a_long_message(monkeypatch: pytest.MonkeyPatch) -> None:
    # dateparser's own regexes are super-linear (130 ms for 2,000 characters of weekday names).
    given: list[str] = []
    real = grammar_dates._DATE_READER.get_date_data

    def recording(text: str, *args: object, **kwargs: object) -> object:
        given.append(text)
        return real(text, *args, **kwargs)

    monkeypatch.setattr(grammar_dates._DATE_READER, "get_date_data", recording)
    for family in ("until, date words", "until, digits and dots", "until, clock-like words"):
        assert isinstance(g.parse_command(FAMILIES[family](MAX_MESSAGE_CHARS), NOW, ZONE), g.ParseError)
    assert given == []
    keep = g.parse_command("keep gpu-ci until December the 4th", NOW, ZONE)  # short dates still read
    assert isinstance(keep, g.Keep) and given == ["december the 4th"]


def test_markup_without_its_closing_is_left_as_text_and_mentions_still_go() -> None:
    assert markup_removed("<at" * 600 + " status") == "<at" * 600 + " status"
    assert markup_removed("<" * 1900 + " status") == "<" * 1900 + " status"
    assert markup_removed("<at>x" * 300 + "</at> status") == "status"  # the first mention runs to the closing
    assert markup_removed("<at>Dana</at> <AT>Curfew</At > <p>status</p> &amp; <attention>") == "status &"
    assert plain_words("please " * 280 + "status" + " thanks" * 30) == "status"
