"""Table-driven tests of domain.schedule and domain.timefmt: instants in a workspace's zone."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from domain.model import CurfewPolicy, MorningPolicy, WorkspacePolicy
from domain.schedule import (
    curfew_instant_on,
    first_curfew_after_keep,
    is_curfew_day,
    is_morning_day,
    keep_until_day_end,
    last_curfew,
    last_morning,
    morning_instant_on,
    next_curfew,
    next_morning,
    warning_instant,
)
from domain.timefmt import format_clock, format_day, format_local, in_another_year

BERLIN = ZoneInfo("Europe/Berlin")
LA = ZoneInfo("America/Los_Angeles")
MON_FRI = range(5)


def policy(
    zone: ZoneInfo = BERLIN,
    stop_at: time = time(0, 0),
    days: Iterable[int] = range(7),
    skip: Iterable[date] = (),
    warn: int = 30,
    morning_at: time = time(8, 0),
    morning_days: Iterable[int] = MON_FRI,
    morning_skip: Iterable[date] = (),
) -> WorkspacePolicy:
    return WorkspacePolicy(
        zone=zone,
        curfew=CurfewPolicy(
            stop_at=stop_at, warn_minutes=warn, days=frozenset(days), skip_dates=frozenset(skip)
        ),
        morning=MorningPolicy(
            at=morning_at, days=frozenset(morning_days), skip_dates=frozenset(morning_skip)
        ),
    )


def utc(text: str) -> datetime:
    """An instant written as UTC: "2026-12-03 23:00"."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def local(zone: ZoneInfo, text: str, fold: int = 0) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=zone, fold=fold)


# (zone, stop_at, local date, expected UTC instant)
CURFEW_INSTANTS = [
    pytest.param(BERLIN, time(0, 0), "2026-12-04", "2026-12-03 23:00", id="berlin-midnight-winter"),
    pytest.param(BERLIN, time(23, 30), "2026-12-04", "2026-12-04 22:30", id="berlin-2330-winter"),
    pytest.param(
        BERLIN, time(0, 0), "2026-03-29", "2026-03-28 23:00", id="berlin-spring-day-midnight-still-CET"
    ),
    pytest.param(BERLIN, time(0, 0), "2026-03-30", "2026-03-29 22:00", id="berlin-after-spring-CEST"),
    pytest.param(BERLIN, time(23, 30), "2026-03-29", "2026-03-29 21:30", id="berlin-spring-day-2330-CEST"),
    pytest.param(
        BERLIN, time(2, 30), "2026-03-29", "2026-03-29 01:00", id="berlin-0230-gap-resolves-to-0300"
    ),
    pytest.param(BERLIN, time(2, 0), "2026-03-29", "2026-03-29 01:00", id="berlin-0200-gap-start"),
    pytest.param(BERLIN, time(3, 0), "2026-03-29", "2026-03-29 01:00", id="berlin-0300-just-after-gap"),
    pytest.param(
        BERLIN, time(0, 0), "2026-10-25", "2026-10-24 22:00", id="berlin-fall-day-midnight-still-CEST"
    ),
    pytest.param(BERLIN, time(0, 0), "2026-10-26", "2026-10-25 23:00", id="berlin-after-fall-CET"),
    pytest.param(
        BERLIN, time(2, 30), "2026-10-25", "2026-10-25 00:30", id="berlin-0230-repeated-takes-first"
    ),
    pytest.param(BERLIN, time(2, 30), "2026-10-24", "2026-10-24 00:30", id="berlin-0230-day-before-fall"),
    pytest.param(LA, time(0, 0), "2026-03-08", "2026-03-08 08:00", id="la-spring-day-midnight-PST"),
    pytest.param(LA, time(0, 0), "2026-03-09", "2026-03-09 07:00", id="la-after-spring-PDT"),
    pytest.param(LA, time(2, 30), "2026-03-08", "2026-03-08 10:00", id="la-0230-gap-resolves-to-0300"),
    pytest.param(LA, time(0, 0), "2026-11-01", "2026-11-01 07:00", id="la-fall-day-midnight-PDT"),
    pytest.param(LA, time(1, 30), "2026-11-01", "2026-11-01 08:30", id="la-0130-repeated-takes-first"),
    pytest.param(LA, time(23, 30), "2026-11-01", "2026-11-02 07:30", id="la-fall-day-2330-PST"),
]


