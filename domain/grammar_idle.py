"""`idle NAME 120`, `idle shutdown NAME after 2 hours`, `idle NAME off`, and `why NAME`.

Readers with the grammar's signature (words, now, zone); a bare number is minutes.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

from domain.grammar_clock import read_duration
from domain.grammar_text import read_target
from domain.grammar_types import Command, ParseError, SetIdleShutdown, Why

_IDLE_USAGE: Final = "idle NAME 120 (minutes), idle shutdown NAME after 2 hours, or idle NAME off"
_IDLE: Final = re.compile(
    r"(?:set\s+)?idle(?:[\s-]*(?:shut\s*down|shutoff|time(?:out)?))?(?:\s+(?:of|for|on))?"
    r"(?:\s+(?P<name>\S+))?(?:\s+(?:to|after|at|=))?(?:\s+(?P<value>.+?))?",
    re.I,
)
_WHY: Final = re.compile(
    r"why(?:\s+is)?(?:\s+(?P<name>\S+?))(?:\s+(?:still\s+)?(?:on|running|up|alive))?", re.I
)


def read_idle(words: str, now: datetime, zone: ZoneInfo) -> Command | ParseError | None:
    found = _IDLE.fullmatch(words)
    if found is None:
        return None
    if not found["name"]:
        return ParseError("Which instance's idle shutdown do you mean?", hint=_IDLE_USAGE)
    target = read_target(found["name"])
    if isinstance(target, ParseError):
        return target
    value = (found["value"] or "").strip()
    if not value:
        return ParseError(f"After how long idle should Azure stop {target.name}?", hint=_IDLE_USAGE)
    if value.lower() in ("off", "none", "never", "disable", "disabled"):
        return SetIdleShutdown(target, None)
    if value.isdigit():
        return SetIdleShutdown(target, int(value))
    duration = read_duration(value)
    if duration is None or duration.total_seconds() < 60:
        return ParseError(f"I could not read “{value}” as an idle time.", hint=_IDLE_USAGE)
    return SetIdleShutdown(target, int(duration.total_seconds() // 60))


def read_why(words: str, now: datetime, zone: ZoneInfo) -> Command | ParseError | None:
    found = _WHY.fullmatch(words)
    if found is None:
        return None
    target = read_target(found["name"])
    return target if isinstance(target, ParseError) else Why(target)
