"""Cards of an instance's end: the owner's reminder, the confirmation before a deletion, the admins'
deletion card after the grace, and the monthly question about a stale instance.

Pure builders. Buttons are Action.Execute with an Action.Submit fallback; their data says which
button and which instance, nothing else: the end date, who may click and what it cost are read
again from Curfew's own state when the click arrives.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.cards.basics import Card, card, facts, heading, paragraph
from bot.cards.requests import execute
from domain.lifecycle import day_text

EXTEND, STOP_NOW, DELETE_NOW, DELETE_CONFIRM = (
    "life.extend",
    "life.stop",
    "life.delete",
    "life.delete.confirm",
)
ADMIN_DELETE, ADMIN_EXTEND, ADMIN_KEEP = "life.admin.delete", "life.admin.extend", "life.admin.keep"
RETIRE, KEEP_STALE = "life.retire", "life.keep"
APPROVE_END, REJECT_END = "life.end.approve", "life.end.reject"
END_INPUT = "life_end_date"

LOST = (
    "Lost when it is deleted: every file on the instance's own disk (its local folders, conda "
    "environments and anything outside your cloud files)."
)
KEPT = (
    "Kept: your files in the workspace's file share (your cloud files, Users/YOUR-NAME), the datastores, "
    "registered models and the outputs of jobs."
)


@dataclass(frozen=True, slots=True)
class LifeView:
    """One instance near or past its end, as a card shows it."""

    name: str
    workspace: str
    size: str
    state: str
    end: date
    cost: str
    """What it cost since it was created, as far as Curfew saw it run."""
    owner: str = ""
    stopped_since: str = ""
    delete_after: date | None = None


def _data(view: LifeView) -> dict[str, str]:
    return {"workspace": view.workspace, "instance": view.name}


def _extend(view: LifeView, earliest: str | None = None) -> dict[str, Any]:
    """**Extend**: a date input (from `earliest`) and its button, behind a ShowCard."""
    field: dict[str, Any] = {
        "type": "Input.Date",
        "id": END_INPUT,
        "label": f"New end date of {view.name}",
        "isRequired": True,
        "errorMessage": "Pick a date",
    }
    if earliest:
        field["min"] = earliest
    return {
        "type": "Action.ShowCard",
        "title": "Extend",
        "card": {
            "type": "AdaptiveCard",
            "body": [field],
            "actions": [execute("Set end date", EXTEND, _data(view))],
        },
    }


def reminder_card(view: LifeView, days_left: int) -> Card:
    """To the owner, `remind_days` before the end: the date, the cost, what to save; Extend, Stop, Delete."""
    when = "tomorrow" if days_left == 1 else f"in {days_left} days"
    return card(
        heading(f"{view.name} ends {when}, on {day_text(view.end)}"),
        paragraph(
            f"On {day_text(view.end)} the curfew stops {view.name} ({view.workspace}) whatever keep-on it "
            "has, and it is not started again. Save what you need before then."
        ),
        facts([("Size", view.size), ("State", view.state), ("Cost since created", view.cost)]),
        paragraph(LOST),
        paragraph(KEPT, subtle=True),
        actions=[
            _extend(view, view.end.isoformat()),
            execute("Stop it now", STOP_NOW, _data(view)),
            execute("Delete now", DELETE_NOW, _data(view), style="destructive"),
        ],
    )


def delete_confirm_card(view: LifeView) -> Card:
    """The step before a deletion from the reminder: it names the instance and what is lost."""
    return card(
        heading(f"Delete {view.name} ({view.workspace})?"),
        paragraph(f"Azure ML deletes {view.name} and its disk. This cannot be undone."),
        paragraph(LOST),
        paragraph(KEPT, subtle=True),
        actions=[execute(f"Delete {view.name}", DELETE_CONFIRM, _data(view), style="destructive")],
    )


def admins_delete_card(view: LifeView) -> Card:
    """To the workspace's admins after the grace (`delete: ask`): Delete, Extend 30 days, Keep."""
    assert view.delete_after is not None
    return card(
        heading(f"Delete {view.name}? Its grace ended on {day_text(view.delete_after)}"),
        facts(
            [
                ("Instance", f"{view.name} ({view.workspace}), {view.size}"),
                ("Owner", view.owner),
                ("Ended", day_text(view.end)),
                ("Stopped since", view.stopped_since or "unknown"),
                ("Cost since created", view.cost),
            ]
        ),
        paragraph(LOST),
        actions=[
            execute("Delete", ADMIN_DELETE, _data(view), style="destructive"),
            execute("Extend 30 days", ADMIN_EXTEND, _data(view)),
            execute("Keep", ADMIN_KEEP, _data(view)),
        ],
    )


def stale_card(name: str, workspace: str, why: str, end: date | None) -> Card:
    """Once a month to the owner of a stale instance: still needed?"""
    keep_title = f"Keep, it ends on {day_text(end)}" if end else "Keep it"
    return card(
        heading(f"Do you still need {name}?"),
        paragraph(
            f"{name} ({workspace}) is {why}. Retire it if the work is done: it is stopped now and "
            "deleted after the grace."
        ),
        actions=[
            execute("Retire", RETIRE, {"workspace": workspace, "instance": name}, style="destructive"),
            execute(keep_title, KEEP_STALE, {"workspace": workspace, "instance": name}),
        ],
    )


def last_notice_card(view: LifeView) -> Card:
    """To the owner a day before an automatic deletion (`delete: auto`)."""
    return card(
        heading(f"{view.name} is deleted tomorrow"),
        paragraph(
            f"{view.name} ({view.workspace}) ended on {day_text(view.end)}; its grace is over, and Curfew "
            "deletes it tomorrow. Save what you need now."
        ),
        paragraph(LOST),
        paragraph(KEPT, subtle=True),
        actions=[_extend(view)],
    )


def end_approval_card(name: str, workspace: str, end: date, requester: str, limit: int) -> Card:
    """To the approvers: an end date further away than `max_lifetime_days`."""
    data = {"workspace": workspace, "instance": name}
    return card(
        heading(f"End date of {name} past {limit} days"),
        paragraph(
            f"{requester or 'Its owner'} asks that {name} ({workspace}) end on {day_text(end)} {end.year}, "
            f"more than {limit} days from today."
        ),
        actions=[
            execute("Approve", APPROVE_END, data, style="positive"),
            execute("Reject", REJECT_END, data, style="destructive"),
        ],
    )


def done_card(text: str) -> Card:
    return card(paragraph(text))
