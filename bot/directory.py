"""Finding the instance a person names in chat, and whether that person may act on it.

Authorization is this one check, in front of every handler that acts on an instance: the owner (the
instance's assigned user) or an admin of its workspace may act; nobody else. The identity is the
Teams-authenticated sender's AAD object id, never anything a card or message carries.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

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


def is_admin(settings: Settings, user: str, workspace: str) -> bool:
    return user.lower() in {a.lower() for a in settings.admins_of(workspace)}


def may_act(settings: Settings, user: str, instance: Instance) -> bool:
    """Owner or workspace admin; an instance without owner only its admins (DECISIONS rule 3)."""
    owner = (instance.owner_object_id or "").lower()
    return (bool(owner) and owner == user.lower()) or is_admin(settings, user, instance.workspace)


def owned_by(instances: Sequence[Instance], user: str) -> list[Instance]:
    return [i for i in instances if (i.owner_object_id or "").lower() == user.lower()]


def visible_to(settings: Settings, instances: Sequence[Instance], user: str) -> list[Instance]:
    """What a person may act on: their own instances and those of the workspaces they administer."""
    return [i for i in instances if may_act(settings, user, i)]


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
