"""Who may act: the one authorization rule, in front of every command and card verb that acts on
something. The router asks it before any handler runs; handlers never check again.

- an instance: its owner (DECISIONS rule 3) or an admin of its workspace; an instance without owner
  only its admins;
- a decision on a request: an approver of its workspace who is not the requester;
- retrying a failed creation: an approver or an admin of its workspace;
- starting an instance past its end date: only an admin of its workspace (the owner extends it first);
- an end date past `lifecycle.max_lifetime_days`: an approver of its workspace who did not ask for it.

The identity is the Teams-authenticated sender's AAD object id (`Turn.user`), never anything a card
or message carries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from config.settings import Settings
from domain.idle import choice_refused
from domain.lifecycle import short_day
from domain.model import Instance
from storage.requests_repo import ComputeRequest


class Acts(StrEnum):
    """What a command or card verb acts on; every registration declares one."""

    NOTHING = "nothing"
    """The sender's own view or own new request: help, status, report, the request form."""
    INSTANCE = "instance"
    IDLE_SHUTDOWN = "idle shutdown"
    """An instance's idle setting: owner or admin, and the owner only within the workspace's bound."""
    START = "start"
    """Starting an instance: owner or admin, and after its end date only an admin."""
    END_DECISION = "end date decision"
    """An end date past the limit: an approver of the workspace who did not ask for it."""
    REQUEST_DECISION = "request decision"
    REQUEST_RETRY = "request retry"


@dataclass(frozen=True, slots=True)
class IdleChoice:
    """Someone wants Azure to stop `instance` after `minutes` idle (None: never)."""

    instance: Instance
    minutes: int | None


@dataclass(frozen=True, slots=True)
class Starting:
    """Someone wants `instance` started; `ended_on` is its end date when that has passed."""

    instance: Instance
    ended_on: date | None


@dataclass(frozen=True, slots=True)
class EndRequest:
    """An end date past the limit that waits for an approver; `requester` asked for it."""

    instance: Instance
    requester: str


Subject = Instance | ComputeRequest | IdleChoice | Starting | EndRequest


def instance_of(subject: Subject | None) -> Instance | ComputeRequest | None:
    """What the audit trail names for a subject."""
    if isinstance(subject, IdleChoice | Starting | EndRequest):
        return subject.instance
    return subject


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: str
    """For the audit trail."""
    message: str
    """For the person, in chat."""
    trespass: bool = True
    """Someone acting on what is not theirs to act on: the security log's, not the instance's history.
    False for an owner's own choice outside a bound, which is part of what happened to the instance."""


def _same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and str(a).lower() == str(b).lower()


def _member(user: str, people: list[str]) -> bool:
    return any(_same(user, p) for p in people)


def authorize(
    settings: Settings, user: str, acts: Acts, subject: Subject | None, action: str
) -> Refusal | None:
    """None when `user` may `action` `subject`; else why not. The rule, written once."""
    match acts, subject:
        case Acts.NOTHING, _:
            return None
        case Acts.INSTANCE, Instance() as i:
            if _same(i.owner_object_id, user) or _member(user, settings.admins_of(i.workspace)):
                return None
            return Refusal(
                "not the owner or a workspace admin",
                f"{i.name} is not yours, so I cannot {action} it. Only its owner or an admin of "
                f"workspace {i.workspace} can; ask them.",
            )
        case Acts.IDLE_SHUTDOWN, IdleChoice() as c:
            refusal = authorize(settings, user, Acts.INSTANCE, c.instance, action)
            if refusal is not None:
                return refusal
            admin = _member(user, settings.admins_of(c.instance.workspace))
            policy = settings.idle_policy(c.instance.workspace)
            why = choice_refused(c.minutes, policy, admin=admin)
            if why is not None:
                return Refusal(
                    f"idle shutdown {c.minutes} outside what the sender may choose",
                    why + " Nothing changed.",
                    trespass=False,
                )
            return None
        case Acts.START, Starting() as st:
            refusal = authorize(settings, user, Acts.INSTANCE, st.instance, action)
            if refusal is not None or st.ended_on is None or is_admin(settings, user, st.instance.workspace):
                return refusal
            return Refusal(
                "past its end date",
                f"{st.instance.name} ended on {short_day(st.ended_on)}: extend it first "
                f"(`extend {st.instance.name} until DATE`).",
                trespass=False,
            )
        case Acts.END_DECISION, EndRequest() as er:
            ws = er.instance.workspace
            if _same(user, er.requester):
                return Refusal(
                    "the requester's own end date",
                    f"You cannot approve your own end date; another approver of {ws} must. Nothing changed.",
                )
            if not _member(user, settings.approvers_of(ws)):
                return Refusal(
                    "not an approver", f"Only an approver of workspace {ws} can decide this; nothing changed."
                )
            return None
        case Acts.REQUEST_DECISION, ComputeRequest() as r:
            if _same(user, r.requester_object_id):
                return Refusal(
                    "the requester's own request",
                    f"You cannot decide on your own request; another approver of {r.workspace} must.",
                )
            if not _member(user, settings.approvers_of(r.workspace)):
                return Refusal(
                    "not an approver",
                    f"Only an approver of workspace {r.workspace} can decide on this; nothing changed.",
                )
            return None
        case Acts.REQUEST_RETRY, ComputeRequest() as r:
            ws = r.workspace
            if _member(user, [*settings.approvers_of(ws), *settings.admins_of(ws)]):
                return None
            return Refusal(
                "not an approver or admin",
                f"Only an approver or admin of workspace {ws} can retry a creation; nothing changed.",
            )
    raise TypeError(f"{acts.value} cannot act on {type(subject).__name__}")


def is_admin(settings: Settings, user: str, workspace: str) -> bool:
    return _member(user, settings.admins_of(workspace))
