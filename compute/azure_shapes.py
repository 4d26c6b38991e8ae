"""Azure ML's JSON shapes for `lastOperation` and `schedules.computeStartStop`, read into domain values.

Shared by the Azure ML fleet (from the SDK's REST model) and the simulated fleet (which stores the
same shapes). No SDK import here. Azure names zones the Windows way ("W. Europe Standard Time");
the common ones are mapped to IANA names, anything else is kept and read as UTC.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from domain.model import ComputeSchedule, LastOperation

WINDOWS_ZONES = {
    "UTC": "UTC",
    "GMT Standard Time": "Europe/London",
    "W. Europe Standard Time": "Europe/Berlin",
    "Romance Standard Time": "Europe/Paris",
    "Central Europe Standard Time": "Europe/Budapest",
    "Eastern Standard Time": "America/New_York",
    "Central Standard Time": "America/Chicago",
    "Mountain Standard Time": "America/Denver",
    "Pacific Standard Time": "America/Los_Angeles",
    "India Standard Time": "Asia/Kolkata",
    "Tokyo Standard Time": "Asia/Tokyo",
    "AUS Eastern Standard Time": "Australia/Sydney",
}
_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def aware(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        when = value
    else:
        try:
            when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def last_operation(shape: Mapping[str, Any] | None) -> LastOperation | None:
    if not shape or not shape.get("operationName"):
        return None
    return LastOperation(
        name=str(shape["operationName"]),
        at=aware(shape.get("operationTime")) if shape.get("operationTime") else None,
        status=shape.get("operationStatus"),
        trigger=shape.get("operationTrigger"),
    )


def schedules(shape: Sequence[Mapping[str, Any]] | None) -> tuple[ComputeSchedule, ...]:
    """`schedules.computeStartStop` -> the instance's own schedules (unreadable ones are skipped)."""
    found = []
    for item in shape or ():
        schedule = _schedule(item)
        if schedule is not None:
            found.append(schedule)
    return tuple(found)


def _schedule(item: Mapping[str, Any]) -> ComputeSchedule | None:
    action = str(item.get("action") or "").capitalize()
    if action not in ("Start", "Stop"):
        return None
    enabled = str(item.get("status") or "Enabled").lower() == "enabled"
    trigger = str(item.get("triggerType") or ("Cron" if item.get("cron") else "Recurrence"))
    if trigger.lower() == "cron":
        cron = item.get("cron") or {}
        zone = WINDOWS_ZONES.get(str(cron.get("timeZone") or "UTC"), "UTC")
        return _from_cron(action, enabled, zone, str(cron.get("expression") or ""))
    recurrence = item.get("recurrence") or {}
    pattern = recurrence.get("schedule") or {}
    days = [d for d in (str(x).lower() for x in pattern.get("weekDays") or []) if d in _DAYS]
    frequency = str(recurrence.get("frequency") or "").lower()
    return ComputeSchedule(
        action=action,
        enabled=enabled,
        zone=WINDOWS_ZONES.get(str(recurrence.get("timeZone") or "UTC"), "UTC"),
        hours=tuple(int(h) for h in pattern.get("hours") or ()),
        minutes=tuple(int(m) for m in pattern.get("minutes") or (0,)),
        weekdays=frozenset(_DAYS.index(d) for d in days)
        if days and frequency == "week"
        else frozenset(range(7)),
    )


_CRON = re.compile(r"^(\d{1,2})\s+(\d{1,2})\s+\*\s+\*\s+([\d,\-*]+)$")


def _from_cron(action: str, enabled: bool, zone: str, expression: str) -> ComputeSchedule:
    """A simple "M H * * D" cron is read; anything else is kept as its expression."""
    found = _CRON.match(expression.strip())
    if found is None:
        return ComputeSchedule(action, enabled, zone, (), (0,), frozenset(), expression)
    weekdays: set[int] = set()
    for part in found[3].split(","):
        if part == "*":
            weekdays = set(range(7))
            break
        low, _, high = part.partition("-")
        for day in range(int(low), int(high or low) + 1):
            weekdays.add((day - 1) % 7)  # cron: 0 and 7 are Sunday, 1 Monday
    return ComputeSchedule(
        action, enabled, zone, (int(found[2]),), (int(found[1]),), frozenset(weekdays), expression
    )
