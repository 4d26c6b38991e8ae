"""How Curfew writes instants for people: in a named zone, with the zone's name.

Every function refuses a naive datetime with ValueError: an instant without a zone cannot be shown
honestly in anyone's zone. Names of days and months are English and fixed (no locale), so chat
cards and the audit trail read the same on every host.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def require_aware(instant: datetime, what: str = "datetime") -> datetime:
    """Return `instant` unchanged, or raise ValueError when it has no zone (naive)."""
    if instant.tzinfo is None or instant.tzinfo.utcoffset(instant) is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {instant.isoformat()}")
    return instant


def _local(instant: datetime, zone: ZoneInfo) -> datetime:
    return require_aware(instant).astimezone(zone)


def format_clock(instant: datetime, zone: ZoneInfo) -> str:
    """The local wall-clock time of `instant` in `zone`: "00:00"."""
    return f"{_local(instant, zone):%H:%M}"


def in_another_year(instant: datetime, now: datetime, zone: ZoneInfo) -> bool:
    """Whether `instant` falls in another year than `now`, both as read in `zone`."""
    return _local(instant, zone).year != _local(now, zone).year


def format_day(instant: datetime, zone: ZoneInfo, now: datetime | None = None) -> str:
    """The local date of `instant` in `zone`: "Sun 6 Dec"; with the year when it is not the year of
    `now` there: "Fri 1 Jan 2027" (a confirmation never lets a far date read like a near one)."""
    local = _local(instant, zone)
    text = f"{_DAY_NAMES[local.weekday()]} {local.day} {_MONTH_NAMES[local.month - 1]}"
    return f"{text} {local.year}" if now is not None and in_another_year(instant, now, zone) else text


def format_clock_zone(instant: datetime, zone: ZoneInfo) -> str:
    """The local time with the zone's name: "00:00 Europe/Berlin"."""
    return f"{format_clock(instant, zone)} {zone.key}"


def format_local(instant: datetime, zone: ZoneInfo, now: datetime | None = None) -> str:
    """Day, date, time and zone name: "Fri 4 Dec 00:00 Europe/Berlin"; given `now`, with the year
    whenever it is not the current one: "Fri 1 Jan 2027 00:00 Europe/Berlin"."""
    return f"{format_day(instant, zone, now)} {format_clock_zone(instant, zone)}"
