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


def format_day(instant: datetime, zone: ZoneInfo) -> str:
    """The local date of `instant` in `zone`: "Sun 6 Dec"."""
    local = _local(instant, zone)
    return f"{_DAY_NAMES[local.weekday()]} {local.day} {_MONTH_NAMES[local.month - 1]}"


def format_clock_zone(instant: datetime, zone: ZoneInfo) -> str:
    """The local time with the zone's name: "00:00 Europe/Berlin"."""
    return f"{format_clock(instant, zone)} {zone.key}"


def format_local(instant: datetime, zone: ZoneInfo) -> str:
    """Day, date, time and zone name: "Fri 4 Dec 00:00 Europe/Berlin"."""
    return f"{format_day(instant, zone)} {format_clock_zone(instant, zone)}"
