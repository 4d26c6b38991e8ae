"""The pre-curfew warning card: what the coming curfew stops, with one click to keep it running.

Pure builders. Buttons are Action.Execute (Universal Actions) with an Action.Submit fallback carrying
the same data; the data says which button, for which instance, on which warning (the opaque id Curfew
stored it under), never who, which tenant, which instant or how long: who clicked is always the
Teams-authenticated sender, and the curfew the card is about is Curfew's own record of the warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.cards.basics import Card, card, command_button, facts, heading, paragraph
from bot.cards.costs import KeepCost
from domain.decide import Action, Decision
from domain.limits import REASON_MAX
from domain.model import Instance, InstanceKey
from domain.timefmt import format_clock, format_clock_zone, format_day, format_local

VERB = "warning"
CHOSEN = "chosen"
"""The Apply button's choice: what the instance's own choice input says."""
QUICK = ("keep_1h", "keep_2h", "keep_tonight", "stop_now")
"""The options of each instance's choice input (keep until a date has its own small form)."""
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
    warning_id: str = field(kw_only=True)
    """The stored warning this card shows (storage/warnings_repo.py); its buttons carry only this id."""
    costs: Mapping[InstanceKey, KeepCost] = field(default_factory=dict)
    """What each keep option costs, per instance (bot/costs.py); none: no cost lines."""
    done: Mapping[InstanceKey, str] = field(default_factory=dict)
    """What a click just did to an instance ("Stopping now, as Dana asked."): shown instead of choices."""


def action_data(choice: str, decision: Decision, warning_id: str) -> dict[str, Any]:
    """Which button, for which instance, on which stored warning: nothing a click could stretch."""
    i = decision.instance
    return {
        "curfew": True,
        "verb": VERB,
        "choice": choice,
        "warning": warning_id,
        "instance": i.name,
        "workspace": i.workspace,
    }


def execute(title: str, data: dict[str, Any], *, style: str | None = None) -> dict[str, Any]:
    """Action.Execute, falling back to Action.Submit with the same data on older clients."""
    action: dict[str, Any] = {"type": "Action.Execute", "title": title, "verb": VERB, "data": data}
    if style:
        action["style"] = style
    action["fallback"] = {"type": "Action.Submit", "title": title, "data": data}
    return action


def input_id(key: InstanceKey, name: str) -> str:
    """The id of one of an instance's inputs on the card: unique per instance, read back by its click."""
    return f"{name}:{key.workspace}:{key.name}"


def _running_for(decision: Decision, now: datetime, zone: ZoneInfo) -> str:
    started = decision.instance.last_started_at
    if started is None and decision.instance.started_before is not None:
        return f"on since before {format_local(decision.instance.started_before, zone, now)}"
    if started is None:
        return "on (since unknown)"
    hours = max(0.0, (now - started) / timedelta(hours=1))
    return f"on {hours:.0f} h" if hours >= 1 else f"on {hours * 60:.0f} min"


def _keep_until_form(decision: Decision, view: WarningView) -> dict[str, Any]:
    """The rarely used "keep until a date and time", its inputs in the reader's zone, behind a button."""
    i, zone = decision.instance, view.zone.key
    keep_cost = view.costs.get(i.key)
    cost = keep_cost.option_texts(view.zone).get("keep_until") if keep_cost else None
    data = action_data("keep_until", decision, view.warning_id)
    return {
        "type": "Action.ShowCard",
        "title": CHOICES["keep_until"],
        "card": {
            "type": "AdaptiveCard",
            "body": [
                {
                    "type": "Input.Date",
                    "id": input_id(i.key, "until_date"),
                    "label": f"Keep {i.name} until (date, {zone})",
                    "isRequired": True,
                    "errorMessage": "Pick a date",
                    "min": view.curfew_at.astimezone(view.zone).date().isoformat(),
                },
                {
                    "type": "Input.Time",
                    "id": input_id(i.key, "until_time"),
                    "label": f"Time ({zone}); none: that day's curfew",
                },
                {
                    "type": "Input.Text",
                    "id": input_id(i.key, "reason"),
                    "label": "Reason",
                    "placeholder": f"why {i.name} stays on",
                    "maxLength": REASON_MAX,
                },
                *([paragraph(f"Costs {cost}.", subtle=True)] if cost else []),
            ],
            "actions": [execute("Keep until then", data)],
        },
    }


def _choice_set(decision: Decision, view: WarningView) -> dict[str, Any]:
    """One choice of what to do with the instance, each keep option's cost in its own label."""
    i = decision.instance
    keep_cost = view.costs.get(i.key)
    costs = keep_cost.option_texts(view.zone) if keep_cost else {}
    labels = {c: CHOICES[c] + (f": {costs[c]}" if c in costs else "") for c in QUICK}
    if keep_cost is not None and keep_cost.tonight_until is not None:
        ends = keep_cost.tonight_until
        until = f"{format_day(ends, view.zone)} {format_clock(ends, view.zone)}"
        labels["keep_tonight"] = f"Keep tonight, to {until}" + (
            f": {costs['keep_tonight']}" if "keep_tonight" in costs else ""
        )
    return {
        "type": "Input.ChoiceSet",
        "id": input_id(i.key, "choice"),
        "style": "compact",
        "placeholder": f"What should happen to {i.name}?",
        "choices": [{"title": labels[c], "value": c} for c in QUICK],
    }


def _instance_line(decision: Decision, view: WarningView) -> str:
    i = decision.instance
    keep_cost = view.costs.get(i.key)
    price = f" · {keep_cost.rate(view.zone)}" if keep_cost is not None else ""
    return f"**{i.name}** ({i.workspace}) · {i.size} · {_running_for(decision, view.now, view.zone)}{price}"


def _instance_row(decision: Decision, view: WarningView) -> dict[str, Any]:
    """One instance: a line about it, then what can still be done (or the one true thing that holds)."""
    i = decision.instance
    items: list[dict[str, Any]] = [paragraph(_instance_line(decision, view))]
    done = view.done.get(i.key)
    if done is not None:
        items.append(_status_line(done))
    elif not i.state.is_running:
        items.append(_status_line(f"{i.state.value}."))
    elif decision.action is Action.WARN:
        apply = execute("Apply", action_data(CHOSEN, decision, view.warning_id), style="positive")
        items += [
            _choice_set(decision, view),
            {"type": "ActionSet", "actions": [apply, _keep_until_form(decision, view)]},
        ]
    else:
        items.append(_status_line(f"Stays on: {decision.reason}"))
    return {"type": "Container", "separator": True, "items": items}


def _status_line(text: str) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, "isSubtle": True, "spacing": "Small"}


def warning_card(view: WarningView) -> Card:
    """One row per instance; a card over Teams' size rule is split by the messenger, rows whole."""
    to_stop = [d for d in view.decisions if d.action is Action.WARN and d.instance.key not in view.done]
    when = format_clock_zone(view.curfew_at, view.zone)
    title = (
        f"{len(to_stop)} instance{'s' if len(to_stop) != 1 else ''} stop at {when}"
        if to_stop
        else f"Nothing more of yours stops at {when}"
        if view.done
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
                f"The curfew on {format_local(view.curfew_at, view.zone, view.now)} stops them unless you "
                "keep them: pick what to do, then **Apply**.",
                subtle=True,
            )
        )
    body += [_instance_row(decision, view) for decision in view.decisions]
    show = command_button("Show my instances", "status") | {"mode": "secondary"}
    return card(*body, actions=[show])


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
