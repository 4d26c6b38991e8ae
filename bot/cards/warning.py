"""The pre-curfew warning card: what the coming curfew stops, with one click to keep it running.

Pure builders. Buttons are Action.Execute (Universal Actions) with an Action.Submit fallback carrying
the same data; the data names the instance and the curfew the card is about, never the person: who
clicked is always the Teams-authenticated sender.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.cards.basics import Card, card, command_button, facts, heading, paragraph
from bot.cards.costs import KeepCost
from domain.decide import Action, Decision
from domain.model import Instance, InstanceKey
from domain.timefmt import format_clock_zone, format_local

VERB = "warning"
MAX_CARD_BYTES = 80_000
CHOICES = {
    "keep_1h": "Keep 1 hour",
    "keep_2h": "Keep 2 hours",
    "keep_tonight": "Keep tonight",
    "keep_until": "Keep until…",
    "stop_now": "Stop now",
}


@dataclass(frozen=True, slots=True)
class WarningView:
    curfew_at: datetime
    zone: ZoneInfo
    decisions: tuple[Decision, ...]
    now: datetime
    notice: str | None = None
    costs: Mapping[InstanceKey, KeepCost] = field(default_factory=dict)
    """What each keep option costs, per instance (bot/costs.py); none: no cost lines."""


def action_data(choice: str, decision: Decision, curfew_at: datetime) -> dict[str, Any]:
    i = decision.instance
    return {
        "curfew": True,
        "verb": VERB,
        "choice": choice,
        "instance": i.name,
        "workspace": i.workspace,
        "curfew_at": curfew_at.isoformat(),
    }


def execute(title: str, data: dict[str, Any]) -> dict[str, Any]:
    """Action.Execute, falling back to Action.Submit with the same data on older clients."""
    return {
        "type": "Action.Execute",
        "title": title,
        "verb": VERB,
        "data": data,
        "fallback": {"type": "Action.Submit", "title": title, "data": data},
    }


def _running_for(decision: Decision, now: datetime, zone: ZoneInfo) -> str:
    started = decision.instance.last_started_at
    if started is None and decision.instance.started_before is not None:
        return f"since before {format_local(decision.instance.started_before, zone)}"
    if started is None:
        return "unknown"
    hours = max(0.0, (now - started) / timedelta(hours=1))
    return f"{hours:.0f} h" if hours >= 1 else f"{hours * 60:.0f} min"


def _keep_until_form(decision: Decision, curfew_at: datetime) -> dict[str, Any]:
    key = decision.instance.name
    data = action_data("keep_until", decision, curfew_at)
    return {
        "type": "Action.ShowCard",
        "title": CHOICES["keep_until"],
        "card": {
            "type": "AdaptiveCard",
            "body": [
                {
                    "type": "Input.Date",
                    "id": "until_date",
                    "label": "Until (date)",
                    "isRequired": True,
                    "errorMessage": "Pick a date",
                    "min": curfew_at.date().isoformat(),
                },
                {
                    "type": "Input.Time",
                    "id": "until_time",
                    "label": "Time (optional; else that day's curfew)",
                },
                {
                    "type": "Input.Text",
                    "id": "reason",
                    "label": "Reason",
                    "placeholder": f"why {key} stays on",
                },
            ],
            "actions": [execute("Keep", data)],
        },
    }


def _instance_block(decision: Decision, view: WarningView) -> list[dict[str, Any]]:
    i = decision.instance
    blocks: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": f"**{i.name}**", "wrap": True, "separator": True},
        facts(
            [
                ("Size", i.size),
                ("Workspace", i.workspace),
                ("Running for", _running_for(decision, view.now, view.zone)),
            ]
        ),
    ]
    if decision.action is Action.WARN:
        keep_cost = view.costs.get(i.key)
        if keep_cost is not None:
            blocks.append(facts(keep_cost.lines(view.zone)))
        quick = [
            execute(CHOICES[c], action_data(c, decision, view.curfew_at))
            for c in ("keep_1h", "keep_2h", "keep_tonight")
        ]
        blocks.append(
            {
                "type": "ActionSet",
                "actions": [
                    *quick,
                    _keep_until_form(decision, view.curfew_at),
                    execute(CHOICES["stop_now"], action_data("stop_now", decision, view.curfew_at)),
                ],
            }
        )
    else:
        blocks.append(paragraph(f"Stays on: {decision.reason}", subtle=True))
    return blocks


def warning_card(view: WarningView) -> Card:
    to_stop = [d for d in view.decisions if d.action is Action.WARN]
    when = format_clock_zone(view.curfew_at, view.zone)
    title = (
        f"{len(to_stop)} instance{'s' if len(to_stop) != 1 else ''} stop at {when}"
        if to_stop
        else f"Nothing of yours stops at {when}"
    )
    body: list[dict[str, Any]] = [heading(title)]
    if view.notice:
        body.append(
            {"type": "TextBlock", "text": view.notice, "wrap": True, "color": "Accent", "weight": "Bolder"}
        )
    if to_stop:
        body.append(
            paragraph(
                f"The curfew on {format_local(view.curfew_at, view.zone)} stops these unless you "
                "keep them. Anything you do not touch is stopped to save money."
            )
        )
    for decision in view.decisions:
        body.extend(_instance_block(decision, view))
    return card(*body, actions=[command_button("Show my instances", "status")])


def outdated_card(notice: str, instance: Instance | None, zone: ZoneInfo) -> Card:
    """An answer to a click that cannot act: the current truth, and `start` where it is stopped."""
    body: list[dict[str, Any]] = [heading("Nothing changed"), paragraph(notice)]
    actions = []
    if instance is not None:
        i = instance
        body.append(facts([("Instance", i.name), ("State", i.state.value), ("Workspace", i.workspace)]))
        if i.state.is_stopped:
            actions.append(command_button(f"Start {i.name}", f"start {i.name}@{i.workspace}"))
    return card(*body, actions=[*actions, command_button("Show my instances", "status")])


def split_for_teams(view: WarningView, limit: int = MAX_CARD_BYTES) -> list[Card]:
    """Cards under Teams' size limit: an owner with many instances gets several cards."""
    cards, chunk = [], list(view.decisions)
    size = max(1, len(chunk))
    while True:
        parts = [chunk[i : i + size] for i in range(0, len(chunk), size)] or [[]]
        built = [warning_card(replace(view, decisions=tuple(p))) for p in parts]
        if all(len(json.dumps(c).encode()) <= limit for c in built) or size == 1:
            cards = built
            break
        size = max(1, size // 2)
    return cards
