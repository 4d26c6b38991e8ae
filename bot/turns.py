"""The bot's own view of a Teams turn: plain values, no botbuilder type.

The adapter (bot/adapter/, the only package that imports botbuilder or msrest) turns each inbound
activity into an `Inbound`, asks a `TurnHandler` what to answer, and turns the `Reply` values back
into activities. Proactive messages go the other way through a `Messenger`. `Turn` is what the
conversation and the flows know of one turn once the sender is known: who, when, and in which zone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol
from zoneinfo import ZoneInfo


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
    """The sender's IANA zone from Teams, only when it is one Curfew knows (checked by the adapter)."""
    unknown_timezone: str | None = None
    """What Teams gave as the zone when it is none Curfew knows (shortened): the reply says so."""
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
class CardAnswer:
    """The answer to an Action.Execute click: the card that replaces the clicked one."""

    card: Mapping[str, Any]
    followups: tuple[Reply, ...] = field(default_factory=tuple)


class TurnHandler(Protocol):
    async def on_message(self, inbound: Inbound) -> list[Reply]: ...

    async def on_action(self, inbound: Inbound) -> CardAnswer: ...

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


@dataclass(frozen=True, slots=True)
class Turn:
    """One turn from a known sender, as the conversation and the flows see it."""

    inbound: Inbound
    wording: str
    """What the person asked, typed or carried by a button."""
    user: str
    """The sender's AAD object id, lower case."""
    now: datetime
    zone: ZoneInfo
    """The reader's zone: Teams' localTimezone, else Curfew's default zone."""
    explicit_zone: bool
    """True when the zone came from Teams (DECISIONS rule 2)."""

    @property
    def tenant_id(self) -> str | None:
        return self.inbound.tenant_id

    @property
    def user_name(self) -> str | None:
        return self.inbound.user_name
