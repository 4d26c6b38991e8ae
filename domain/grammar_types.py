"""The values the chat grammar produces: one frozen dataclass per command, plus `ParseError`.

`domain.grammar` re-exports everything here; import from there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal, TypeAlias


@dataclass(frozen=True, slots=True)
class Target:
    """An instance named in chat: its name as typed, and the workspace alias after `@`, if any."""

    name: str
    workspace: str | None = None


@dataclass(frozen=True, slots=True)
class Tonight:
    """Skip the coming curfew only."""


@dataclass(frozen=True, slots=True)
class ForDuration:
    """Keep on for this long from now (always positive)."""

    duration: timedelta


@dataclass(frozen=True, slots=True)
class UntilDay:
    """Keep on through `day`; the caller ends it at the first curfew at or after 12:00 that day."""

    day: date


@dataclass(frozen=True, slots=True)
class UntilInstant:
    """Keep on until an explicit time, aware and in the reader's zone."""

    at: datetime


KeepEnd: TypeAlias = Tonight | ForDuration | UntilDay | UntilInstant


@dataclass(frozen=True, slots=True)
class Help:
    pass


@dataclass(frozen=True, slots=True)
class Status:
    pass


@dataclass(frozen=True, slots=True)
class Keep:
    target: Target
    end: KeepEnd
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class AmbiguousKeep:
    """A keep whose date reads two ways (day/month order); the caller asks which one, in this order."""

    target: Target
    readings: tuple[KeepEnd, ...]
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Release:
    target: Target


@dataclass(frozen=True, slots=True)
class Stop:
    target: Target


@dataclass(frozen=True, slots=True)
class Start:
    target: Target


@dataclass(frozen=True, slots=True)
class SetMorningStart:
    """Turn an owner's weekday morning start on or off; `at` overrides the policy's time."""

    target: Target
    enabled: bool
    at: time | None = None


@dataclass(frozen=True, slots=True)
class History:
    target: Target


@dataclass(frozen=True, slots=True)
class RequestInstance:
    """Ask for a new instance; `size_hint` is a lower-case word ("gpu", "large") or a VM size as typed."""

    size_hint: str | None = None


@dataclass(frozen=True, slots=True)
class MyRequests:
    pass


@dataclass(frozen=True, slots=True)
class Report:
    period: Literal["week", "month"] = "week"
    workspace: str | None = None


@dataclass(frozen=True, slots=True)
class SetIdleShutdown:
    """Azure ML's idle shutdown of an instance: after `minutes` idle, or off (None)."""

    target: Target
    minutes: int | None


@dataclass(frozen=True, slots=True)
class Why:
    """Why is it (still) on?"""

    target: Target


@dataclass(frozen=True, slots=True)
class SetEndDate:
    """`end NAME on DATE`, `NAME ends DATE`, `extend NAME until DATE`: the instance's last day."""

    target: Target
    day: date
    extend: bool = False


@dataclass(frozen=True, slots=True)
class Retire:
    """`retire NAME`: it ends now (stopped at once)."""

    target: Target


@dataclass(frozen=True, slots=True)
class ParseError:
    """What went wrong, in words for the person who typed it, and what to type instead."""

    message: str
    hint: str | None = None
    not_understood: bool = False
    """Nothing in it read as a command (the reply is the help card), rather than a command with a flaw."""


Command: TypeAlias = (
    Help
    | Status
    | Keep
    | AmbiguousKeep
    | Release
    | Stop
    | Start
    | SetMorningStart
    | History
    | RequestInstance
    | MyRequests
    | Report
    | SetIdleShutdown
    | Why
    | SetEndDate
    | Retire
)
