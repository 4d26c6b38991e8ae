"""The chat grammar: `parse_command` turns one Teams message into a `Command` or a `ParseError`.

A pure function: `now` and the reader's `zone` are arguments, nothing here reads a clock. Case,
Teams markup, punctuation at the ends and politeness ("please", "hey curfew", "thanks") do not
matter; names and reasons are kept as typed. How WHEN in "keep NAME until WHEN" is read, weekdays and
ambiguous dates included, is written down in `domain.grammar_dates`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Final, TypeAlias
from zoneinfo import ZoneInfo

from domain.grammar_clock import looks_like_duration, read_duration
from domain.grammar_commands import read_fixed, read_morning_start, read_report, read_request, read_targeted
from domain.grammar_dates import read_until
from domain.grammar_idle import read_idle, read_why
from domain.grammar_life import read_end_date, read_retire
from domain.grammar_text import MAX_MESSAGE_CHARS, markup_removed, plain_words, read_target
from domain.grammar_types import (
    AmbiguousKeep,
    Command,
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
    Retire,
    SetEndDate,
    SetIdleShutdown,
    SetMorningStart,
    Start,
    Status,
    Stop,
    Target,
    Tonight,
    UntilDay,
    UntilInstant,
    Why,
)
from domain.limits import too_long

__all__ = [
    "AmbiguousKeep",
    "Command",
    "ForDuration",
    "Help",
    "History",
    "Keep",
    "KeepEnd",
    "MyRequests",
    "ParseError",
    "Release",
    "Report",
    "RequestInstance",
    "Retire",
    "SetEndDate",
    "SetIdleShutdown",
    "SetMorningStart",
    "Start",
    "Status",
    "Stop",
    "Target",
    "Tonight",
    "UntilDay",
    "UntilInstant",
    "Why",
    "parse_command",
]

_Reader: TypeAlias = Callable[[str, datetime, ZoneInfo], Command | ParseError | None]
_HELP_HINT: Final = "Type help to see what I can do."
_KEEP_HINT: Final = "keep {name} for 2 hours, tonight, or until Friday"


def parse_command(text: str, now: datetime, zone: ZoneInfo) -> Command | ParseError:
    """Read one chat message; dates and times are read in `zone`, relative to the aware `now`."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("parse_command needs an aware `now`")
    if len(text) > MAX_MESSAGE_CHARS:
        return ParseError(
            f"That message is too long for me ({len(text):,} characters; at most {MAX_MESSAGE_CHARS:,}).",
            hint=_HELP_HINT,
        )
    words = plain_words(text)
    if not words:
        shown = markup_removed(text)
        if not shown:
            return ParseError("The message is empty.", hint=_HELP_HINT)
        return ParseError(f"I did not understand “{shown}”.", hint=_HELP_HINT, not_understood=True)
    local_now = now.astimezone(zone)
    for read in _READERS:
        if (command := read(words, local_now, zone)) is not None:
            return command
    return ParseError(f"I did not understand “{words}”.", hint=_HELP_HINT, not_understood=True)


_KEEP: Final = re.compile(r"(?:keep|don'?t\s+stop|do\s+not\s+stop)(?:\s+(?:my\s+)?(?P<rest>.+))?", re.I)
_STATE_WORDS: Final = ("on", "running", "alive", "up", "going", "awake")
_STATE: Final = re.compile(rf"(?:{'|'.join(_STATE_WORDS)})(?:\s+|$)", re.I)
_END_WORD: Final = re.compile(r"(?:until|till|til|'til|to|through|thru|up|for|tonight|overnight)\b", re.I)
_TONIGHT: Final = re.compile(
    r"(?:for\s+)?(?:tonight|overnight|over\s+night|through\s+the\s+night)(?P<rest>(?:\W.*)?)", re.I
)
_UNTIL: Final = re.compile(r"(?:up\s+)?(?:until|untill|till|til|'til|to|through|thru)\s+(?P<when>.+)", re.I)
_FOR: Final = re.compile(r"^(?:for\s+)?(?:the\s+)?(?:next\s+)?", re.I)
_REASON: Final = re.compile(r"\s*(?:\b(?:because|for|reason)\b\s*:?|(?<!\d):(?!\d)|\s-\s)\s*", re.I)


def _read_keep(words: str, now: datetime, zone: ZoneInfo) -> Command | ParseError | None:
    found = _KEEP.fullmatch(words)
    if found is None:
        return None
    name, _, tail = (found["rest"] or "").partition(" ")
    if name.lower() in _STATE_WORDS and tail and not _END_WORD.match(tail):  # "keep alive gpu-ci ..."
        name, _, tail = tail.partition(" ")
    if not name:
        return ParseError("Which instance should I keep on?", hint=_KEEP_HINT.format(name="NAME"))
    target = read_target(name)
    if isinstance(target, ParseError):
        return target
    state = _STATE.match(tail)  # "keep gpu-ci on until ...", "keep gpu-ci running for ..."
    read = _read_end(tail[state.end() :] if state else tail, target, now, zone)
    if isinstance(read, ParseError):
        return read
    ends, reason = read
    if reason and (problem := too_long("A reason", reason)):
        return ParseError(problem, hint=f"keep {target.name} until Friday because training")
    return Keep(target, ends[0], reason) if len(ends) == 1 else AmbiguousKeep(target, ends, reason)


def _read_end(
    tail: str, target: Target, now: datetime, zone: ZoneInfo
) -> tuple[tuple[KeepEnd, ...], str | None] | ParseError:
    """The end of a keep and its reason, from what follows the name."""
    if found := _TONIGHT.fullmatch(tail):
        extra, reason = _split_reason(found["rest"])
        return ((Tonight(),), reason) if not extra else _unreadable_end(tail)
    if found := _UNTIL.fullmatch(tail):
        when, reason = _split_reason(found["when"])
        ends = read_until(when, now, zone)
        return ends if isinstance(ends, ParseError) else (ends, reason)
    amount, reason = _split_reason(_FOR.sub("", tail))
    if not amount or not looks_like_duration(amount):
        return ParseError(
            f"How long should I keep {target.name} on?", hint=_KEEP_HINT.format(name=target.name)
        )
    duration = read_duration(amount)
    if duration is None:
        return ParseError(f"I could not read “{amount}” as a duration.", hint="Try 90 minutes, 2h or 3 days.")
    if duration <= timedelta(0):
        return ParseError("A keep must last longer than zero.", hint=_KEEP_HINT.format(name=target.name))
    return (ForDuration(duration),), reason


def _split_reason(text: str) -> tuple[str, str | None]:
    """("2 hours", "training") from "2 hours for training"; a reason is kept as typed."""
    found = _REASON.search(text)
    if found is None:
        return text.strip(), None
    return text[: found.start()].strip(), text[found.end() :].strip() or None


def _unreadable_end(tail: str) -> ParseError:
    return ParseError(f"I could not read “{tail}”.", hint=_KEEP_HINT.format(name="NAME"))


_READERS: Final[tuple[_Reader, ...]] = (
    read_fixed,
    read_morning_start,
    read_idle,
    read_why,
    read_retire,
    read_end_date,
    _read_keep,
    read_targeted,
    read_request,
    read_report,
)