@pytest.mark.parametrize(("zone", "stop_at", "day", "expected"), CURFEW_INSTANTS)
def test_curfew_instant_on(zone: ZoneInfo, stop_at: time, day: str, expected: str) -> None:
    instant = curfew_instant_on(policy(zone, stop_at), date.fromisoformat(day))
    assert instant == utc(expected)
    assert instant.utcoffset() == timedelta(0)


# (policy, local date, is a curfew day)
CURFEW_DAYS = [
    pytest.param(policy(days=MON_FRI), "2026-12-04", True, id="friday-in-mon-fri"),
    pytest.param(policy(days=MON_FRI), "2026-12-05", False, id="saturday-not-in-mon-fri"),
    pytest.param(policy(days=MON_FRI), "2026-12-07", True, id="monday-in-mon-fri"),
    pytest.param(policy(skip=[date(2026, 12, 25)]), "2026-12-25", False, id="skip-date"),
    pytest.param(policy(skip=[date(2026, 12, 25)]), "2026-12-26", True, id="day-after-skip-date"),
]


@pytest.mark.parametrize(("pol", "day", "expected"), CURFEW_DAYS)
def test_is_curfew_day(pol: WorkspacePolicy, day: str, expected: bool) -> None:
    assert is_curfew_day(pol, date.fromisoformat(day)) is expected


# (function, policy, argument, keyword arguments, expected UTC instant or None)
SEARCHES: list[Any] = [
    pytest.param(
        last_curfew, policy(), local(BERLIN, "2026-12-04 00:10"), {}, "2026-12-03 23:00", id="last-just-after"
    ),
    pytest.param(
        last_curfew, policy(), utc("2026-12-03 23:00"), {}, "2026-12-03 23:00", id="last-at-instant"
    ),
    pytest.param(
        last_curfew, policy(), utc("2026-12-03 22:59"), {}, "2026-12-02 23:00", id="last-minute-before"
    ),
    pytest.param(
        last_curfew,
        policy(days=MON_FRI),
        local(BERLIN, "2026-12-06 10:00"),
        {},
        "2026-12-03 23:00",
        id="last-weekend",
    ),
    pytest.param(
        last_curfew,
        policy(skip=[date(2026, 12, 25)]),
        local(BERLIN, "2026-12-25 10:00"),
        {},
        "2026-12-23 23:00",
        id="last-skips-skip-date",
    ),
    pytest.param(last_curfew, policy(days=()), utc("2026-12-04 12:00"), {}, None, id="last-no-days"),
    pytest.param(next_curfew, policy(), utc("2026-12-03 23:00"), {}, "2026-12-04 23:00", id="next-exclusive"),
    pytest.param(
        next_curfew,
        policy(),
        utc("2026-12-03 23:00"),
        {"inclusive": True},
        "2026-12-03 23:00",
        id="next-inclusive",
    ),
    pytest.param(
        next_curfew,
        policy(days=MON_FRI),
        local(BERLIN, "2026-12-04 10:00"),
        {},
        "2026-12-06 23:00",
        id="next-monday",
    ),
    pytest.param(
        next_curfew,
        policy(stop_at=time(2, 30)),
        local(BERLIN, "2026-03-29 00:30"),
        {},
        "2026-03-29 01:00",
        id="next-into-gap",
    ),
    pytest.param(
        next_curfew,
        policy(stop_at=time(2, 30)),
        local(BERLIN, "2026-10-25 02:40", fold=0),
        {},
        "2026-10-26 01:30",
        id="next-after-first-0230-skips-repeat",
    ),
    pytest.param(
        next_curfew, policy(LA), utc("2026-11-01 06:00"), {}, "2026-11-01 07:00", id="next-la-fall-day"
    ),
    pytest.param(next_curfew, policy(days=()), utc("2026-12-04 12:00"), {}, None, id="next-no-days"),
    pytest.param(
        last_morning, policy(), local(BERLIN, "2026-12-07 08:05"), {}, "2026-12-07 07:00", id="morning-last"
    ),
    pytest.param(
        last_morning,
        policy(),
        local(BERLIN, "2026-12-07 08:05"),
        {"at": time(9, 0)},
        "2026-12-04 08:00",
        id="morning-own-time-not-yet-today",
    ),
    pytest.param(
        last_morning,
        policy(),
        local(BERLIN, "2026-12-06 08:05"),
        {},
        "2026-12-04 07:00",
        id="morning-weekend-off",
    ),
    pytest.param(
        last_morning,
        policy(morning_skip=[date(2026, 12, 7)]),
        local(BERLIN, "2026-12-07 08:05"),
        {},
        "2026-12-04 07:00",
        id="morning-skip-date",
    ),
    pytest.param(
        next_morning,
        policy(),
        local(BERLIN, "2026-12-04 08:00"),
        {},
        "2026-12-07 07:00",
        id="morning-next-monday",
    ),
    pytest.param(
        next_morning,
        policy(),
        local(BERLIN, "2026-12-04 07:00"),
        {"at": time(7, 0), "inclusive": True},
        "2026-12-04 06:00",
        id="morning-next-inclusive-own-time",
    ),
]


