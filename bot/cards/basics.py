"""Adaptive Cards (schema 1.5, what Teams renders) built by pure functions from plain values."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

Card = dict[str, Any]

EXAMPLES = (
    ("status", "your instances and what happens to them tonight"),
    ("keep gpu-ci on until Friday because training", "skip the curfew until Friday's curfew"),
    ("stop gpu-ci", "stop it now (also: start gpu-ci)"),
)

HELP = (
    ("status", "your instances: state, size, workspace and tonight's fate"),
    ("keep NAME until WHEN [because WHY]", "e.g. until Friday, until Dec 4 18:00, for 2 hours, tonight"),
    ("release NAME", "end a keep-on: the curfew applies again"),
    ("stop NAME / start NAME", "stop or start now; I tell you when it is done"),
    ("morning start on NAME [at 07:30]", "start it on weekday mornings (off: morning start off NAME)"),
    ("history NAME", "the last ten things that happened to it"),
    ("idle NAME 120 / idle NAME off", "Azure ML stops it after 120 minutes idle (off: admins only)"),
    ("why NAME", "why it is still on: jobs, keep-ons, idle setting, its own schedules"),
    ("end NAME on DATE / retire NAME", "its last day (extend NAME until DATE); retire: it ends now"),
    ("report [week|month] [WORKSPACE]", "what the curfew saved and what keep-ons cost"),
    ("NAME@WORKSPACE", "pick the workspace when a name exists in several"),
)


def card(*body: dict[str, Any], actions: Sequence[dict[str, Any]] = ()) -> Card:
    content: Card = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.5",
        "msteams": {"width": "Full"},
        "body": list(body),
    }
    if actions:
        content["actions"] = list(actions)
    return content


def heading(text: str) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "weight": "Bolder", "size": "Medium", "wrap": True}


def paragraph(text: str, *, subtle: bool = False) -> dict[str, Any]:
    block = {"type": "TextBlock", "text": text, "wrap": True}
    if subtle:
        block["isSubtle"] = True
    return block


def facts(pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    return {"type": "FactSet", "facts": [{"title": t, "value": v} for t, v in pairs]}


def submit(title: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Action.Submit", "title": title, "data": {"curfew": True, **data}}


def command_button(title: str, command: str) -> dict[str, Any]:
    """A button that runs a chat command as if the clicker had typed it (as the clicker)."""
    return submit(title, {"verb": "run", "command": command})


def confirmation_card(text: str, undo: str | None = None) -> Card:
    """A small card saying what was done, with **Undo** (a chat command run as the clicker) where it makes
    sense: after a keep-on, "release NAME"; after a release, the keep-on again."""
    return card(paragraph(text), actions=[command_button("Undo", undo)] if undo else [])


def help_card(intro: str | None = None) -> Card:
    rows = [{"type": "TextBlock", "text": f"**{cmd}**: {what}", "wrap": True} for cmd, what in HELP]
    body = [heading("What I can do"), *([paragraph(intro)] if intro else []), *rows]
    return card(*body, actions=[command_button("Show my instances", "status")])


def welcome_card(name: str | None) -> Card:
    hello = f"Hi {name.split()[0]}!" if name else "Hi!"
    rows = [paragraph(f"**{cmd}**: {what}") for cmd, what in EXAMPLES]
    return card(
        heading(f"{hello} I am Curfew."),
        paragraph(
            "Every night I stop the Azure ML compute instances nobody asked to keep, and half an hour "
            "before I warn their owners here, where one click keeps an instance running. Try:"
        ),
        *rows,
        actions=[command_button("Show my instances", "status"), command_button("Help", "help")],
    )


@dataclass(frozen=True, slots=True)
class StatusRow:
    name: str
    workspace: str
    size: str
    state: str
    tonight: str
    price: str | None = None
    """Its price per hour: "USD 3.06/h (simulated)"."""
    since_start: str | None = None
    """What it has cost since it last started."""
    life: str | None = None
    """Its end: "ends Fri 18 Dec", "ended 3 Dec, deleted after 17 Dec", "no end date"; "stopped 41 days"."""


def _cell(text: str, *, bold: bool = False, subtle: bool = False) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "TextBlock", "text": text, "wrap": True}
    if bold:
        block["weight"] = "Bolder"
    if subtle:
        block["isSubtle"] = True
    return {"type": "TableCell", "items": [block]}


def table(header: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[int]) -> dict[str, Any]:
    """An Adaptive Cards 1.5 Table (Teams renders it) with a bold header row."""
    return {
        "type": "Table",
        "columns": [{"width": w} for w in widths],
        "firstRowAsHeader": True,
        "showGridLines": False,
        "rows": [
            {"type": "TableRow", "cells": [_cell(h, bold=True) for h in header]},
            *({"type": "TableRow", "cells": [_cell(c) for c in row]} for row in rows),
        ],
    }


def _price_only(price: str | None) -> str:
    """ "USD 3.06/h (simulated)" -> "3.06" for the table's $/h column (the currency is in its header)."""
    if not price or "/h" not in price:
        return "?"
    return price.split("/h")[0].split()[-1]


