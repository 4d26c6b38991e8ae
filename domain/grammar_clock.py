"""Durations ("90 minutes", "1.5h", "an hour and a half") and times of day ("9am", "18:00", "noon").

Both readers return None for text they do not recognise; callers turn that into a `ParseError`
worded for their command.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import time, timedelta
from typing import Final

_NUMBER_WORDS: Final = {
    "a": 1,
    "an": 1,
    "another": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "a couple of": 2,
    "couple of": 2,
    "half an": 0.5,
    "half a": 0.5,
}
_UNITS: Final = {
    "minutes": ("m", "min", "mins", "minute", "minutes"),
    "hours": ("h", "hr", "hrs", "hour", "hours"),
    "days": ("d", "day", "days"),
    "weeks": ("w", "wk", "wks", "week", "weeks"),
}
_UNIT_OF: Final = {spelling: unit for unit, spellings in _UNITS.items() for spelling in spellings}


def alternatives(words: Iterable[str]) -> str:
    """A regex alternation of `words`, longest first so that "tues" wins over "tue"."""
    return "|".join(re.escape(word) for word in sorted(words, key=len, reverse=True))


_NUMBER: Final = rf"-?\d+(?:[.,]\d+)?|(?:{alternatives(_NUMBER_WORDS)})(?=\s)"
_PART: Final = re.compile(
    rf"(?P<n>{_NUMBER})\s*(?P<unit>{alternatives(_UNIT_OF)})(?![a-z])(?P<half>\s+and\s+a\s+half)?",
    re.IGNORECASE,
)
_SEPARATOR: Final = re.compile(r"\s*,\s*|\s+and\s+|\s*", re.IGNORECASE)
_HOURS_THEN_MINUTES: Final = re.compile(r"(\d)\s*h\s*(\d{1,2})$", re.IGNORECASE)
_AMOUNT_START: Final = re.compile(rf"(?:{_NUMBER})|(?:{alternatives(_UNIT_OF)})$", re.IGNORECASE)


FOREVER: Final = timedelta.max
"""What `read_duration` gives for an amount too large to hold: longer than any limit Curfew has."""


def read_duration(text: str) -> timedelta | None:
    """A sum of amounts in minutes, hours, days or weeks; zero or negative sums are returned as read,
    and sums too large for a `timedelta` as `FOREVER`."""
    text = _HOURS_THEN_MINUTES.sub(r"\1h \2m", text.strip())
    if text.lower() in _UNIT_OF:  # "for the next hour"
        text = f"1 {text}"
    total, position = timedelta(), 0
    while position < len(text):
        part = _PART.match(text, position)
        if part is None:
            return None
        spelled = part["n"].lower()
        amount = _NUMBER_WORDS[spelled] if spelled in _NUMBER_WORDS else float(spelled.replace(",", "."))
        try:
            total += timedelta(**{_UNIT_OF[part["unit"].lower()]: amount + (0.5 if part["half"] else 0)})
        except OverflowError:  # "for 999999999999 weeks": longer than any limit, never an error
            return FOREVER
        separator = _SEPARATOR.match(text, part.end())
        position = separator.end() if separator else part.end()
    return total if position else None


def looks_like_duration(text: str) -> bool:
    """True when `text` starts the way an amount does, so an unreadable one deserves its own error."""
    return _AMOUNT_START.match(text.strip()) is not None


@dataclass(frozen=True, slots=True)
class Clock:
    """A time of day; `next_day` for "midnight", which ends the day it is said of."""

    at: time
    next_day: bool = False


_CLOCK_WORDS: Final = {
    "noon": Clock(time(12)),
    "midday": Clock(time(12)),
    "midnight": Clock(time(0), next_day=True),
    "morning": Clock(time(9)),
}
CLOCK_PATTERN: Final = (
    r"\d{1,2}(?:[:.]\d{2})?\s*[ap]\.?m\.?|\d{1,2}[:h]\d{2}(?:\s*h)?|\d{1,2}\s*(?:h|uhr)"
    rf"|{alternatives(_CLOCK_WORDS)}"
)
_TWELVE_HOUR: Final = re.compile(r"(\d{1,2})(?:[:.](\d{2}))?\s*([ap])\.?m\.?", re.IGNORECASE)
_TWENTY_FOUR_HOUR: Final = re.compile(r"(\d{1,2})(?:[:h](\d{2}))?(?:\s*(?:h|uhr))?", re.IGNORECASE)


def read_clock(text: str, *, bare_hour: bool = False) -> Clock | None:
    """A time of day such as 9am, 9:30 pm, 18:00, 18h, noon, midnight or 24:00; 8 only with `bare_hour`."""
    text = text.strip().lower()
    if text in _CLOCK_WORDS:
        return _CLOCK_WORDS[text]
    if match := _TWELVE_HOUR.fullmatch(text):
        hour, minute = int(match[1]), int(match[2] or 0)
        if not 1 <= hour <= 12 or minute > 59:
            return None
        return Clock(time(hour % 12 + (12 if match[3] == "p" else 0), minute))
    match = _TWENTY_FOUR_HOUR.fullmatch(text)
    if match is None or (match[2] is None and not bare_hour and not text[-1].isalpha()):
        return None
    hour, minute = int(match[1]), int(match[2] or 0)
    if (hour, minute) == (24, 0):
        return Clock(time(0), next_day=True)
    if hour > 23 or minute > 59:
        return None
    return Clock(time(hour, minute))
