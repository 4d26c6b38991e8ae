"""Money: amounts with their currency, hourly prices per VM size, and the savings ledger's arithmetic.

Pure: no SDK, no database, no clock. Amounts are `Decimal`, never float, and always carry their
currency; adding two currencies is an error, not a conversion. A size without a price is `None`
("unknown"), never guessed.

Durations are measured on the UTC time line, so a night across a daylight-saving change lasts 23 or
25 hours, as the meter in Azure sees it (Python subtracts two datetimes of one `ZoneInfo` by wall
clock; every subtraction here converts to UTC first).

The ledger's rules:

- **Saved**: an instance the curfew stopped saves its hourly price from the stop until it next ran
  (Azure's `last_started_at` later than the stop: whoever started it, a morning start included), or
  until it was found gone; while neither happened, up to now.
- **Kept**: a keep-on that made the curfew leave an instance running costs its hourly price from
  the curfew instant it skipped until the first of: the keep-on's end (its `until`, or when it was
  released, rejected or closed), the instance found stopped or gone, now.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from domain.model import KeepOnState
from domain.timefmt import require_aware

HOURS_PER_MONTH = Decimal(730)
"""Azure's pricing month: 730 hours (365 days * 24 / 12)."""
_MICROSECONDS_PER_HOUR = Decimal(3_600_000_000)
_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            raise TypeError(f"Money needs a Decimal amount, got {type(self.amount).__name__}")
        if len(self.currency) != 3 or not self.currency.isalpha() or not self.currency.isupper():
            raise ValueError(f"not a currency code: {self.currency!r}")

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise ValueError(f"cannot add {other.currency} to {self.currency}")
        return Money(self.amount + other.amount, self.currency)

    def times(self, factor: Decimal | int) -> Money:
        return Money(self.amount * Decimal(factor), self.currency)

    def __str__(self) -> str:
        return format_money(self)


def format_money(money: Money | None) -> str:
    """ "USD 1,234.56"; "unknown" for a missing amount."""
    if money is None:
        return "unknown"
    return f"{money.currency} {money.amount.quantize(_CENT, rounding=ROUND_HALF_UP):,.2f}"


def format_rate(per_hour: Money | None) -> str:
    """An hourly price in the one price format of every card, two decimals like every amount:
    "USD 0.29/h" (a price under a cent keeps Azure's digits, up to four: "USD 0.004/h")."""
    if per_hour is None:
        return "unknown"
    if per_hour.amount and abs(per_hour.amount) < Decimal("0.005"):
        text = f"{per_hour.amount.quantize(Decimal('0.0001'), rounding=ROUND_HALF_UP):,.4f}".rstrip("0")
    else:
        text = f"{per_hour.amount.quantize(_CENT, rounding=ROUND_HALF_UP):,.2f}"
    return f"{per_hour.currency} {text}/h"


def total(amounts: Iterable[Money | None]) -> dict[str, Decimal]:
    """Known amounts summed per currency (unknown ones are skipped; count them separately)."""
    sums: dict[str, Decimal] = {}
    for money in amounts:
        if money is not None:
            sums[money.currency] = sums.get(money.currency, Decimal(0)) + money.amount
    return sums


def format_total(sums: Mapping[str, Decimal], default_currency: str = "USD") -> str:
    """ "USD 12.34" (or "USD 12.34 + EUR 1.00"; "USD 0.00" when nothing is known)."""
    if not sums:
        return format_money(Money(Decimal(0), default_currency))
    return " + ".join(format_money(Money(amount, c)) for c, amount in sorted(sums.items()))


