"""The money arithmetic, pure: amounts with currencies, the ledger's rules as a table (a weekend, both
daylight-saving changes, keep-ons), and the report over a period (days, nights, clipping)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from domain.model import KeepOnState
from domain.money import (
    Money,
    PriceList,
    Span,
    cost,
    format_money,
    format_rate,
    format_total,
    hours_between,
    keep_on_end,
    kept_span,
    monthly,
    saved_span,
)
from domain.money_report import EntryKind, Period, Priced, build_report

BERLIN = ZoneInfo("Europe/Berlin")
GPU = Money(Decimal("3.06"), "USD")


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)  # type: ignore[misc]


def test_money_is_decimal_with_its_currency() -> None:
    doubled = GPU + GPU
    assert doubled == Money(Decimal("6.12"), "USD")
    assert GPU.times(Decimal("0.5")) == Money(Decimal("1.530"), "USD")
    with pytest.raises(ValueError, match="cannot add EUR to USD"):
        _ = GPU + Money(Decimal(1), "EUR")
    with pytest.raises(TypeError):
        Money(3.06, "USD")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Money(Decimal(1), "dollars")
    assert format_money(Money(Decimal("1234.565"), "USD")) == "USD 1,234.57"
    assert format_money(None) == "unknown"
    assert [format_rate(Money(Decimal(p), "USD")) for p in ("0.293", "3.06", "0.5", "0.12345", "0.004")] == [
        "USD 0.29/h",
        "USD 3.06/h",
        "USD 0.50/h",
        "USD 0.12/h",
        "USD 0.004/h",
    ]
    assert format_total({"USD": Decimal("1"), "EUR": Decimal("2")}) == "EUR 2.00 + USD 1.00"
    assert format_total({}) == "USD 0.00"
    assert monthly(GPU) == Money(Decimal("2233.80"), "USD")  # 730 h
    assert monthly(None) is None and cost(None, berlin(2026, 1, 1), berlin(2026, 1, 2)) is None


def test_a_price_list_knows_prices_by_size_and_says_where_they_come_from() -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    prices = PriceList("westeurope", "USD", {"Standard_NC6s_v3": Decimal("3.06"), "Standard_X": None}, now)
    assert prices.per_hour("standard_nc6s_v3") == GPU
    assert prices.per_hour("Standard_X") is None and prices.per_hour("Standard_Y") is None
    assert prices.source == "Azure retail prices, westeurope"
    assert PriceList("simulated", "USD", {}, now, simulated=True).source == "simulated prices"


# stopped at, next start (Azure's last_started_at), gone at, now -> hours saved, closed
SAVED = [
    pytest.param(
        berlin(2026, 12, 5, 0, 0),
        berlin(2026, 12, 7, 8, 0),
        None,
        berlin(2026, 12, 8),
        "56",
        True,
        id="weekend",
    ),
    pytest.param(
        berlin(2026, 3, 29, 0, 0),
        berlin(2026, 3, 29, 8, 0),
        None,
        berlin(2026, 3, 30),
        "7",
        True,
        id="spring-dst",
    ),
    pytest.param(
        berlin(2026, 10, 25, 0, 0),
        berlin(2026, 10, 25, 8, 0),
        None,
        berlin(2026, 10, 26),
        "9",
        True,
        id="fall-dst",
    ),
    pytest.param(
        berlin(2026, 12, 1, 0, 0),
        None,
        None,
        berlin(2026, 12, 1, 10, 30),
        "10.5",
        False,
        id="not-started-yet",
    ),
    pytest.param(
        berlin(2026, 12, 1, 0, 0),
        berlin(2026, 11, 30, 8, 0),
        None,
        berlin(2026, 12, 1, 6, 0),
        "6",
        False,
        id="start-before-stop-is-not-a-next-start",
    ),
    pytest.param(
        berlin(2026, 12, 1, 0, 0),
        None,
        berlin(2026, 12, 1, 5, 0),
        berlin(2026, 12, 3),
        "5",
        True,
        id="deleted",
    ),
    pytest.param(
        berlin(2026, 12, 1, 0, 0),
        berlin(2026, 12, 1, 8, 0),
        None,
        berlin(2026, 12, 1, 7, 0),
        "7",
        False,
        id="a-start-after-now-is-not-seen-yet",
    ),
]


@pytest.mark.parametrize(("stopped", "started", "gone", "now", "hours", "closed"), SAVED)
def test_what_a_curfew_stop_saved(
    stopped: datetime,
    started: datetime | None,
    gone: datetime | None,
    now: datetime,
    hours: str,
    closed: bool,
) -> None:
    span = saved_span(stopped, now, next_start=started, gone_at=gone)
    assert (span.hours, span.closed) == (Decimal(hours), closed)
    assert cost(GPU, span.start, span.end) == Money(Decimal("3.06") * Decimal(hours), "USD")


# skipped curfew, keep-on end, found stopped at, now -> hours kept, closed
KEPT = [
    pytest.param(
        berlin(2026, 11, 30), berlin(2026, 12, 1), None, berlin(2026, 12, 2), "24", True, id="keep-tonight"
    ),
    pytest.param(
        berlin(2026, 11, 30),
        berlin(2026, 11, 30, 1, 0),
        berlin(2026, 12, 1),
        berlin(2026, 12, 1),
        "1",
        True,
        id="keep-1-hour-then-stopped",
    ),
    pytest.param(
        berlin(2026, 3, 29),
        berlin(2026, 3, 29, 12, 0),
        None,
        berlin(2026, 3, 30),
        "11",
        True,
        id="keep-across-spring-dst",
    ),
    pytest.param(
        berlin(2026, 12, 1),
        berlin(2026, 12, 5),
        berlin(2026, 12, 2),
        berlin(2026, 12, 3),
        "24",
        True,
        id="until-saturday-but-stopped-tuesday-night",
    ),
    pytest.param(
        berlin(2026, 12, 4),
        berlin(2026, 12, 7),
        None,
        berlin(2026, 12, 5, 12, 0),
        "36",
        False,
        id="weekend-keep-still-in-force",
    ),
]


@pytest.mark.parametrize(("skipped", "ended", "stopped", "now", "hours", "closed"), KEPT)
def test_what_a_keep_on_cost(
    skipped: datetime, ended: datetime, stopped: datetime | None, now: datetime, hours: str, closed: bool
) -> None:
    span = kept_span(skipped, now, keep_ended_at=ended, found_stopped_at=stopped)
    assert (span.hours, span.closed) == (Decimal(hours), closed)


@pytest.mark.parametrize(
    ("state", "in_force", "ended", "decided", "expected"),
    [
        (KeepOnState.ACTIVE, None, None, None, berlin(2026, 12, 5)),
        (KeepOnState.RELEASED, None, berlin(2026, 12, 2, 18, 0), None, berlin(2026, 12, 2, 18, 0)),
        (KeepOnState.EXPIRED, None, berlin(2026, 12, 5, 0, 1), None, berlin(2026, 12, 5)),
        (KeepOnState.PENDING_APPROVAL, berlin(2026, 12, 3), None, None, berlin(2026, 12, 3)),
        (
            KeepOnState.REJECTED,
            berlin(2026, 12, 3),
            None,
            berlin(2026, 12, 2, 9, 0),
            berlin(2026, 12, 2, 9, 0),
        ),
    ],
)
def test_where_a_keep_on_stopped_holding(
    state: KeepOnState,
    in_force: datetime | None,
    ended: datetime | None,
    decided: datetime | None,
    expected: datetime,
) -> None:
    end = keep_on_end(state, berlin(2026, 12, 5), in_force_until=in_force, ended_at=ended, decided_at=decided)
    assert end == expected


def test_hours_are_measured_on_the_utc_line_not_the_wall_clock() -> None:
    assert berlin(2026, 3, 29, 8) - berlin(2026, 3, 29, 0) == timedelta(hours=8)  # Python's wall clock
    assert hours_between(berlin(2026, 3, 29, 0), berlin(2026, 3, 29, 8)) == Decimal(7)
    assert hours_between(berlin(2026, 1, 2), berlin(2026, 1, 1)) == Decimal(0)
    with pytest.raises(ValueError):
        hours_between(datetime(2026, 1, 1), berlin(2026, 1, 2))


def _entry(kind: EntryKind, name: str, start: datetime, end: datetime, price: Money | None = GPU) -> Priced:
    return Priced("team-a", name, "Standard_NC6s_v3", "owner", Span(start, end, True), price, False, kind)


def test_the_report_of_a_week_with_the_spring_change() -> None:
    period = Period(berlin(2026, 3, 23), berlin(2026, 3, 30), BERLIN, "the week")
    entries = [
        _entry(EntryKind.SAVED, "gpu-a", berlin(2026, 3, 20), berlin(2026, 3, 24, 8)),  # from before the week
        _entry(
            EntryKind.SAVED, "gpu-b", berlin(2026, 3, 29, 0, 0), berlin(2026, 3, 29, 8, 0)
        ),  # 7 real hours
        _entry(
            EntryKind.SAVED, "gpu-c", berlin(2026, 3, 28, 23, 30), berlin(2026, 3, 29, 9, 0), None
        ),  # no price
        _entry(EntryKind.KEPT, "gpu-a", berlin(2026, 3, 27), berlin(2026, 3, 27, 2)),
    ]
    ran = [_entry(EntryKind.SAVED, "gpu-a", berlin(2026, 3, 26), berlin(2026, 3, 27, 2))]
    report = build_report(period, entries, ran)
    assert report.saved == {"USD": Decimal("3.06") * (32 + 7)}  # 32 h of gpu-a inside the week
    assert report.saved_hours == Decimal(32 + 7) + Decimal("8.5") and report.unpriced_hours == Decimal("8.5")
    assert report.kept == {"USD": Decimal("6.12")} and report.kept_hours == Decimal(2)
    by_day = dict(report.saved_by_day)
    assert len(by_day) == 7 and by_day[berlin(2026, 3, 23).date()] == {"USD": Decimal("3.06") * 24}
    assert by_day[berlin(2026, 3, 29).date()] == {"USD": Decimal("3.06") * 7}  # a 23-hour day
    assert report.stops_by_night == [(berlin(2026, 3, 28).date(), 2)]  # 23:30 Sat and 00:00 Sun: one night
    assert report.cost_by_workspace == [("team-a", {"USD": Decimal("3.06") * 26})]
    assert [i.instance for i in report.most_expensive] == ["gpu-a"]
    assert next(i for i in report.instances if i.instance == "gpu-c").unpriced


def test_an_empty_period_reports_zero_without_failing() -> None:
    report = build_report(Period(berlin(2026, 12, 1), berlin(2026, 12, 2), BERLIN, "a day"), [], [])
    assert (report.saved, report.kept, report.instances, report.simulated) == ({}, {}, [], False)
    assert [d for d, _ in report.saved_by_day] == [berlin(2026, 12, 1).date()]
