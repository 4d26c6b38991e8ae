"""The money card: what the curfew saved and what keep-ons cost, for `report` in chat and the digest.

Pure builders from plain values. Charts are Teams' native card charts (Chart.VerticalBar for savings
per day, Chart.Donut for cost by workspace); each carries a Table as its Adaptive Card `fallback`,
which a client without charts renders instead. Amounts stay Decimal up to here: a chart's numbers are
floats only inside the chart element, its currency in its title. Long lists are cut so that the
card stays well under Teams' 80 KB.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from bot.cards.basics import Card, card, facts, heading, paragraph
from domain.money import format_total
from domain.money_report import InstanceMoney, MoneyReport, MoneyView, StopTrigger
from domain.people import person
from domain.timefmt import format_local

MAX_LINES = 15
SIMULATED_MARK = "Simulated prices: the demo fleet's own price list, not Azure's."


def money_card(view: MoneyView) -> Card:
    r = view.report
    body: list[dict[str, Any]] = [
        heading(view.title),
        paragraph(
            f"{format_local(r.period.since, view.zone)} to {format_local(r.period.until, view.zone)}",
            subtle=True,
        ),
    ]
    if r.simulated:
        body.append(paragraph(SIMULATED_MARK, subtle=True))  # readable on white (no yellow)
    body.append(facts(_totals(r)))
    body += _charts(r)
    if view.by_instance:
        body += _section(
            "Saved by instance", [_saved_line(i) for i in r.instances if i.saved_hours or i.kept_hours]
        )
    body += _section(
        "Saved by who stopped it",
        [_trigger_line(t, c, sums, r.currency) for t, c, sums in r.saved_by_trigger],
    )
    body += _section("Stopped per night", [f"night of {day_label(d)}: {n}" for d, n in r.stops_by_night])
    body += _section(
        "Most expensive instances (estimated)", [_cost_line(i, view.names) for i in r.most_expensive]
    )
    body += _section("Keep-ons in force", view.keep_ons, empty="none" if view.digest else None)
    if view.digest:
        body += _section("Owners I could not warn", view.unreachable, empty="none")
        body += _section("Stops that failed", view.failed_stops, empty="none")
        body += _section("Stale instances and instances without an end date", view.sprawl, empty="none")
    return card(*body)


def _totals(r: MoneyReport) -> list[tuple[str, str]]:
    stops = sum(n for _, n in r.stops_by_night)
    pairs = [
        ("Saved by the curfew", f"{format_total(r.saved, r.currency)} ({_hours(r.saved_hours)} stopped)"),
        ("Spent on keep-ons", f"{format_total(r.kept, r.currency)} ({_hours(r.kept_hours)} kept on)"),
        ("Instances stopped", f"{stops} over {len(r.stops_by_night)} night(s)"),
    ]
    if r.unpriced_hours:
        pairs.append(("Without a known price", f"{_hours(r.unpriced_hours)} (not counted)"))
    return pairs


def _charts(r: MoneyReport) -> list[dict[str, Any]]:
    per_day = [(day_label(d), _main(sums, r.currency)) for d, sums in r.saved_by_day]
    by_ws = [(ws, _main(sums, r.currency)) for ws, sums in r.cost_by_workspace if _main(sums, r.currency)]
    bars = {
        "type": "Chart.VerticalBar",
        "xAxisTitle": "Day",
        "yAxisTitle": r.currency,
        "showBarValues": True,
        "data": [{"x": day, "y": _number(amount)} for day, amount in per_day],
    }
    blocks = _chart(f"Saved per day ({r.currency})", bars, ("Day", f"Saved ({r.currency})"), per_day)
    if by_ws:
        donut = {
            "type": "Chart.Donut",
            "data": [{"legend": ws, "value": _number(amount)} for ws, amount in by_ws],
        }
        title = f"Cost by workspace ({r.currency}, estimated)"
        blocks += _chart(title, donut, ("Workspace", f"Cost ({r.currency})"), by_ws)
    return blocks


def _chart(
    title: str, chart: dict[str, Any], columns: tuple[str, str], rows: Sequence[tuple[str, Decimal]]
) -> list[dict[str, Any]]:
    """A heading every client shows, then the chart with a table of the same numbers as its fallback.

    (Not the chart's own `title`: the Agents Playground draws charts without it.)"""
    heading_block = {"type": "TextBlock", "text": f"**{title}**", "wrap": True, "separator": True}
    return [heading_block, {**chart, "fallback": _table(columns, rows)}]


def _table(columns: tuple[str, str], rows: Sequence[tuple[str, Decimal]]) -> dict[str, Any]:
    def cell(text: str, bold: bool) -> dict[str, Any]:
        block = {"type": "TextBlock", "text": text, "wrap": True, "weight": "Bolder" if bold else "Default"}
        return {"type": "TableCell", "items": [block]}

    def row(cells: tuple[str, str], bold: bool = False) -> dict[str, Any]:
        return {"type": "TableRow", "cells": [cell(c, bold) for c in cells]}

    shown = [(label, f"{amount:,.2f}") for label, amount in _folded(rows)]
    return {
        "type": "Table",
        "columns": [{"width": 1}, {"width": 1}],
        "firstRowAsHeader": True,
        "rows": [row(columns, bold=True), *(row(cells) for cells in shown)],
    }


FOLD_OVER = 10


def _folded(rows: Sequence[tuple[str, Decimal]]) -> list[tuple[str, Decimal]]:
    """A long table keeps the rows that matter: those over FOLD_OVER rows at 0.00 become one line."""
    if len(rows) <= FOLD_OVER:
        return list(rows)
    kept = [(label, amount) for label, amount in rows if amount]
    zero = len(rows) - len(kept)
    return kept + ([(f"{zero} more at 0.00", Decimal(0))] if zero else [])


def _section(title: str, lines: Sequence[str], *, empty: str | None = None) -> list[dict[str, Any]]:
    if not lines and empty is None:
        return []
    shown = list(lines[:MAX_LINES]) or [empty or ""]
    more = [paragraph(f"…and {len(lines) - MAX_LINES} more", subtle=True)] if len(lines) > MAX_LINES else []
    return [
        {"type": "TextBlock", "text": f"**{title}**", "wrap": True, "separator": True},
        *(paragraph(line) for line in shown),
        *more,
    ]


def _saved_line(i: InstanceMoney) -> str:
    unknown = " (price unknown)" if i.unpriced else ""
    kept = f"; keep-ons {format_total(i.kept)} over {_hours(i.kept_hours)}" if i.kept_hours else ""
    saved = f"saved {format_total(i.saved)} over {_hours(i.saved_hours)}"
    return f"**{i.instance}** ({i.workspace}): {saved}{kept}{unknown}"


def _trigger_line(trigger: StopTrigger, credited: bool, sums: dict[str, Decimal], currency: str) -> str:
    whose = "Curfew's" if credited else "not Curfew's"
    return f"{trigger.label}: {format_total(sums, currency)} ({whose})"


def _cost_line(i: InstanceMoney, names: Mapping[str, str]) -> str:
    owner = f", owner {person(i.owner_object_id, names)}" if i.owner_object_id else ", no owner"
    ran = f"{format_total(i.ran)} for {_hours(i.ran_hours)} running"
    return f"**{i.instance}** ({i.workspace}, {i.size}{owner}): {ran}"


def _main(sums: dict[str, Decimal], currency: str) -> Decimal:
    return sums.get(currency, Decimal(0))


def _number(amount: Decimal) -> float:
    return float(amount.quantize(Decimal("0.01")))


def _hours(hours: Decimal) -> str:
    return f"{hours.quantize(Decimal('0.1')):,} h"


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def day_label(day: date) -> str:
    """ "Mon 30 Nov"."""
    return f"{_DAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]}"