@dataclass(frozen=True, slots=True)
class PriceList:
    """Hourly prices of VM sizes in one region: Linux, standard tier, retail, in one currency."""

    region: str
    currency: str
    hourly: Mapping[str, Decimal | None]
    """Size name as Azure spells it -> price per hour; None: Azure publishes no price for it."""
    fetched_at: datetime
    simulated: bool = False

    def per_hour(self, size: str) -> Money | None:
        wanted = size.lower()
        for name, amount in self.hourly.items():
            if name.lower() == wanted:
                return None if amount is None else Money(amount, self.currency)
        return None

    def fresh(self, now: datetime, max_age: timedelta = timedelta(days=1)) -> bool:
        return _utc(now) - _utc(self.fetched_at) < max_age

    @property
    def source(self) -> str:
        return "simulated prices" if self.simulated else f"Azure retail prices, {self.region}"


def hours_between(start: datetime, end: datetime) -> Decimal:
    """Exact hours from `start` to `end` on the UTC time line; 0 when `end` is not after `start`."""
    span = _utc(end) - _utc(start)
    if span <= timedelta(0):
        return Decimal(0)
    return Decimal(span // timedelta(microseconds=1)) / _MICROSECONDS_PER_HOUR


def cost(per_hour: Money | None, start: datetime, end: datetime) -> Money | None:
    """What running from `start` to `end` costs at `per_hour`; None when the price is unknown."""
    return None if per_hour is None else per_hour.times(hours_between(start, end))


def monthly(per_hour: Money | None) -> Money | None:
    """Left on around the clock for a pricing month (730 h)."""
    return None if per_hour is None else per_hour.times(HOURS_PER_MONTH)


@dataclass(frozen=True, slots=True)
class Span:
    """An interval of the ledger; `closed` when its end is final (not merely `now`)."""

    start: datetime
    end: datetime
    closed: bool

    @property
    def hours(self) -> Decimal:
        return hours_between(self.start, self.end)

    def within(self, since: datetime, until: datetime) -> Span | None:
        """The part of this span inside [since, until); None when they do not overlap."""
        start, end = max(_utc(self.start), _utc(since)), min(_utc(self.end), _utc(until))
        return Span(start, end, self.closed) if end > start else None


def saved_span(
    stopped_at: datetime,
    now: datetime,
    *,
    next_start: datetime | None = None,
    gone_at: datetime | None = None,
) -> Span:
    """The saving of one curfew stop: until the instance next ran, was found gone, or now."""
    stopped = _utc(stopped_at)
    ends = [_utc(next_start)] if next_start is not None and _utc(next_start) > stopped else []
    ends += [_utc(gone_at)] if gone_at is not None else []
    return _span(stopped, ends, _utc(now))


def kept_span(
    skipped_at: datetime,
    now: datetime,
    *,
    keep_ended_at: datetime | None = None,
    found_stopped_at: datetime | None = None,
) -> Span:
    """The cost of one keep-on: from the curfew it skipped until it ended, the instance stopped, or now."""
    ends = [_utc(t) for t in (keep_ended_at, found_stopped_at) if t is not None]
    return _span(_utc(skipped_at), ends, _utc(now))


def _span(start: datetime, ends: list[datetime], now: datetime) -> Span:
    final = [t for t in ends if t <= now]
    if final:
        return Span(start, max(start, min(final)), closed=True)
    return Span(start, max(start, now), closed=False)


def _utc(instant: datetime) -> datetime:
    return require_aware(instant).astimezone(UTC)


def keep_on_end(
    state: KeepOnState,
    until: datetime,
    *,
    in_force_until: datetime | None = None,
    ended_at: datetime | None = None,
    decided_at: datetime | None = None,
) -> datetime:
    """Where a keep-on stopped (or will stop) holding: its `until`, unless it ended earlier.

    Pending: only its unapproved part holds. Rejected: its unapproved part, up to the rejection.
    Released, expired or closed: `until`, or when it was ended if that came first."""
    end = _utc(until)
    if state in (KeepOnState.PENDING_APPROVAL, KeepOnState.REJECTED) and in_force_until is not None:
        end = min(end, _utc(in_force_until))
    if state is KeepOnState.REJECTED and decided_at is not None:
        end = min(end, _utc(decided_at))
    if ended_at is not None:
        end = min(end, _utc(ended_at))
    return end