@pytest.mark.parametrize(("search", "pol", "argument", "kwargs", "expected"), SEARCHES)
def test_searches(
    search: Callable[..., datetime | None],
    pol: WorkspacePolicy,
    argument: datetime,
    kwargs: dict[str, Any],
    expected: str | None,
) -> None:
    assert search(pol, argument, **kwargs) == (None if expected is None else utc(expected))


def test_morning_day_and_instant() -> None:
    pol = policy(morning_skip=[date(2026, 12, 8)])
    assert is_morning_day(pol, date(2026, 12, 7)) is True
    assert is_morning_day(pol, date(2026, 12, 8)) is False
    assert is_morning_day(pol, date(2026, 12, 5)) is False
    assert morning_instant_on(pol, date(2026, 12, 7)) == utc("2026-12-07 07:00")
    assert morning_instant_on(pol, date(2026, 12, 7), time(0, 0)) == utc("2026-12-06 23:00")


# (policy, local date, expected end, expected first curfew after that end)
KEEP_UNTIL_DAY = [
    pytest.param(
        policy(), "2026-12-04", "2026-12-04 23:00", "2026-12-04 23:00", id="friday-curfew-0000-is-sat-0000"
    ),
    pytest.param(
        policy(stop_at=time(23, 30)),
        "2026-12-04",
        "2026-12-04 22:30",
        "2026-12-04 22:30",
        id="friday-curfew-2330",
    ),
    pytest.param(
        policy(days=MON_FRI),
        "2026-12-04",
        "2026-12-04 23:00",
        "2026-12-06 23:00",
        id="friday-mon-fri-next-is-mon",
    ),
    pytest.param(
        policy(stop_at=time(12, 0)),
        "2026-12-04",
        "2026-12-04 11:00",
        "2026-12-04 11:00",
        id="curfew-noon-same-day",
    ),
    pytest.param(
        policy(stop_at=time(11, 59)),
        "2026-12-04",
        "2026-12-05 10:59",
        "2026-12-05 10:59",
        id="curfew-1159-next-day",
    ),
    pytest.param(
        policy(LA, skip=[date(2026, 11, 1)]),
        "2026-10-31",
        "2026-11-01 07:00",
        "2026-11-02 08:00",
        id="la-skip-date-first-curfew-next-day",
    ),
]


@pytest.mark.parametrize(("pol", "day", "end", "first_curfew"), KEEP_UNTIL_DAY)
def test_keep_until_day_end(pol: WorkspacePolicy, day: str, end: str, first_curfew: str) -> None:
    ends_at = keep_until_day_end(pol, date.fromisoformat(day))
    assert ends_at == utc(end)
    assert first_curfew_after_keep(pol, ends_at) == utc(first_curfew)


def test_first_curfew_after_explicit_time() -> None:
    friday_1800 = local(BERLIN, "2026-12-04 18:00")
    assert first_curfew_after_keep(policy(), friday_1800) == utc("2026-12-04 23:00")


def test_warning_instant_counts_real_minutes_across_dst() -> None:
    assert warning_instant(policy(), utc("2026-12-03 23:00")) == utc("2026-12-03 22:30")
    # 03:00 CEST on the spring-forward day; 30 real minutes earlier the clocks showed 01:30 CET.
    spring = warning_instant(policy(stop_at=time(3, 0)), utc("2026-03-29 01:00"))
    assert spring == utc("2026-03-29 00:30")
    assert format_clock(spring, BERLIN) == "01:30"


