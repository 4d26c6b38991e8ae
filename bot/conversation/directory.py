"""Finding the instance a person names in chat ("did you mean", one name in several workspaces).

Whether the person may act on it is the gate's question (bot/conversation/gate.py), asked by the router.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

from bot.conversation.gate import Acts, authorize
from config.settings import Settings
from domain.grammar import Target
from domain.model import Instance


@dataclass(frozen=True, slots=True)
class Found:
    instance: Instance


@dataclass(frozen=True, slots=True)
class NotFoundHere:
    message: str


@dataclass(frozen=True, slots=True)
class InSeveralWorkspaces:
    name: str
    workspaces: tuple[str, ...]


Lookup = Found | NotFoundHere | InSeveralWorkspaces


def owned_by(instances: Sequence[Instance], user: str) -> list[Instance]:
    return [i for i in instances if (i.owner_object_id or "").lower() == user.lower()]


def visible_to(settings: Settings, instances: Sequence[Instance], user: str) -> list[Instance]:
    """What a person may act on: their own instances and those of the workspaces they administer."""
    return [i for i in instances if authorize(settings, user, Acts.INSTANCE, i, "act on") is None]


def find(settings: Settings, instances: Sequence[Instance], target: Target, user: str) -> Lookup:
    name = target.name.lower()
    matches = [
        i
        for i in instances
        if i.name.lower() == name and (target.workspace is None or i.workspace == target.workspace)
    ]
    if len(matches) == 1:
        return Found(matches[0])
    if len(matches) > 1:
        return InSeveralWorkspaces(target.name, tuple(sorted(i.workspace for i in matches)))
    where = f" in workspace {target.workspace}" if target.workspace else ""
    mine = sorted({i.name for i in visible_to(settings, instances, user)})
    close = difflib.get_close_matches(name, mine, n=1, cutoff=0.5)
    if close:
        return NotFoundHere(f"No instance {target.name}{where}; did you mean {close[0]}?")
    if mine:
        return NotFoundHere(f"No instance {target.name}{where}. Yours: {', '.join(mine)}.")
    return NotFoundHere(f"No instance {target.name}{where}, and you have no instances I know of.")
