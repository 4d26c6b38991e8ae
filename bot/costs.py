"""What things cost, in words for cards: an instance's price, its cost since it started, and what
keeping it on costs. Prices come from the fleet through `PriceBook`; an unknown price says so and is
never guessed; a simulated price says so wherever it is shown."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from compute.prices import PriceBook
from domain.decide import Action, Decision
from domain.model import Instance, InstanceKey, WorkspacePolicy
from domain.money import Money, PriceList, cost, format_money, format_rate, hours_between, monthly
from domain.schedule import next_curfew
from domain.timefmt import format_local

if TYPE_CHECKING:
    from bot.warning_card import WarningView

SIMULATED = " (simulated)"


@dataclass(frozen=True, slots=True)
class KeepCost:
    """One instance on the warning card: its price and how long "Keep tonight" keeps it."""

    per_hour: Money | None
    simulated: bool
    tonight_until: datetime | None
    """Where "Keep tonight" ends: the curfew after the coming one."""
    curfew_at: datetime

    def lines(self, zone: ZoneInfo) -> list[tuple[str, str]]:
        mark = SIMULATED if self.simulated else ""
        if self.per_hour is None:
            return [("Price", "unknown: Azure publishes no price for this size")]
        hourly = self.per_hour
        pairs = [
            ("Keep 1 hour costs", format_money(hourly) + mark),
            ("Keep 2 hours costs", format_money(hourly.times(2)) + mark),
        ]
        if self.tonight_until is not None:
            hours = hours_between(self.curfew_at, self.tonight_until)
            until = format_local(self.tonight_until, zone)
            spent = format_money(cost(hourly, self.curfew_at, self.tonight_until))
            tonight = f"{spent} for {_h(hours)}, to {until}"
            pairs.append(("Keep tonight costs", tonight + mark))
        pairs.append(("Keep until… costs", f"{format_rate(hourly)}, each hour{mark}"))
        return pairs


def rate_text(per_hour: Money | None, simulated: bool) -> str:
    """ "USD 3.06/h (simulated)" or "unknown"."""
    return format_rate(per_hour) + (SIMULATED if simulated and per_hour else "")


def since_start_text(instance: Instance, per_hour: Money | None, now: datetime, zone: ZoneInfo) -> str:
    """What it has cost since it last started, when it is running."""
    if not instance.state.is_running:
        return f"nothing now ({instance.state.value})"
    if instance.last_started_at is None:
        return "unknown (start time unknown)"
    since = format_local(instance.last_started_at, zone)
    return f"{format_money(cost(per_hour, instance.last_started_at, now))} since {since}"


def monthly_text(per_hour: Money | None, simulated: bool) -> str:
    """ "USD 2,233.80 a month if left on around the clock (730 h)"."""
    if per_hour is None:
        return "unknown: Azure publishes no price for this size"
    mark = SIMULATED if simulated else ""
    return f"{format_money(monthly(per_hour))} a month if left on around the clock (730 h){mark}"


async def keep_costs(
    book: PriceBook,
    decisions: Iterable[Decision],
    curfew_at: datetime,
    policies: Mapping[str, WorkspacePolicy],
) -> dict[InstanceKey, KeepCost]:
    """The cost of each keep option for the instances on a warning card."""
    items = list(decisions)
    prices = await book.for_instances(d.instance for d in items)
    found = {}
    for d in items:
        per_hour, simulated = prices[d.instance.key]
        policy = policies.get(d.instance.workspace)
        tonight = next_curfew(policy, curfew_at) if policy else None
        found[d.instance.key] = KeepCost(per_hour, simulated, tonight, curfew_at)
    return found


def _h(hours: Decimal) -> str:
    return f"{hours.quantize(Decimal('0.1')).normalize():f} h"


async def with_costs(
    view: WarningView, book: PriceBook | None, policy_of: Callable[[str], WorkspacePolicy]
) -> WarningView:
    """The warning view with what each keep option costs (unchanged without a price book)."""
    if book is None:
        return view
    to_warn = [d for d in view.decisions if d.action is Action.WARN]
    policies = {d.instance.workspace: policy_of(d.instance.workspace) for d in to_warn}
    return replace(view, costs=await keep_costs(book, to_warn, view.curfew_at, policies))


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


async def size_prices(
    book: PriceBook, workspaces: Sequence[str], sizes: Sequence[str]
) -> list[tuple[str, list[tuple[str, str]]]]:
    """For the request form: each size's price per hour and per month, per price list in use."""
    groups: dict[str, tuple[list[str], PriceList | None]] = {}
    for ws in workspaces:
        prices = await book.price_list(ws)
        key = prices.region if prices else f"?{ws}"
        groups.setdefault(key, ([], prices))[0].append(ws)
    found = []
    for names, prices in groups.values():
        where = f"in {', '.join(names)}" + (f" ({prices.source})" if prices else " (prices unavailable)")
        lines = []
        for size in sizes:
            per_hour, simulated = (prices.per_hour(size), prices.simulated) if prices else (None, False)
            lines.append((size, f"{rate_text(per_hour, simulated)}; {monthly_text(per_hour, simulated)}"))
        found.append((where, lines))
    return found
