"""Turning "keep gpu-ci until Friday" into an exception with an absolute end, within the limits.

Pure: the parsed end (domain.grammar), `now`, the workspace's policy and the reader's zone go in; a
`KeepPlan` (or a `KeepRefusal` a person can act on) comes out. DECISIONS.md rule 1: "until DAY" ends at
the first curfew at or after 12:00 on that day in the reader's zone; an explicit time ends exactly then;
either way the plan names the first curfew that will stop the instance afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain.grammar_types import ForDuration, KeepEnd, Tonight, UntilDay, UntilInstant
from domain.model import WorkspacePolicy
from domain.schedule import local_instant, next_curfew
from domain.timefmt import format_local, require_aware

NOON = time(12, 0)


@dataclass(frozen=True, slots=True)
class KeepLimits:
    max_days: int
    approval_over_days: int


@dataclass(frozen=True, slots=True)
class KeepPlan:
    starts_at: datetime
    until: datetime
    next_curfew: datetime | None
    """The first curfew at or after `until`: when Curfew stops the instance afterwards."""
    needs_approval: bool
    in_force_until: datetime | None
    """For an exception that needs approval: the part in force until an approver decides."""


@dataclass(frozen=True, slots=True)
class KeepRefusal:
    message: str


def plan_keep(
    end: KeepEnd, now: datetime, policy: WorkspacePolicy, reader_zone: ZoneInfo, limits: KeepLimits
) -> KeepPlan | KeepRefusal:
    require_aware(now, "now")
    if _far_beyond(end, now, limits):  # "for 999999999 days", "until 9999-12-31": never computed
        return _too_long(now, reader_zone, limits)
    try:
        until = resolve_end(end, now, policy, reader_zone)
    except OverflowError:  # past what a datetime holds: longer than any limit
        return _too_long(now, reader_zone, limits)
    if until is None:
        return KeepRefusal("There is no curfew coming to skip: the curfew runs on no day.")
    if until <= now:
        return KeepRefusal(f"{format_local(until, reader_zone, now)} is in the past; choose a later time.")
    if until - now > timedelta(days=limits.max_days):
        return _too_long(now, reader_zone, limits)
    needs_approval = until - now > timedelta(days=limits.approval_over_days)
    in_force = now + timedelta(days=limits.approval_over_days) if needs_approval else None
    return KeepPlan(now, until, next_curfew(policy, until, inclusive=True), needs_approval, in_force)


def _far_beyond(end: KeepEnd, now: datetime, limits: KeepLimits) -> bool:
    """True when `end` is past `max_days` by more than a day, judged without adding to `now` (which
    overflows for ends near the year 9999)."""
    bound = timedelta(days=limits.max_days + 1)
    match end:
        case ForDuration(duration):
            return duration > bound
        case UntilInstant(at):
            return at - now > bound
        case UntilDay(day):
            return day - now.date() > bound
    return False


def _too_long(now: datetime, reader_zone: ZoneInfo, limits: KeepLimits) -> KeepRefusal:
    latest = format_local(now + timedelta(days=limits.max_days), reader_zone, now)
    return KeepRefusal(
        f"Curfew keeps an instance on for at most {limits.max_days} days (until {latest} at the latest). "
        "Ask a workspace admin if you need longer."
    )


def resolve_end(
    end: KeepEnd, now: datetime, policy: WorkspacePolicy, reader_zone: ZoneInfo
) -> datetime | None:
    """The absolute end of a keep-on."""
    match end:
        case ForDuration(duration):
            return now + duration
        case UntilInstant(at):
            return require_aware(at, "until")
        case UntilDay(day):
            return _curfew_time_at_or_after(policy, local_instant(reader_zone, day, NOON))
        case Tonight():
            coming = next_curfew(policy, now, inclusive=True)
            return None if coming is None else next_curfew(policy, coming)
    raise TypeError(f"not a keep end: {end!r}")


def _curfew_time_at_or_after(policy: WorkspacePolicy, instant: datetime) -> datetime:
    """The first instant at or after `instant` whose local time in the workspace zone is stop_at."""
    local_day = instant.astimezone(policy.zone).date()
    for offset in range(3):
        candidate = local_instant(policy.zone, local_day + timedelta(days=offset), policy.curfew.stop_at)
        if candidate >= instant:
            return candidate
    raise AssertionError("a curfew time recurs every day")


def describe_plan(plan: KeepPlan, zone: ZoneInfo) -> str:
    """ "until Sat 5 Dec 00:00 Europe/Berlin; the curfew stops it then" in the reader's zone, with the
    year whenever it is not the year the plan was made in."""
    now = plan.starts_at
    text = f"until {format_local(plan.until, zone, now)}"
    if plan.next_curfew is None:
        return text + "; no curfew is scheduled after that"
    if plan.next_curfew == plan.until:
        return text + "; the curfew stops it then"
    return text + f"; the curfew stops it at {format_local(plan.next_curfew, zone, now)}"


DELAY_HOURS = (1, 2)
"""The warning card's curfew delays: keep the instance this many hours past the coming curfew."""


def plan_delay(
    hours: int, now: datetime, policy: WorkspacePolicy, limits: KeepLimits
) -> KeepPlan | KeepRefusal:
    """Keep 1 hour / Keep 2 hours from the warning card: past the coming curfew (from the policy, never
    from the card), and Curfew itself stops the instance when the delay ends (so `next_curfew` is the
    delay's end). Within the same limits as every keep-on."""
    require_aware(now, "now")
    if hours not in DELAY_HOURS:
        return KeepRefusal(f"Curfew delays a curfew by {' or '.join(map(str, DELAY_HOURS))} hours only.")
    coming = next_curfew(policy, now, inclusive=True)
    if coming is None:
        return KeepRefusal("There is no curfew coming to skip: the curfew runs on no day.")
    until = coming + timedelta(hours=hours)
    if until - now > timedelta(days=limits.max_days):
        return KeepRefusal(f"Curfew keeps an instance on for at most {limits.max_days} days.")
    return KeepPlan(now, until, until, False, None)
