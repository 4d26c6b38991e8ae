"""The chat grammar as one table: what people type, and what Curfew reads (invalid phrases included).

Every phrase is read at NOW, Sunday 2026-11-29 15:00 in Berlin (06:00 that Sunday in Los Angeles),
in Berlin unless its row names another zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import dateparser
import dateparser.date
import pytest

from domain import grammar_dates
from domain.grammar import (
    AmbiguousKeep,
    ForDuration,
    Help,
    History,
    Keep,
    KeepEnd,
    MyRequests,
    ParseError,
    Release,
    Report,
    RequestInstance,
    SetMorningStart,
    Start,
    Status,
    Stop,
    Target,
    Tonight,
    UntilDay,
    UntilInstant,
    parse_command,
)

BERLIN = ZoneInfo("Europe/Berlin")
LA = ZoneInfo("America/Los_Angeles")
NOW = datetime(2026, 11, 29, 15, 0, tzinfo=BERLIN)
GPU = Target("gpu-ci")


@dataclass(frozen=True)
class Fails:
    """A ParseError whose message contains `word` (any case)."""

    word: str


def keep(end: KeepEnd, reason: str | None = None, target: Target = GPU) -> Keep:
    return Keep(target, end, reason)


def day(month: int, day_: int, year: int = 2026) -> UntilDay:
    return UntilDay(date(year, month, day_))


def berlin(month: int, day_: int, hour: int, minute: int = 0, year: int = 2026) -> UntilInstant:
    return UntilInstant(datetime(year, month, day_, hour, minute, tzinfo=BERLIN))


def la(month: int, day_: int, hour: int, minute: int = 0, year: int = 2026) -> UntilInstant:
    return UntilInstant(datetime(year, month, day_, hour, minute, tzinfo=LA))


def lasting(**amount: float) -> ForDuration:
    return ForDuration(timedelta(**amount))


TABLE: list[tuple[str, object] | tuple[str, object, ZoneInfo]] = [
    # help, status, my requests
    ("help", Help()),
    ("<at>Curfew</at> help", Help()),
    ("What can you do?", Help()),
    ("status", Status()),
    ("list", Status()),
    ("my instances", Status()),
    ("Show my instances, please", Status()),
    ("what’s running?", Status()),
    ("hey curfew, what's running", Status()),
    ("curfew: status", Status()),
    ("my requests", MyRequests()),
    ("show my requests", MyRequests()),
    # keep: the forms from the issue
    ("keep my-gpu-ci on until Friday because training", keep(day(12, 4), "training", Target("my-gpu-ci"))),
    ("keep gpu-ci for 2 hours", keep(lasting(hours=2))),
    ("keep gpu-ci tonight", keep(Tonight())),
    ("keep gpu-ci until 2026-12-04 18:00", keep(berlin(12, 4, 18))),
    ("keep gpu-ci until tomorrow 9am", keep(berlin(11, 30, 9))),
    ("keep gpu-ci until next monday", keep(day(11, 30))),
    ("keep gpu-ci for 3 days because long run", keep(lasting(days=3), "long run")),
    ("please keep gpu-ci running till fri", keep(day(12, 4))),
    ("keep gpu-ci on until Dec 4", keep(day(12, 4))),
    # keep: durations
    ("keep gpu-ci for 2 hours for training", keep(lasting(hours=2), "training")),
    ("keep gpu-ci for an hour", keep(lasting(hours=1))),
    ("keep gpu-ci for 90 minutes", keep(lasting(minutes=90))),
    ("keep gpu-ci for 1.5h", keep(lasting(minutes=90))),
    ("keep gpu-ci for 2h", keep(lasting(hours=2))),
    ("keep gpu-ci for 1 day", keep(lasting(days=1))),
    ("keep gpu-ci for half an hour", keep(lasting(minutes=30))),
    ("keep gpu-ci for an hour and a half", keep(lasting(minutes=90))),
    ("keep gpu-ci for 1h30", keep(lasting(minutes=90))),
    ("keep gpu-ci for 1 hour 30 minutes", keep(lasting(minutes=90))),
    ("keep gpu-ci for 2 weeks", keep(lasting(days=14))),
    ("keep gpu-ci for the next hour", keep(lasting(hours=1))),
    ("keep gpu-ci 45 min", keep(lasting(minutes=45))),
    ("keep alive gpu-ci for 2h", keep(lasting(hours=2))),
    # keep: tonight, reasons, case, markup, politeness, NAME@ALIAS
    ("don't stop gpu-ci tonight", keep(Tonight())),
    ("keep gpu-ci on tonight for the demo", keep(Tonight(), "the demo")),
    ("keep gpu-ci overnight: long run", keep(Tonight(), "long run")),
    ("keep GPU-CI until FRIDAY Because Paper Deadline", keep(day(12, 4), "Paper Deadline", Target("GPU-CI"))),
    ("keep gpu-ci until friday reason: paper deadline", keep(day(12, 4), "paper deadline")),
    ("keep gpu-ci for 2h because: CI &amp; tests", keep(lasting(hours=2), "CI & tests")),
    ("<at>Curfew</at>&nbsp;<p>keep gpu-ci&nbsp;until friday</p>", keep(day(12, 4))),
    ("hey curfew, could you please keep gpu-ci on until friday, thanks!", keep(day(12, 4))),
    ("keep gpu-ci@team-a tonight", keep(Tonight(), target=Target("gpu-ci", "team-a"))),
    ("keep gpu-ci@Team-B until friday", keep(day(12, 4), target=Target("gpu-ci", "team-b"))),
    # keep: weekdays (said on a Sunday) and relative days
    ("keep gpu-ci until sunday", keep(day(11, 29))),
    ("keep gpu-ci until next sunday", keep(day(12, 6))),
    ("keep gpu-ci until this saturday", keep(day(12, 5))),
    ("keep gpu-ci until friday next week", keep(day(12, 4))),
    ("keep gpu-ci until today", keep(day(11, 29))),
    ("keep gpu-ci until the day after tomorrow", keep(day(12, 1))),
    # keep: times
    ("keep gpu-ci until Friday 18:00", keep(berlin(12, 4, 18))),
    ("keep gpu-ci until fri at 6:30pm", keep(berlin(12, 4, 18, 30))),
    ("keep gpu-ci until friday midnight", keep(berlin(12, 5, 0))),
    ("keep gpu-ci until tomorrow morning", keep(berlin(11, 30, 9))),
    ("keep gpu-ci until 18:00", keep(berlin(11, 29, 18))),
    ("keep gpu-ci until 9am", keep(berlin(11, 30, 9))),
    ("keep gpu-ci until noon", keep(berlin(11, 30, 12))),
    ("keep gpu-ci until midnight", keep(berlin(11, 30, 0))),
    ("keep gpu-ci until 2026-12-04T18:00", keep(berlin(12, 4, 18))),
    # keep: dates
    ("keep gpu-ci until December 4th", keep(day(12, 4))),
    ("keep gpu-ci until 4th of December 2026 at 6pm", keep(berlin(12, 4, 18))),
    ("keep gpu-ci until Dec 4, 2026", keep(day(12, 4))),
    ("keep gpu-ci until Tue 1 Dec", keep(day(12, 1))),
    ("keep gpu-ci until Jan 5", keep(day(1, 5, 2027))),
    ("keep gpu-ci until 5th Jan 2027", keep(day(1, 5, 2027))),
    ("keep gpu-ci until Sept. 3rd", Fails("Thu 3 Sep 2026 is in the past")),
    ("keep gpu-ci until December the 4th", keep(day(12, 4))),
    ("keep gpu-ci until 4-Dec-2026", keep(day(12, 4))),
    ("keep gpu-ci until Feb 29", keep(day(2, 29, 2028))),
    ("keep gpu-ci until 13/4", keep(day(4, 13, 2027))),
    ("keep gpu-ci until 4/13", keep(day(4, 13, 2027))),
    ("keep gpu-ci until 11/12", keep(day(12, 11))),
    ("keep gpu-ci until 12/4/2026", keep(day(12, 4))),
    ("keep gpu-ci until Fri 4/12", keep(day(12, 4))),
    # keep: ambiguous day/month order, both readings ahead, earlier first
    ("keep gpu-ci until 3/4", AmbiguousKeep(GPU, (day(3, 4, 2027), day(4, 3, 2027)))),
    ("keep gpu-ci until 04.03.", AmbiguousKeep(GPU, (day(3, 4, 2027), day(4, 3, 2027)))),
    (
        "keep gpu-ci until 3/4 18:00 because conference",
        AmbiguousKeep(GPU, (berlin(3, 4, 18, year=2027), berlin(4, 3, 18, year=2027)), "conference"),
    ),
    # keep: read in Los Angeles, where it is 06:00 on Sunday
    ("keep gpu-ci until 9am", keep(la(11, 29, 9)), LA),
    ("keep gpu-ci until tomorrow 9am", keep(la(11, 30, 9)), LA),
    ("keep gpu-ci until 5am", keep(la(11, 30, 5)), LA),
    ("keep gpu-ci until friday 18:00", keep(la(12, 4, 18)), LA),
    ("keep gpu-ci until 2027-03-14 02:30", keep(la(3, 14, 3, 30, year=2027)), LA),
    ("keep gpu-ci until today 05:00", Fails("in the past"), LA),
    # release, stop, start
    ("release gpu-ci", Release(GPU)),
    ("cancel keep gpu-ci", Release(GPU)),
    ("cancel keep on gpu-ci", Release(GPU)),
    ("unkeep gpu-ci", Release(GPU)),
    ("stop keeping gpu-ci", Release(GPU)),
    ("stop gpu-ci", Stop(GPU)),
    ("stop gpu-ci now", Stop(GPU)),
    ("shut down gpu-ci", Stop(GPU)),
    ("turn gpu-ci off", Stop(GPU)),
    ("stop gpu-ci@team-a", Stop(Target("gpu-ci", "team-a"))),
    ("start gpu-ci", Start(GPU)),
    ("start gpu-ci now", Start(GPU)),
    ("turn on gpu-ci", Start(GPU)),
    ("wake up gpu-ci", Start(GPU)),
    ("pls start gpu-ci thx", Start(GPU)),
    # morning start, history
    ("morning start on gpu-ci", SetMorningStart(GPU, True)),
    ("morning start on gpu-ci at 07:30", SetMorningStart(GPU, True, time(7, 30))),
    ("morning start on gpu-ci at 8am", SetMorningStart(GPU, True, time(8))),
    ("morning start gpu-ci at 8", SetMorningStart(GPU, True, time(8))),
    ("morning start off gpu-ci", SetMorningStart(GPU, False)),
    ("enable morning start for gpu-ci", SetMorningStart(GPU, True)),
    ("turn off morning start for gpu-ci", SetMorningStart(GPU, False)),
    ("history gpu-ci", History(GPU)),
    ("show history of gpu-ci", History(GPU)),
    # requests and reports
    ("request an instance", RequestInstance(None)),
    ("request a GPU instance", RequestInstance("gpu")),
    ("new instance", RequestInstance(None)),
    ("I need a GPU", RequestInstance("gpu")),
    ("request instance Standard_NC6s_v3", RequestInstance("Standard_NC6s_v3")),
    ("can I get a big gpu machine?", RequestInstance("big gpu")),
    ("request a gpu instance for my thesis", RequestInstance("gpu")),
    ("report", Report("week")),
    ("report week", Report("week")),
    ("report month team-a", Report("month", "team-a")),
    ("monthly report for team-a", Report("month", "team-a")),
    ("report for team-a", Report("week", "team-a")),
    # what is not understood
    ("", Fails("empty")),
    ("<at>Curfew</at>", Fails("empty")),
    ("&nbsp; ", Fails("empty")),
    ("make me a sandwich", Fails("did not understand")),
    ("I need a break", Fails("did not understand")),
    ("keep", Fails("which instance")),
    ("keep gpu-ci", Fails("how long")),
    ("keep gpu-ci running", Fails("how long")),
    ("keep gpu-ci for training", Fails("how long")),
    ("keep gpu-ci until blah", Fails("could not read")),
    ("keep gpu-ci until 2/30", Fails("could not read")),
    ("keep gpu-ci until Feb 30", Fails("could not read")),
    ("keep gpu-ci until Dec 32", Fails("could not read")),
    ("keep gpu-ci until 25:00", Fails("could not read")),
    ("keep gpu-ci for 2 fortnights", Fails("could not read")),
    ("keep gpu-ci for 0 hours", Fails("longer than zero")),
    ("keep gpu-ci until 9999-12-31", Keep(GPU, UntilDay(date(9999, 12, 31)))),
    ("keep gpu-ci until 9999-12-31 midnight", Keep(GPU, UntilDay(date(9999, 12, 31)))),  # past datetime.max
    ("keep gpu-ci for 99999999999999999999 weeks", Keep(GPU, ForDuration(timedelta.max))),
    ("keep gpu-ci for -2 hours", Fails("longer than zero")),
    ("keep gpu-ci until Tue 24 Nov", Fails("Tue 24 Nov 2026 is in the past")),
    ("keep gpu-ci until 2026-11-20", Fails("in the past")),
    ("keep gpu-ci until Nov 20", Fails("in the past")),
    ("keep gpu-ci until today 14:00", Fails("in the past")),
    ("keep gpu-ci until 11/11", Fails("in the past")),
    ("keep gpu-ci until yesterday", Fails("Sat 28 Nov 2026 is in the past")),
    ("keep gpu-ci until the day before yesterday", Fails("Fri 27 Nov 2026 is in the past")),
    ("keep gpu-ci until last friday", Fails("Fri 27 Nov 2026 is in the past")),
    ("keep gpu-ci until last sunday", Fails("Sun 22 Nov 2026 is in the past")),
    ("keep gpu-ci until friday last week", Fails("Fri 20 Nov 2026 is in the past")),
    ("keep gpu-ci until 3 days ago", Fails("“3 days ago” is in the past")),
    ("keep gpu-ci until yesterday 18:00", Fails("Sat 28 Nov 2026 18:00 is in the past")),
    ("keep gpu-ci for 2 hours because " + "x" * 201, Fails("at most 200 characters (this one has 201)")),
    ("keep gpu-ci until Mon 1 Dec", Fails("is a Tuesday, not a Monday")),
    ("keep 1gpu tonight", Fails("not a valid instance name")),
    ("keep a-very-long-instance-name-x tonight", Fails("not a valid instance name")),
    ("stop gpu_ci", Fails("not a valid instance name")),
    ("stop gpu ci", Fails("not a valid instance name")),
    ("stop gpu-ci@", Fails("workspace alias")),
    ("stop", Fails("which instance")),
    ("morning start gpu-ci", Fails("on or off")),
    ("morning start off gpu-ci at 8", Fails("time goes only with morning start on")),
    ("morning start on gpu-ci at 25:00", Fails("could not read")),
    ("report team_a", Fails("not a workspace alias")),
]


def _cases() -> list[Any]:
    cases = []
    for phrase, expected, *zone in TABLE:
        where = zone[0] if zone else BERLIN
        label = phrase if where is BERLIN else f"{phrase} [{where.key}]"
        cases.append(pytest.param(phrase, expected, where, id=label))
    return cases


@pytest.mark.parametrize(("phrase", "expected", "zone"), _cases())
def test_phrase(phrase: str, expected: object, zone: ZoneInfo) -> None:
    result = parse_command(phrase, NOW, zone)
    if isinstance(expected, Fails):
        assert isinstance(result, ParseError), result
        assert expected.word.lower() in result.message.lower(), result
    else:
        assert result == expected
        assert repr(result) == repr(expected)  # the same wall time in the same zone, not just the instant


def test_the_table_is_long_enough_and_its_phrases_distinct() -> None:
    labels = [case.id for case in _cases()]
    assert len(labels) >= 70
    assert len(set(labels)) == len(labels)


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_command("keep gpu-ci tonight", datetime(2026, 11, 29, 15, 0), BERLIN)


def test_now_in_any_zone_is_read_in_the_readers_zone() -> None:
    same_instant = NOW.astimezone(UTC)
    assert parse_command("keep gpu-ci until 9am", same_instant, LA) == keep(la(11, 29, 9))
    assert parse_command("keep gpu-ci until 9am", same_instant, BERLIN) == keep(berlin(11, 30, 9))


def test_a_weekday_said_on_that_day_is_today_and_next_weekday_reads_as_dateparser_does() -> None:
    names = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    for offset in range(7):
        now = NOW + timedelta(days=offset)
        for number, name in enumerate(names):
            plain = parse_command(f"keep gpu-ci until {name}", now, BERLIN)
            assert isinstance(plain, Keep) and isinstance(plain.end, UntilDay)
            assert 0 <= (plain.end.day - now.date()).days <= 6 and plain.end.day.weekday() == number
            following = parse_command(f"keep gpu-ci until next {name}", now, BERLIN)
            settings = {"RELATIVE_BASE": now.replace(tzinfo=None), "PREFER_DATES_FROM": "future"}
            theirs = dateparser.parse(f"next {name}", languages=["en"], settings=settings)
            assert theirs is not None
            assert following == keep(UntilDay(theirs.date())), (now, name)


WRITTEN_DATES = [
    f"{month} {day_}{suffix}{year}"
    for month in ("dec", "december", "sept.", "may", "feb")
    for day_, suffix in ((4, ""), (1, "st"), (29, "th"), (31, ""), (0, ""), (32, ""))
    for year in ("", " 2027")
] + [
    f"{day_}{suffix} {of}{month}{year}"
    for day_, suffix in ((4, ""), (3, "rd"), (30, "th"))
    for of in ("", "of ")
    for month in ("dec", "february", "jun.")
    for year in ("", " 2026")
]


@pytest.mark.parametrize("words", WRITTEN_DATES)
def test_the_usual_written_dates_read_as_dateparser_reads_them(words: str) -> None:
    # The usual forms ("Dec 4", "4th of December 2026") are read without dateparser, whose first
    # call in a process compiles its regexes for 1-2 s of CPU; the reading must be dateparser's.
    assert grammar_dates._MONTH_DAY.fullmatch(words) or grammar_dates._DAY_MONTH.fullmatch(words)
    ours = grammar_dates._month_and_day(words)
    theirs = grammar_dates._read_by_dateparser(words)
    assert ours == theirs or (theirs is None and ours is not None and not _exists(ours)), (ours, theirs)


def _exists(reading: tuple[int | None, int, int]) -> bool:
    year, month, day_ = reading
    try:
        date(year or 2028, month, day_)
    except ValueError:
        return False
    return True


def test_a_usual_date_never_reaches_dateparser(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("dateparser called")

    monkeypatch.setattr(grammar_dates._DATE_READER, "get_date_data", refuse)
    assert parse_command("keep gpu-ci until Dec 4 18:00 because training", NOW, BERLIN) == keep(
        berlin(12, 4, 18), "training"
    )
    assert parse_command("keep gpu-ci until Tue 1 Dec", NOW, BERLIN) == keep(day(12, 1))


def test_dateparser_is_set_up_once_at_import_not_per_message(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("dateparser set up per call")

    monkeypatch.setattr(dateparser.date.DateDataParser, "__init__", refuse)
    monkeypatch.setattr(dateparser, "parse", refuse)
    assert parse_command("keep gpu-ci until Dec 4 because training", NOW, BERLIN) == keep(
        day(12, 4), "training"
    )
