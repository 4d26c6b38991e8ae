"""Compute-instance requests: their lifecycle as a pure state machine, and the request form's rules.

A request is `requested` when the form is accepted, then `pending` (waiting for an approver) or, for an
auto-approved size, `approved` at once. An approval leads to `creating` once Azure accepts the create
call, then `ready` or `failed`; a failed creation can be retried (back to `approved`). A pending request
is `rejected` by an approver or `expired` after `requests.pending_days`.

Pure: no clock, no storage. The shell (bot/approvals.py) asks `transition` for the next state and hands
`sources(event)` to the repository's compare-and-set, so the first of two concurrent decisions wins.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Final

from domain.limits import REASON_MAX, too_long
from domain.timefmt import require_aware


class RequestState(StrEnum):
    REQUESTED = "requested"
    PENDING = "pending"
    APPROVED = "approved"
    CREATING = "creating"
    READY = "ready"
    REJECTED = "rejected"
    FAILED = "failed"
    EXPIRED = "expired"


class RequestEvent(StrEnum):
    SUBMIT = "submit"
    """The form was accepted and the request goes to the approvers."""
    AUTO_APPROVE = "auto_approve"
    """The form was accepted for a size that needs no approval."""
    APPROVE = "approve"
    REJECT = "reject"
    EXPIRE = "expire"
    CREATE = "create"
    """Azure accepted the create call; the instance is provisioning."""
    PROVISIONED = "provisioned"
    FAIL = "fail"
    """Azure refused the create call, or provisioning ended in a failed state."""
    RETRY = "retry"


S, E = RequestState, RequestEvent
TRANSITIONS: Final[Mapping[RequestEvent, tuple[frozenset[RequestState], RequestState]]] = {
    E.SUBMIT: (frozenset({S.REQUESTED}), S.PENDING),
    E.AUTO_APPROVE: (frozenset({S.REQUESTED}), S.APPROVED),
    E.APPROVE: (frozenset({S.PENDING}), S.APPROVED),
    E.REJECT: (frozenset({S.PENDING}), S.REJECTED),
    E.EXPIRE: (frozenset({S.PENDING}), S.EXPIRED),
    E.CREATE: (frozenset({S.APPROVED}), S.CREATING),
    E.PROVISIONED: (frozenset({S.CREATING}), S.READY),
    E.FAIL: (frozenset({S.APPROVED, S.CREATING}), S.FAILED),
    E.RETRY: (frozenset({S.FAILED}), S.APPROVED),
}
"""event -> (the states it may happen in, the state it leads to)."""

OPEN: Final = frozenset({S.REQUESTED, S.PENDING, S.APPROVED, S.CREATING})
"""States of a request that will still become (or may become) an instance: counted against the quota."""
FINAL: Final = frozenset({S.READY, S.REJECTED, S.EXPIRED})


@dataclass(frozen=True, slots=True)
class TransitionError:
    """An event that cannot happen in the request's state, in words for a person."""

    state: RequestState
    event: RequestEvent
    message: str


_ALREADY: Final = {
    S.APPROVED: "was already approved",
    S.CREATING: "was already approved and is being created",
    S.READY: "was already approved and created",
    S.REJECTED: "was already rejected",
    S.FAILED: "was approved, but its creation failed",
    S.EXPIRED: "expired without a decision",
    S.PENDING: "is still waiting for a decision",
    S.REQUESTED: "has not been sent to the approvers yet",
}


def transition(state: RequestState, event: RequestEvent) -> RequestState | TransitionError:
    """The state after `event`, or why the event cannot happen now."""
    sources, target = TRANSITIONS[event]
    if state in sources:
        return target
    return TransitionError(state, event, f"This request {_ALREADY[state]}, so I cannot {event.value} it.")


def sources(event: RequestEvent) -> frozenset[RequestState]:
    """The states `event` may happen in (for the repository's compare-and-set)."""
    return TRANSITIONS[event][0]


def target(event: RequestEvent) -> RequestState:
    return TRANSITIONS[event][1]


def expires_at(since: datetime, pending_days: int) -> datetime:
    """When a request pending since `since` expires."""
    require_aware(since, "since")
    return since + timedelta(days=pending_days)


def is_expired(since: datetime, now: datetime, pending_days: int) -> bool:
    require_aware(now, "now")
    return now >= expires_at(since, pending_days)


# -- the request form ---------------------------------------------------------------------------

NAME_RULE: Final = re.compile(r"^[A-Za-z][A-Za-z0-9-]{2,23}$")
PURPOSE_MAX: Final = REASON_MAX


