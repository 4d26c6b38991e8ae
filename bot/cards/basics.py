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


def status_card(rows: Sequence[StatusRow], note: str | None = None) -> Card:
    if not rows:
        return card(
            heading("You have no compute instances"),
            paragraph("Instances assigned to you in a configured workspace appear here."),
            *([paragraph(note, subtle=True)] if note else []),
        )
    body: list[dict[str, Any]] = [heading(f"Your compute instances ({len(rows)})")]
    for row in rows:
        body.append({"type": "TextBlock", "text": f"**{row.name}**", "wrap": True, "separator": True})
        body.append(
            facts(
                [
                    ("State", row.state),
                    ("Size", row.size),
                    ("Workspace", row.workspace),
                    ("Tonight", row.tonight),
                    *([("Price", row.price)] if row.price else []),
                    *([("Cost since started", row.since_start)] if row.since_start else []),
                ]
            )
        )
    if note:
        body.append(paragraph(note, subtle=True))
    return card(*body)


def choice_card(question: str, options: Sequence[tuple[str, str]]) -> Card:
    """A question answered by clicking one of several commands (title, command)."""
    return card(paragraph(question), actions=[command_button(title, command) for title, command in options])


def history_card(name: str, events: Sequence[tuple[str, str, str, str]]) -> Card:
    """events: (when, who, what, outcome and reason), newest first."""
    if not events:
        return card(heading(f"History of {name}"), paragraph("Nothing recorded yet."))
    rows = [paragraph(f"{when} · **{what}** by {who}: {outcome}") for when, who, what, outcome in events]
    return card(heading(f"History of {name} (last {len(events)})"), *rows)
