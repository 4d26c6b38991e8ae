"""`end NAME on DATE`, `NAME ends DATE`, `extend NAME until DATE` and `retire NAME`.

Readers with the grammar's signature (words, now, zone). DATE is read as in "keep NAME until DATE"
(domain.grammar_dates): a day, never one in the past; an explicit time of day only names its day.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

from domain.grammar_dates import read_until
from domain.grammar_text import read_target
from domain.grammar_types import Command, ParseError, Retire, SetEndDate, UntilDay

_USAGE: Final = "end NAME on 2026-12-18, NAME ends Friday, extend NAME until Jan 15, or retire NAME"
_END: Final = re.compile(
    r"(?:set\s+(?:the\s+)?end(?:\s+date)?\s+(?:of\s+)?|end\s+)(?P<name>\S+)\s+(?:on|at|to)\s+(?P<when>.+)",
    re.I,
)
_ENDS: Final = re.compile(r"(?P<name>\S+)\s+ends(?:\s+on)?\s+(?P<when>.+)", re.I)
_EXTEND: Final = re.compile(r"extend\s+(?P<name>\S+)\s+(?:until|till|to|through|thru)\s+(?P<when>.+)", re.I)
_RETIRE: Final = re.compile(r"retire(?:\s+(?P<name>\S+))?(?:\s+now)?", re.I)
_NOT_NAMES: Final = frozenset({"keep", "the", "my", "keep-on", "keepon"})


def read_end_date(words: str, now: datetime, zone: ZoneInfo) -> Command | ParseError | None:
    for pattern, extend in ((_EXTEND, True), (_END, False), (_ENDS, False)):
        found = pattern.fullmatch(words)
        if found is not None and found["name"].lower() not in _NOT_NAMES:
            return _end(found["name"], found["when"], extend, now, zone)
    return None


def _end(name: str, when: str, extend: bool, now: datetime, zone: ZoneInfo) -> Command | ParseError:
    target = read_target(name)
    if isinstance(target, ParseError):
        return target
    readings = read_until(when, now, zone)
    if isinstance(readings, ParseError):
        return readings
    days = sorted({r.day if isinstance(r, UntilDay) else r.at.astimezone(zone).date() for r in readings})
    if len(days) > 1:
        shown = " or ".join(d.isoformat() for d in days)
        return ParseError(f"“{when}” could be {shown}.", hint=f"Write it as {days[0].isoformat()}.")
    return SetEndDate(target, days[0], extend)


def read_retire(words: str, now: datetime, zone: ZoneInfo) -> Command | ParseError | None:
    found = _RETIRE.fullmatch(words)
    if found is None:
        return None
    if not found["name"]:
        return ParseError("Which instance should I retire?", hint=_USAGE)
    target = read_target(found["name"])
    return target if isinstance(target, ParseError) else Retire(target)
