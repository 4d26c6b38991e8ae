"""Cards about Azure ML's idle shutdown: what Curfew set (to the owner), and `why NAME`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.cards.basics import Card, card, command_button, facts, heading, paragraph
from domain.idle import IdleNotice, minutes_text


def idle_changed_card(notices: Sequence[IdleNotice]) -> Card:
    """One card per owner: each instance whose idle shutdown Curfew set, and how to choose another."""
    rows = [
        (f"{n.name} ({n.workspace})", f"{minutes_text(n.before)} → {minutes_text(n.after)}") for n in notices
    ]
    bound = max(n.max_minutes for n in notices)
    first = notices[0]
    return card(
        heading("Idle shutdown set on your compute instances"),
        paragraph(
            "Azure ML now stops these instances by itself once they have been idle this long "
            "(no kernel, terminal, job or VS Code connection):"
        ),
        facts(rows),
        paragraph(
            f"To choose another value, say `idle NAME MINUTES` (15 to {bound} minutes), "
            f"e.g. `idle {first.name} 120`."
        ),
        actions=[command_button("Why is it on?", f"why {first.name}@{first.workspace}")],
    )


@dataclass(frozen=True, slots=True)
class WhyView:
    name: str
    workspace: str
    cause: str
    lines: Sequence[tuple[str, str]]
    conflicts: Sequence[str] = ()


def why_card(view: WhyView) -> Card:
    body = [heading(f"Why {view.name} is as it is"), paragraph(view.cause), facts(list(view.lines))]
    body += [paragraph(f"⚠ {conflict}") for conflict in view.conflicts]
    return card(*body)