def test_results_do_not_depend_on_the_zone_of_now() -> None:
    now_local = local(LA, "2026-12-03 15:10")  # = 2026-12-03 23:10 UTC = Fri 00:10 in Berlin
    assert last_curfew(policy(), now_local) == last_curfew(policy(), now_local.astimezone(UTC))
    assert last_curfew(policy(), now_local) == utc("2026-12-03 23:00")


# (instant, zone, format_local, format_clock, format_day)
FORMATS = [
    pytest.param(
        utc("2026-12-03 23:00"), BERLIN, "Fri 4 Dec 00:00 Europe/Berlin", "00:00", "Fri 4 Dec", id="berlin"
    ),
    pytest.param(
        utc("2026-12-04 08:00"),
        LA,
        "Fri 4 Dec 00:00 America/Los_Angeles",
        "00:00",
        "Fri 4 Dec",
        id="los-angeles",
    ),
    pytest.param(
        local(BERLIN, "2026-10-25 02:30", fold=1),
        BERLIN,
        "Sun 25 Oct 02:30 Europe/Berlin",
        "02:30",
        "Sun 25 Oct",
        id="second-0230",
    ),
]


@pytest.mark.parametrize(("instant", "zone", "full", "clock", "day"), FORMATS)
def test_formats(instant: datetime, zone: ZoneInfo, full: str, clock: str, day: str) -> None:
    assert format_local(instant, zone) == full
    assert format_clock(instant, zone) == clock
    assert format_day(instant, zone) == day


# (instant, now, zone, format_local given `now`, another year there): the year whenever it is not the
# current one, as read in the zone
WITH_YEAR = [
    pytest.param(
        utc("2026-12-03 23:00"),
        utc("2026-12-01 12:00"),
        BERLIN,
        "Fri 4 Dec 00:00 Europe/Berlin",
        False,
        id="same",
    ),
    pytest.param(
        utc("2026-12-31 23:00"),
        utc("2026-12-31 22:30"),
        BERLIN,
        "Fri 1 Jan 2027 00:00 Europe/Berlin",
        True,
        id="next-year-in-berlin",
    ),
    pytest.param(
        utc("2026-12-31 23:00"),
        utc("2026-12-31 22:30"),
        LA,
        "Thu 31 Dec 15:00 America/Los_Angeles",
        False,
        id="not-yet-in-los-angeles",
    ),
    pytest.param(
        utc("2099-12-31 23:00"),
        utc("2026-12-01 12:00"),
        ZoneInfo("UTC"),
        "Thu 31 Dec 2099 23:00 UTC",
        True,
        id="far",
    ),
    pytest.param(
        utc("2026-11-30 23:00"),
        utc("2027-01-02 12:00"),
        BERLIN,
        "Tue 1 Dec 2026 00:00 Europe/Berlin",
        True,
        id="last-year",
    ),
]


@pytest.mark.parametrize(("instant", "now", "zone", "full", "other_year"), WITH_YEAR)
def test_formats_with_the_year_when_it_is_not_the_current_one(
    instant: datetime, now: datetime, zone: ZoneInfo, full: str, other_year: bool
) -> None:
    assert format_local(instant, zone, now) == full
    assert format_day(instant, zone, now) == full.rsplit(" ", 2)[0]
    assert in_another_year(instant, now, zone) is other_year
    assert format_local(instant, zone) == format_local(instant, zone, instant)  # no `now`: no year


NAIVE = datetime(2026, 12, 4, 0, 0)

NAIVE_CALLS = [
    pytest.param(lambda: last_curfew(policy(), NAIVE), id="last_curfew"),
    pytest.param(lambda: next_curfew(policy(), NAIVE), id="next_curfew"),
    pytest.param(lambda: last_morning(policy(), NAIVE), id="last_morning"),
    pytest.param(lambda: next_morning(policy(), NAIVE), id="next_morning"),
    pytest.param(lambda: warning_instant(policy(), NAIVE), id="warning_instant"),
    pytest.param(lambda: first_curfew_after_keep(policy(), NAIVE), id="first_curfew_after_keep"),
    pytest.param(lambda: format_local(NAIVE, BERLIN), id="format_local"),
    pytest.param(lambda: format_clock(NAIVE, BERLIN), id="format_clock"),
    pytest.param(lambda: format_day(NAIVE, BERLIN), id="format_day"),
]


@pytest.mark.parametrize("call", NAIVE_CALLS)
def test_naive_datetimes_are_refused(call: Callable[[], object]) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        call()