@dataclass(frozen=True, slots=True)
class RequestForm:
    """What the requester typed into the form card (unchecked)."""

    workspace: str
    name: str
    size: str
    purpose: str
    morning_start: bool = False
    end_date: str = ""
    """The project's end date as the date input sent it (ISO), or empty."""

    @property
    def ends(self) -> date | None:
        try:
            return date.fromisoformat(self.end_date) if self.end_date else None
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class EndRule:
    """The request form's end date (`lifecycle:`): required or not, from `today`, within `max_days`."""

    today: date
    required: bool
    max_days: int


@dataclass(frozen=True, slots=True)
class FormRules:
    """Everything the form is checked against, gathered by the shell."""

    workspaces: Collection[str]
    """Workspace aliases the requester may ask for."""
    sizes: Collection[str]
    """The allow-list of VM sizes."""
    taken: Collection[tuple[str, str]]
    """(workspace, lower-case name) of existing instances and of open requests."""
    used: int
    """The requester's instances plus open requests, counted once each."""
    max_per_user: int
    end: EndRule | None = None
    """How the end date is checked; None: the form has none."""


FormErrors = dict[str, str]
"""Field id ("workspace", "name", "size", "purpose", "quota") -> the message shown beside it."""


def validate(form: RequestForm, rules: FormRules) -> FormErrors:
    """Per-field mistakes; empty when the request may go ahead."""
    errors: FormErrors = {}
    if form.workspace not in rules.workspaces:
        errors["workspace"] = "Choose one of the workspaces offered."
    if not NAME_RULE.match(form.name):
        errors["name"] = _name_problem(form.name)
    elif (form.workspace, form.name.lower()) in rules.taken:
        errors["name"] = f"{form.name} is already taken in {form.workspace}; choose another name."
    if form.size not in rules.sizes:
        errors["size"] = "Choose one of the sizes offered."
    if not form.purpose.strip():
        errors["purpose"] = "Say what the instance is for; the approvers decide on it."
    elif len(form.purpose) > PURPOSE_MAX:
        errors["purpose"] = too_long("The purpose", form.purpose, PURPOSE_MAX) or ""
    if rules.end is not None and (problem := _end_problem(form, rules.end)):
        errors["end_date"] = problem
    quota = quota_error(rules)
    if quota:
        errors["quota"] = quota
    return errors


def _end_problem(form: RequestForm, rule: EndRule) -> str | None:
    if not form.end_date:
        return "Give the project's end date: the instance is stopped then." if rule.required else None
    if form.ends is None:
        return "Pick the end date in the date field."
    if form.ends < rule.today:
        return "The end date is in the past; pick a day from today on."
    return None


def end_needs_approver(form: RequestForm, rule: EndRule) -> bool:
    """An end date further than `lifecycle.max_lifetime_days` sends even an auto-approved size to the
    approvers."""
    ends = form.ends
    return ends is not None and (ends - rule.today).days > rule.max_days


def quota_error(rules: FormRules) -> str | None:
    """Why the requester may not ask for one more instance, or None."""
    if rules.used < rules.max_per_user:
        return None
    return (
        f"You already have {rules.used} instance(s) or open request(s); the limit is "
        f"{rules.max_per_user}. Delete or give up one first, or ask a workspace admin."
    )


def _name_problem(name: str) -> str:
    if not 3 <= len(name) <= 24:
        return "A name has 3 to 24 characters."
    if not name[:1].isascii() or not name[:1].isalpha():
        return "A name starts with a letter (a to z)."
    return "A name has only letters, digits and hyphens."


def form_rules(
    user: str,
    instances: Collection[tuple[str, str, str | None]],
    open_requests: Collection[tuple[str, str, str]],
    workspaces: Collection[str],
    sizes: Collection[str],
    max_per_user: int,
    end: EndRule | None = None,
) -> FormRules:
    """The rules for `user`'s form from (workspace, name, owner) of every instance and (workspace, name,
    requester) of every open request. Names compare case-insensitively; owners by lower-case id."""
    owned = {(ws, name.lower()) for ws, name, owner in instances if (owner or "").lower() == user.lower()}
    mine = {(ws, name.lower()) for ws, name, requester in open_requests if requester.lower() == user.lower()}
    taken = {(ws, name.lower()) for ws, name, _ in [*instances, *open_requests]}
    return FormRules(workspaces, sizes, taken, quota_used(owned, mine), max_per_user, end)


def quota_used(owned: Collection[tuple[str, str]], open_requests: Collection[tuple[str, str]]) -> int:
    """Instances owned plus open requests, counting a request whose instance already exists once.

    Keys are (workspace, lower-case name).
    """
    return len(set(owned) | set(open_requests))