def status_card(rows: Sequence[StatusRow], note: str | None = None) -> Card:
    """One table row per instance (name, state, tonight, price per hour); the rest behind **Details**."""
    if not rows:
        return card(
            heading("You have no compute instances"),
            paragraph("Instances assigned to you in a configured workspace appear here."),
            *([paragraph(note, subtle=True)] if note else []),
        )
    currency = next((r.price.split()[0] for r in rows if r.price and "/h" in r.price), "USD")
    simulated = any(r.price and "simulated" in r.price for r in rows)
    lines = [(_name_line(r), r.state, r.tonight, _price_only(r.price)) for r in rows]
    body: list[dict[str, Any]] = [
        heading(f"Your compute instances ({len(rows)})"),
        table(("Name", "State", "Tonight", f"{currency}/h"), lines, (3, 2, 4, 2)),
    ]
    if simulated or note:
        body.append(
            paragraph(
                " ".join(
                    ([" Prices are simulated."] if simulated else []) + ([note] if note else [])
                ).strip(),
                subtle=True,
            )
        )
    details = [
        paragraph(
            f"**{r.name}** ({r.workspace}) · {r.size}"
            + (f" · {r.price}" if r.price else "")
            + (f"  \nCost since started: {r.since_start}" if r.since_start else "")
            + (f"  \nEnd: {r.life}" if r.life else ""),
        )
        for r in rows
    ]
    hidden = [
        {
            "type": "Container",
            "id": f"details-{n}",
            "isVisible": False,
            "items": details[at : at + DETAILS_SLICE],
        }
        for n, at in enumerate(range(0, len(details), DETAILS_SLICE))
    ]
    toggle = {
        "type": "Action.ToggleVisibility",
        "title": "Details",
        "targetElements": [block["id"] for block in hidden],
    }
    return card(*body, *hidden, actions=[toggle])


def _name_line(row: StatusRow) -> str:
    """The name, and under it its end or staleness when it has one ("no end date" stays in Details)."""
    if row.life and row.life != "no end date":
        return f"{row.name}  \n{row.life.removeprefix('no end date; ')}"
    return row.name


DETAILS_SLICE = 10
"""Details of this many instances per hidden block: a long card splits between blocks."""


def choice_card(question: str, options: Sequence[tuple[str, str]]) -> Card:
    """A question answered by clicking one of several commands (title, command)."""
    return card(paragraph(question), actions=[command_button(title, command) for title, command in options])


def history_card(name: str, events: Sequence[tuple[str, str, str, str]]) -> Card:
    """events: (when, who, what, outcome and reason), newest first."""
    if not events:
        return card(heading(f"History of {name}"), paragraph("Nothing recorded yet."))
    rows = [paragraph(f"{when} · **{what}** by {who}: {outcome}") for when, who, what, outcome in events]
    return card(heading(f"History of {name} (last {len(events)})"), *rows)
