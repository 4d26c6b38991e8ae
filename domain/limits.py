"""Bounds on what people and Teams send, checked where it enters (issue 12).

One constant per kind of value, used by every way in: chat (domain.grammar), the cards' inputs and
the request form (bot/conversation, domain.requests), and the adapter for what Teams says of the
sender (their name, their client's time zone). Pure: no clock, no SDK.
"""

from __future__ import annotations

from functools import cache
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

REASON_MAX: Final = 200
"""Characters in a keep-on's reason, a request's purpose or an approver's comment, however it is
typed. It keeps every card that lists them (history, report, digest) far within Teams' size limit."""
PERSON_NAME_MAX: Final = 200
"""Characters of a person's name as Teams gives it (`from.name`); the columns that keep names hold 200."""
ZONE_NAME_MAX: Final = 64
"""Characters of an IANA zone name (the longest is 32); the column that keeps one holds 64."""
_SHOWN_MAX: Final = 40


def too_long(what: str, text: str, limit: int = REASON_MAX) -> str | None:
    """The answer for a `what` ("The reason") longer than `limit`; None when it fits."""
    if len(text) <= limit:
        return None
    return f"{what} may have at most {limit} characters (this one has {len(text):,}); please shorten it."


def bounded_name(name: str | None) -> str | None:
    """A person's name cut to `PERSON_NAME_MAX` characters (the last one an ellipsis)."""
    if name is None or len(name) <= PERSON_NAME_MAX:
        return name
    return name[: PERSON_NAME_MAX - 1] + "…"


@cache
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def known_zone(name: object) -> ZoneInfo | None:
    """The IANA zone `name` names; None for anything else (not a string, too long, unknown)."""
    if not isinstance(name, str) or not 0 < len(name) <= ZONE_NAME_MAX or name not in _zone_names():
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def shown(text: str) -> str:
    """`text` short enough to quote back to its sender (at most 40 characters)."""
    return text if len(text) <= _SHOWN_MAX else text[: _SHOWN_MAX - 1] + "…"
