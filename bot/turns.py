"""The bot's own view of a Teams turn: plain values, no botbuilder type.

`bot/adapter.py` (the only module that imports botbuilder) turns each inbound activity into an
`Inbound`, asks a `TurnHandler` what to answer, and turns the `Reply` values back into activities.
Proactive messages go the other way through a `Messenger`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class InboundKind(StrEnum):
    MESSAGE = "message"
    """A chat message; `value` is set when it came from an Action.Submit button."""
    ACTION = "action"
    """An Action.Execute click (invoke adaptiveCard/action); the answer replaces the card."""
    INSTALL = "install"
    """The app was installed or the bot added to a conversation (installationUpdate/conversationUpdate)."""


@dataclass(frozen=True, slots=True)
class Inbound:
    kind: InboundKind
    user_aad_id: str | None
    """The Teams-authenticated sender (`from.aadObjectId`): the only identity Curfew trusts."""
    user_name: str | None
    tenant_id: str | None
    conversation_id: str
    conversation_type: str = "personal"
    text: str = ""
    value: Mapping[str, Any] | None = None
    verb: str | None = None
    local_timezone: str | None = None
    reply_to_id: str | None = None
    activity_id: str | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """One message: text, an Adaptive Card (dict), or both."""

    text: str | None = None
    card: Mapping[str, Any] | None = None
    update_activity_id: str | None = None
    """Set to rewrite an earlier message (a card refreshed after an Action.Submit click)."""


@dataclass(frozen=True, slots=True)
class ActionResult:
    """The answer to an Action.Execute click: the card that replaces the clicked one."""

    card: Mapping[str, Any]
    followups: tuple[Reply, ...] = field(default_factory=tuple)


class TurnHandler(Protocol):
    async def on_message(self, inbound: Inbound) -> list[Reply]: ...

    async def on_action(self, inbound: Inbound) -> ActionResult: ...

    async def on_install(self, inbound: Inbound, first_time: bool) -> list[Reply]: ...


class SendOutcome(StrEnum):
    SENT = "sent"
    UNREACHABLE = "unreachable"
    """The user cannot be reached: blocked the bot (403), app not installed, unknown user."""
    FAILED = "failed"
    """Still failing after bounded retries (5xx, 412, 429 past the budget)."""


@dataclass(frozen=True, slots=True)
class SendResult:
    outcome: SendOutcome
    activity_id: str | None = None
    detail: str = ""


class Messenger(Protocol):
    """Proactive messages to one user, 1:1, through a stored reference or a new conversation."""

    async def send(self, aad_object_id: str, tenant_id: str | None, reply: Reply) -> SendResult: ...

    async def update(
        self, aad_object_id: str, tenant_id: str | None, activity_id: str, reply: Reply
    ) -> SendResult: ...
