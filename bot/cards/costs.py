"""What things cost, in words for cards: an instance's price, its cost since it started, and what
keeping it on costs. Pure: prices come in (bot/flows/pricing.py looks them up); an unknown price says
so and is never guessed; a simulated price says so wherever it is shown."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from domain.model import Instance
from domain.money import Money, cost, format_money, format_rate, hours_between, monthly
from domain.timefmt import format_local

SIMULATED = " (simulated)"


@dataclass(frozen=True, slots=True)
class KeepCost:
    """One instance on the warning card: its price and how long "Keep tonight" keeps it."""

    per_hour: Money | None
    simulated: bool
    tonight_until: datetime | None
    """Where "Keep tonight" ends: the curfew after the coming one."""
    curfew_at: datetime

    def rate(self, zone: ZoneInfo) -> str:
        """Its price per hour for the instance's line: "USD 3.06/h (simulated)"."""
        if self.per_hour is None:
            return "price unknown"
        return rate_text(self.per_hour, self.simulated)

    def option_texts(self, zone: ZoneInfo) -> dict[str, str]:
        """What each keep option costs, for its label: {"keep_1h": "USD 3.06", ...}; none when unknown."""
        if self.per_hour is None:
            return {}
        hourly = self.per_hour
        texts = {
            "keep_1h": format_money(hourly),
            "keep_2h": format_money(hourly.times(2)),
            "keep_until": f"{format_rate(hourly)} from the curfew",
        }
        if self.tonight_until is not None:
            texts["keep_tonight"] = format_money(cost(hourly, self.curfew_at, self.tonight_until))
        return texts


def rate_text(per_hour: Money | None, simulated: bool) -> str:
    """ "USD 3.06/h (simulated)" or "unknown"."""
    return format_rate(per_hour) + (SIMULATED if simulated and per_hour else "")


def since_start_text(instance: Instance, per_hour: Money | None, now: datetime, zone: ZoneInfo) -> str:
    """What it has cost since it last started, when it is running."""
    if not instance.state.is_running:
        return f"nothing now ({instance.state.value})"
    if instance.last_started_at is None and instance.started_before is not None:
        spent = format_money(cost(per_hour, instance.started_before, now))
        return f"at least {spent}, running since before {format_local(instance.started_before, zone, now)}"
    if instance.last_started_at is None:
        return "unknown (start time unknown)"
    since = format_local(instance.last_started_at, zone, now)
    return f"{format_money(cost(per_hour, instance.last_started_at, now))} since {since}"


def monthly_text(per_hour: Money | None, simulated: bool) -> str:
    """ "USD 2,233.80 a month if left on around the clock (730 h)"."""
    if per_hour is None:
        return "unknown: Azure publishes no price for this size"
    mark = SIMULATED if simulated else ""
    return f"{format_money(monthly(per_hour))} a month if left on around the clock (730 h){mark}"


def _h(hours: Decimal) -> str:
    return f"{hours.quantize(Decimal('0.1')).normalize():f} h"


def exception_cost_text(
    per_hour: Money | None,
    simulated: bool,
    skipped: datetime | None,
    until: datetime,
    *,
    pending: bool = False,
) -> str:
    """ " Estimated cost: USD 73.44 for 24 h past the curfew (USD 3.06/h)." for a keep-on's confirmation."""
    label = "Estimated cost if approved" if pending else "Estimated cost"
    if skipped is None or until <= skipped:
        return " No extra cost: it ends before the curfew."
    hours = hours_between(skipped, until)
    if per_hour is None:
        return f" {label}: unknown for {_h(hours)} past the curfew (Azure publishes no price for this size)."
    spent = format_money(cost(per_hour, skipped, until))
    return f" {label}: {spent} for {_h(hours)} past the curfew at {rate_text(per_hour, simulated)}."
