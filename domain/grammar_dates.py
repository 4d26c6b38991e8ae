"""Reading the WHEN of "keep NAME until WHEN", in the reader's zone.

Rules (tests/test_grammar.py has rows for each):

* A day without a time gives `UntilDay`; with a time ("tomorrow 9am", "Dec 4 18:00") `UntilInstant`.
  "midnight" ends the day it is said of ("friday midnight" is Saturday 00:00); "morning" is 09:00.
  A time alone ("until 18:00") is its next occurrence: today if still ahead, else tomorrow.
* "today"/"tonight", "tomorrow", "the day after tomorrow". Days in the past are read too ("yesterday",
  "last friday", "friday last week", "2 days ago"), so that the answer says they are in the past.
* A weekday ("friday", "this fri", "on friday") is the next such day counting today: said on a Friday it
  is that Friday, so the keep ends at tonight's curfew. "next friday" is the first Friday strictly after
  today (1 to 7 days on), the reading dateparser gives with PREFER_DATES_FROM='future'; "friday next
  week" is the Friday of the following Monday-to-Sunday week.
* A date without a year is the nearest such date, back or ahead: "Jan 5" in November is next January,
  "Nov 20" said on Nov 29 is in the past (an error, not a keep for 357 days).
* Numeric dates "3/4", "04.03.", "4-3-2027" read both ways, day/month and month/day. Readings that are
  not dates or are past drop out; when two remain the keep is ambiguous and both are offered, earlier
  first ("3/4" in November: 4 March or 3 April). "13/4" has one reading. "2026-12-04" is always ISO.
* A weekday written with a date ("Fri 4/12", "Tue 1 Dec") must agree with it; it also settles the order.
* Month names: "Dec 4", "December 4th 2026", "4 Dec", "4th of December 2026" are read here; any other
  form that names a month ("December the 4th", "4-Dec-2026") by dateparser, with its relative readings
  off and a fixed base, so nothing here looks at a clock. dateparser's first call in a process costs
  1-2 s of CPU (it compiles its time-zone regexes), and a plain "Dec 4" never pays it.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final, cast
from zoneinfo import ZoneInfo

from dateparser.date import DateDataParser

from domain.grammar_clock import CLOCK_PATTERN, Clock, alternatives, read_clock, read_duration
from domain.grammar_types import ParseError, UntilDay, UntilInstant

_WEEKDAY_SPELLINGS: Final = (
    ("monday", "mon"),
    ("tuesday", "tue", "tues"),
    ("wednesday", "wed"),
    ("thursday", "thu", "thur", "thurs"),
    ("friday", "fri"),
    ("saturday", "sat"),
    ("sunday", "sun"),
)
_MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_WEEKDAYS: Final = {name: number for number, names in enumerate(_WEEKDAY_SPELLINGS) for name in names}
_WEEKDAY: Final = rf"(?P<weekday>{alternatives(_WEEKDAYS)})\.?"
_DAYS_FROM_TODAY: Final = {
    "today": 0,
    "tonight": 0,
    "tomorrow": 1,
    "tmrw": 1,
    "day after tomorrow": 2,
    "yesterday": -1,  # in the past: read, so the answer can say so
    "last night": -1,
    "day before yesterday": -2,
}
_THIS_WEEKDAY: Final = re.compile(rf"(?:(?:this|on|coming|this coming)\s+)?{_WEEKDAY}")
_NEXT_WEEKDAY: Final = re.compile(rf"next\s+{_WEEKDAY}")
_WEEKDAY_NEXT_WEEK: Final = re.compile(rf"{_WEEKDAY}\s+(?:of\s+)?next\s+week")
_NEXT_WEEK_WEEKDAY: Final = re.compile(rf"next\s+week\s+(?:on\s+)?{_WEEKDAY}")
_LAST_WEEKDAY: Final = re.compile(rf"(?:last|past|previous)\s+{_WEEKDAY}")
_WEEKDAY_LAST_WEEK: Final = re.compile(rf"{_WEEKDAY}\s+(?:of\s+)?last\s+week")
_AGO: Final = re.compile(r"(?P<amount>.{1,40}?)\s+ago")
_WEEKDAY_AND_DATE: Final = re.compile(rf"{_WEEKDAY}\s+(?:the\s+)?(?P<date>.+)")
_MONTH_NAMES: Final = {
    spelling: number
    for number, spellings in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for spelling in spellings
}
_MONTH: Final = rf"(?P<month>{alternatives(_MONTH_NAMES)})\.?"
_DAY_OF_MONTH: Final = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR: Final = r"(?:\s+(?P<year>\d{4}))?"
_MONTH_DAY: Final = re.compile(rf"{_MONTH}\s+{_DAY_OF_MONTH}{_YEAR}")
_DAY_MONTH: Final = re.compile(rf"{_DAY_OF_MONTH}\s+(?:of\s+)?{_MONTH}{_YEAR}")
_ISO: Final = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")
_NUMERIC: Final = re.compile(r"(\d{1,2})[./-](\d{1,2})(?:[./-](\d{4}|\d{2}))?\.?")
_CLOCK_AT_END: Final = re.compile(rf"(?:^|\s)(?:at\s+|@\s*)?(?P<clock>{CLOCK_PATTERN})$")
_CLOCK_AT_START: Final = re.compile(rf"^(?:at\s+)?(?P<clock>{CLOCK_PATTERN})(?:\s+(?:on\s+)?|$)")

_UNTIL_HINT: Final = "Try until Friday, until tomorrow 9am, until Dec 4 or until 2026-12-04 18:00."
_DATE_READER: Final = DateDataParser(
    languages=["en"],
    settings={
        "PARSERS": ["absolute-time"],
        "RELATIVE_BASE": datetime(2000, 1, 1),  # a leap year, so "Feb 29" reads; the year is ours to pick
        "DATE_ORDER": "DMY",
        "RETURN_AS_TIMEZONE_AWARE": False,
    },
)

UntilEnd = UntilDay | UntilInstant


def read_until(text: str, now: datetime, zone: ZoneInfo) -> tuple[UntilEnd, ...] | ParseError:
    """One end, or two for an ambiguous date, none of them past; `now` is aware and in `zone`."""
    words = " ".join(re.sub(r"(\d)t(\d)", r"\1 \2", text.lower()).replace(",", " ").split())
    if found := _AGO.fullmatch(words):  # "2 days ago": in the past, whatever the amount
        ago = read_duration(found["amount"])
        if ago is not None and ago > timedelta(0):
            return ParseError(f"“{text}” is in the past.", hint="Name a time from now on.")
    split = _split_clock(words)
    if split is None:
        return ParseError(f"I could not read the time in “{text}”.", hint=_UNTIL_HINT)
    day_words, clock = split
    if not day_words:
        return _next_occurrence(clock, now, zone) if clock else _unreadable(text)
    days = _read_days(day_words, now.date())
    if not isinstance(days, tuple):
        return days or _unreadable(text)
    ends = tuple(_end(day, clock, zone) for day in days)
    upcoming = tuple(end for end in ends if not _is_past(end, now))
    if not upcoming:
        return ParseError(f"{_describe(ends[-1])} is in the past.", hint="Name a time from now on.")
    return upcoming


def _end(day: date, clock: Clock | None, zone: ZoneInfo) -> UntilEnd:
    """The end on `day` (at `clock`); a time past what a datetime holds (9999-12-31 midnight) is its day
    (the keep-on's planning refuses either as longer than `keep.max_days`)."""
    if clock is None:
        return UntilDay(day)
    try:
        return UntilInstant(_at(day, clock, zone))
    except OverflowError:
        return UntilDay(day)


def _split_clock(words: str) -> tuple[str, Clock | None] | None:
    for pattern in (_CLOCK_AT_END, _CLOCK_AT_START):
        if found := pattern.search(words):
            clock = read_clock(found["clock"])
            return None if clock is None else ((words[: found.start()] + words[found.end() :]).strip(), clock)
    return words, None


def _read_days(words: str, today: date) -> tuple[date, ...] | ParseError | None:
    words = words.removeprefix("the ")
    if words in _DAYS_FROM_TODAY:
        return (today + timedelta(days=_DAYS_FROM_TODAY[words]),)
    if found := _THIS_WEEKDAY.fullmatch(words):
        return (_coming(today, _WEEKDAYS[found["weekday"]], first=0),)
    if found := _NEXT_WEEKDAY.fullmatch(words):
        return (_coming(today, _WEEKDAYS[found["weekday"]], first=1),)
    if found := _LAST_WEEKDAY.fullmatch(words):  # "last friday": the latest one before today
        return (today - timedelta(days=1 + (today.weekday() - _WEEKDAYS[found["weekday"]] - 1) % 7),)
    if found := _WEEKDAY_LAST_WEEK.fullmatch(words):
        last_monday = today - timedelta(days=today.weekday() + 7)
        return (last_monday + timedelta(days=_WEEKDAYS[found["weekday"]]),)
    if found := _WEEKDAY_NEXT_WEEK.fullmatch(words) or _NEXT_WEEK_WEEKDAY.fullmatch(words):
        next_monday = today + timedelta(days=7 - today.weekday())
        return (next_monday + timedelta(days=_WEEKDAYS[found["weekday"]]),)
    if found := _WEEKDAY_AND_DATE.fullmatch(words):
        days = _calendar_days(found["date"], today)
        return _agreeing(days, _WEEKDAYS[found["weekday"]]) if days else None
    return _calendar_days(words, today) or None


def _coming(today: date, weekday: int, *, first: int) -> date:
    """The first `weekday` at least `first` days after today."""
    return today + timedelta(days=first + (weekday - today.weekday() - first) % 7)


def _agreeing(days: tuple[date, ...], weekday: int) -> tuple[date, ...] | ParseError:
    agreeing = tuple(day for day in days if day.weekday() == weekday)
    if agreeing:
        return agreeing
    day = days[0]
    return ParseError(
        f"{_day_text(day)} is a {_weekday_name(day.weekday())}, not a {_weekday_name(weekday)}."
    )


def _calendar_days(words: str, today: date) -> tuple[date, ...]:
    """The readings of a written date, earlier first; none when it is not one."""
    if found := _ISO.fullmatch(words):
        return tuple(filter(None, [_date(int(found[1]), int(found[2]), int(found[3]))]))
    if found := _NUMERIC.fullmatch(words):
        first, second = int(found[1]), int(found[2])
        year = None if found[3] is None else int(found[3]) + (2000 if len(found[3]) == 2 else 0)
        readings = {_dated(year, second, first, today), _dated(year, first, second, today)}
        return tuple(sorted(day for day in readings if day is not None))
    written = _month_and_day(words)
    if written is None:
        return ()
    return tuple(filter(None, [_dated(*written, today)]))


_LONGEST_WRITTEN_DATE: Final = 40
"""Longer than "wednesday the 31st of december 2026": not a date, and not worth dateparser's time (its
regexes are super-linear in what they are given: 130 ms for 2,000 characters of weekdays)."""


def _month_and_day(words: str) -> tuple[int | None, int, int] | None:
    """(year if written, month, day) of a date that names its month: the usual forms read here, the
    rest by dateparser."""
    if len(words) > _LONGEST_WRITTEN_DATE:
        return None
    if found := _MONTH_DAY.fullmatch(words) or _DAY_MONTH.fullmatch(words):
        year = int(found["year"]) if found["year"] else None
        return (year, _MONTH_NAMES[found["month"]], int(found["day"]))
    return _read_by_dateparser(words)


def _read_by_dateparser(words: str) -> tuple[int | None, int, int] | None:
    data = cast(Any, _DATE_READER).get_date_data(words)
    found = cast(datetime | None, data.date_obj)
    parts = set(cast(tuple[str, ...], data.parts))
    if found is None or not {"day", "month"} <= parts or "time" in parts:
        return None
    return (found.year if "year" in parts else None, found.month, found.day)


def _dated(year: int | None, month: int, day: int, today: date) -> date | None:
    """The date; without a year the nearest one to today, a future one on a tie."""
    if year is not None:
        return _date(year, month, day)
    candidates = filter(None, (_date(year, month, day) for year in range(today.year - 1, today.year + 5)))
    return min(candidates, key=lambda found: (abs((found - today).days), found < today), default=None)


def _date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _at(day: date, clock: Clock, zone: ZoneInfo) -> datetime:
    """`clock` on `day` in `zone`; a time skipped by a DST change moves forward by the gap."""
    wall = datetime.combine(day + timedelta(days=clock.next_day), clock.at, tzinfo=zone)
    return wall.astimezone(UTC).astimezone(zone)


def _next_occurrence(clock: Clock, now: datetime, zone: ZoneInfo) -> tuple[UntilEnd, ...]:
    at = _at(now.date(), clock, zone)
    return (UntilInstant(at if at > now else _at(now.date() + timedelta(days=1), clock, zone)),)


def _is_past(end: UntilEnd, now: datetime) -> bool:
    return end.day < now.date() if isinstance(end, UntilDay) else end.at <= now


def _describe(end: UntilEnd) -> str:
    if isinstance(end, UntilDay):
        return f"{_weekday_name(end.day.weekday())[:3]} {_day_text(end.day)}"
    return f"{_weekday_name(end.at.weekday())[:3]} {_day_text(end.at.date())} {end.at:%H:%M}"


def _day_text(day: date) -> str:
    """The day as 1 Dec 2026, whatever the process locale."""
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def _weekday_name(weekday: int) -> str:
    return _WEEKDAY_SPELLINGS[weekday][0].capitalize()


def _unreadable(text: str) -> ParseError:
    return ParseError(f"I could not read “{text}” as a day or time.", hint=_UNTIL_HINT)
