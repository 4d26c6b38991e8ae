"""When curfews, warnings and morning starts fall, in a workspace's own zone.

Pure time arithmetic: no clock inside. Every datetime argument must be aware (ValueError
otherwise); every instant returned is an aware datetime in UTC. Results are UTC on purpose:
Python compares and subtracts two datetimes that share a `ZoneInfo` by wall clock, ignoring
daylight-saving changes, while UTC arithmetic is always exact. Show them with `domain.timefmt`.

Rules:

- A daily local time ("stop at 00:00") becomes an instant on a given local date in the zone.
  A local time that does not exist (the spring-forward gap, e.g. 02:30 on 2026-03-29 in
  Europe/Berlin) resolves to the instant just after the gap (03:00 CEST, 01:00 UTC). A local
  time that happens twice (the fall-back hour, e.g. 02:30 on 2026-10-25 in Europe/Berlin) takes
  the first occurrence (02:30 CEST, 00:30 UTC).
- `days` and `skip_dates` name the local date the instant falls on: with stop_at 00:00, `sat`
  is the night Friday to Saturday, and skipping 2026-12-25 skips the curfew at 00:00 on the 25th.
- Searches look at most 8 + len(skip_dates) days back or ahead and return None when no day in
  that window qualifies (e.g. no curfew days at all).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain.model import CurfewPolicy, MorningPolicy, WorkspacePolicy
from domain.timefmt import require_aware

__all__ = [
    "curfew_instant_on",
    "first_curfew_after_keep",
    "is_curfew_day",
    "is_morning_day",
    "keep_until_day_end",
    "last_curfew",
    "last_morning",
    "local_instant",
    "morning_instant_on",
    "next_curfew",
    "next_morning",
    "warning_instant",
]

_NOON = time(12, 0)


def local_instant(zone: ZoneInfo, day: date, at: time) -> datetime:
    """The UTC instant when clocks in `zone` show `at` on `day` (gap: just after; repeat: first)."""
    wall = datetime.combine(day, at.replace(tzinfo=None, fold=0), tzinfo=zone)
    candidate = wall.astimezone(UTC)
    if candidate.astimezone(zone).replace(tzinfo=None) == wall.replace(tzinfo=None):
        return candidate  # exists; fold=0 is the first occurrence of a repeated time
    return _gap_end(zone, earliest=wall.replace(fold=1).astimezone(UTC), latest=candidate)


def _gap_end(zone: ZoneInfo, earliest: datetime, latest: datetime) -> datetime:
    """The first instant at which the offset changes, searched in (earliest, latest] by the second.

    For a wall time in a gap, fold=1 reads it with the offset after the change (an instant before
    the change) and fold=0 with the offset before it (an instant at or after the change).
    """
    before = earliest.astimezone(zone).utcoffset()
    low, high = 0, int((latest - earliest).total_seconds())
    while high - low > 1:
        middle = (low + high) // 2
        if (earliest + timedelta(seconds=middle)).astimezone(zone).utcoffset() == before:
            low = middle
        else:
            high = middle
    return earliest + timedelta(seconds=high)


def _runs_on(rule: CurfewPolicy | MorningPolicy, day: date) -> bool:
    return day.weekday() in rule.days and day not in rule.skip_dates


def _window(rule: CurfewPolicy | MorningPolicy) -> int:
    return 8 + len(rule.skip_dates)


def _last(zone: ZoneInfo, rule: CurfewPolicy | MorningPolicy, at: time, now: datetime) -> datetime | None:
    now = require_aware(now, "now").astimezone(UTC)
    today = now.astimezone(zone).date()
    for back in range(-1, _window(rule)):
        day = today - timedelta(days=back)
        instant = local_instant(zone, day, at)
        if _runs_on(rule, day) and instant <= now:
            return instant
    return None


def _next(
    zone: ZoneInfo, rule: CurfewPolicy | MorningPolicy, at: time, after: datetime, inclusive: bool
) -> datetime | None:
    after = require_aware(after, "after").astimezone(UTC)
    today = after.astimezone(zone).date()
    for ahead in range(-1, _window(rule)):
        day = today + timedelta(days=ahead)
        instant = local_instant(zone, day, at)
        if _runs_on(rule, day) and (instant > after or (inclusive and instant == after)):
            return instant
    return None


def is_curfew_day(policy: WorkspacePolicy, day: date) -> bool:
    """True when a curfew falls on local date `day`: its weekday is in `days`, it is no skip date."""
    return _runs_on(policy.curfew, day)


def curfew_instant_on(policy: WorkspacePolicy, day: date) -> datetime:
    """The curfew instant whose local date is `day` (whether or not `day` is a curfew day)."""
    return local_instant(policy.zone, day, policy.curfew.stop_at)


def last_curfew(policy: WorkspacePolicy, now: datetime) -> datetime | None:
    """The most recent curfew instant at or before `now` on a curfew day."""
    return _last(policy.zone, policy.curfew, policy.curfew.stop_at, now)


def next_curfew(policy: WorkspacePolicy, after: datetime, *, inclusive: bool = False) -> datetime | None:
    """The first curfew instant after `after` (or at it, when `inclusive`) on a curfew day."""
    return _next(policy.zone, policy.curfew, policy.curfew.stop_at, after, inclusive)


def warning_instant(policy: WorkspacePolicy, curfew_instant: datetime) -> datetime:
    """When to warn owners: `warn_minutes` of real time before `curfew_instant`."""
    instant = require_aware(curfew_instant, "curfew_instant").astimezone(UTC)
    return instant - timedelta(minutes=policy.curfew.warn_minutes)


def _morning_at(policy: WorkspacePolicy, at: time | None) -> time:
    return policy.morning.at if at is None else at


def is_morning_day(policy: WorkspacePolicy, day: date) -> bool:
    """True when morning starts run on local date `day` (morning `days`, not a morning skip date)."""
    return _runs_on(policy.morning, day)


def morning_instant_on(policy: WorkspacePolicy, day: date, at: time | None = None) -> datetime:
    """The morning-start instant on local date `day`, at `at` (an instance's own time) or the policy's."""
    return local_instant(policy.zone, day, _morning_at(policy, at))


def last_morning(policy: WorkspacePolicy, now: datetime, at: time | None = None) -> datetime | None:
    """The most recent morning-start instant at or before `now` on a morning day."""
    return _last(policy.zone, policy.morning, _morning_at(policy, at), now)


def next_morning(
    policy: WorkspacePolicy, after: datetime, at: time | None = None, *, inclusive: bool = False
) -> datetime | None:
    """The first morning-start instant after `after` (or at it, when `inclusive`) on a morning day."""
    return _next(policy.zone, policy.morning, _morning_at(policy, at), after, inclusive)


def keep_until_day_end(policy: WorkspacePolicy, day: date) -> datetime:
    """End of a keep-on "until DAY" (DECISIONS.md rule 1), regardless of curfew days and skip dates.

    The first curfew time at or after 12:00 on local date `day`: with the curfew at 00:00 that is
    00:00 of the next day; with the curfew at 23:30 it is 23:30 on `day` itself.
    """
    stop_at = policy.curfew.stop_at
    end_day = day if stop_at >= _NOON else day + timedelta(days=1)
    return local_instant(policy.zone, end_day, stop_at)


def first_curfew_after_keep(policy: WorkspacePolicy, end: datetime) -> datetime | None:
    """The curfew that stops an instance whose keep-on ends at `end`: the first at or after `end`."""
    return next_curfew(policy, end, inclusive=True)
