"""ISO 8601 durations as Azure writes them (`PT15M`, `PT1H30M`, `P1D`, `P1DT12H`, `PT90S`).

Pure. Years and months have no fixed length, so a duration that uses them is not read.
"""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION = re.compile(
    r"^P(?:(?P<weeks>\d+(?:\.\d+)?)W)?(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$",
    re.IGNORECASE,
)


def parse_duration(text: str | None) -> timedelta | None:
    """`text` as a timedelta; None when it is missing or not a fixed-length ISO 8601 duration."""
    if not text:
        return None
    match = _DURATION.match(text.strip())
    if match is None or text.strip().upper() in ("P", "PT") or text.strip().upper().endswith("T"):
        return None
    parts = {name: float(value) for name, value in match.groupdict().items() if value is not None}
    if not parts:
        return None
    return timedelta(**parts)


def duration_minutes(text: str | None) -> int | None:
    """Whole minutes of an ISO 8601 duration (`PT1H30M` -> 90, `P1D` -> 1440); None if unreadable."""
    duration = parse_duration(text)
    return None if duration is None else int(duration.total_seconds() // 60)
