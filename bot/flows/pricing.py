"""Prices for cards, looked up through the fleet's `PriceBook`: what each keep option on a warning
card costs, and each requestable size's price for the request form. The words are bot/cards/costs.py's."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from bot.cards.costs import KeepCost, monthly_text, rate_text
from bot.cards.warning import WarningView
from compute.prices import PriceBook
from domain.decide import Action, Decision
from domain.model import InstanceKey, WorkspacePolicy
from domain.money import PriceList
from domain.schedule import next_curfew


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


async def with_costs(
    view: WarningView, book: PriceBook | None, policy_of: Callable[[str], WorkspacePolicy]
) -> WarningView:
    """The warning view with what each keep option costs (unchanged without a price book)."""
    if book is None:
        return view
    to_warn = [d for d in view.decisions if d.action is Action.WARN]
    policies = {d.instance.workspace: policy_of(d.instance.workspace) for d in to_warn}
    return replace(view, costs=await keep_costs(book, to_warn, view.curfew_at, policies))


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
