"""Curfew's chat and card clicks: parse, look the command up in the routes, pass the one gate, run.

`Routes` is the table: each handler module's `register(routes, ...)` adds its commands (types from
domain.grammar) and card verbs (the `verb` in a button's data), each declaring what it acts on
(`gate.Acts`). For a command that acts on an instance the router finds the instance the person
named (bot/conversation/directory.py); for a card verb the verb's `locate` reads the payload's
instance or request from Curfew's own state. Then `gate.authorize` decides, the refusal is audited
here, and only an authorized handler runs. Action.Execute and its Action.Submit fallback arrive alike.

When something Curfew depends on fails, the answer says so: an Azure failure (`FleetError`) answers
with its message and what to do (bot/flows/failures.py); a database failure (`StorageError`) answers
"I could not save that; nothing changed", which is true because every state change commits in one
transaction with its audit and outbox rows (storage/outbox.py). A click keeps its card's buttons.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from bot.cards import basics as cards
from bot.conversation.directory import Found, InSeveralWorkspaces, find
from bot.conversation.gate import Acts, Refusal, Subject, authorize, instance_of
from bot.flows.audit import audit_event, record, record_refusal
from bot.flows.failures import NOT_SAVED, fleet_answer
from bot.turns import CardAnswer, Inbound, Reply, Turn
from compute.port import FleetError
from domain import grammar as g
from domain.limits import known_zone
from runtime import Runtime
from storage.repositories import StorageError

log = logging.getLogger(__name__)

Payload = Mapping[str, Any]
CommandHandler = Callable[[Turn, Any, Any], Awaitable[list[Reply]]]
"""(turn, parsed command, the instance it acts on or None) -> replies."""
VerbHandler = Callable[[Turn, Payload, Any], Awaitable[cards.Card]]
"""(turn, the button's data, the subject it acts on or None) -> the card that replaces the clicked one."""
Locate = Callable[[Turn, Payload], Awaitable[Subject | str]]
"""The subject a button's data names, read from Curfew's own state; or why it cannot be read."""
Refuse = Callable[[Turn, Subject | None, str], Awaitable[cards.Card]]
"""The card answering a refused or unreadable click."""


@dataclass(frozen=True, slots=True)
class CommandRoute:
    handler: CommandHandler
    acts_on: Acts
    action: str
    """The verb a refusal names ("keep", "read the history of")."""
    subject: Callable[[Any, Any], Subject | Awaitable[Subject]] | None = None
    """What the gate judges, from (command, instance), when it is more than the instance (it may
    read Curfew's own state: an awaitable)."""


@dataclass(frozen=True, slots=True)
class VerbRoute:
    handler: VerbHandler
    acts_on: Acts
    locate: Locate | None
    refuse: Refuse
    audit_as: Callable[[Payload], str]


async def plain_refusal(turn: Turn, subject: Subject | None, message: str) -> cards.Card:
    return cards.card(cards.paragraph(message))


class Routes:
    """Commands and card verbs, filled by each handler module's `register` in the composition root."""

    def __init__(self) -> None:
        self.commands: dict[type, CommandRoute] = {}
        self.verbs: dict[str, VerbRoute] = {}

    def command(
        self,
        *types: type,
        acts_on: Acts,
        handler: CommandHandler,
        action: str = "",
        subject: Callable[[Any, Any], Subject | Awaitable[Subject]] | None = None,
    ) -> None:
        if acts_on in (Acts.INSTANCE, Acts.IDLE_SHUTDOWN, Acts.START) and not action:
            raise ValueError("a command that acts on an instance names its action for refusals")
        for t in types:
            if t in self.commands:
                raise ValueError(f"{t.__name__} is registered twice")
            self.commands[t] = CommandRoute(handler, acts_on, action, subject)

    def verb(
        self,
        name: str,
        *,
        acts_on: Acts,
        handler: VerbHandler,
        locate: Locate | None = None,
        refuse: Refuse = plain_refusal,
        audit_as: Callable[[Payload], str] | None = None,
    ) -> None:
        if acts_on is not Acts.NOTHING and locate is None:
            raise ValueError(f"card verb {name} acts on {acts_on.value}: it needs `locate`")
        if name in self.verbs:
            raise ValueError(f"card verb {name} is registered twice")
        self.verbs[name] = VerbRoute(handler, acts_on, locate, refuse, audit_as or (lambda _: name))


class Conversation:
    """The TurnHandler behind /api/messages."""

    def __init__(self, rt: Runtime, routes: Routes) -> None:
        self.rt = rt
        self.routes = routes

    async def on_install(self, inbound: Inbound, first_time: bool) -> list[Reply]:
        return [Reply(card=cards.welcome_card(inbound.user_name))] if first_time else []

    async def on_action(self, inbound: Inbound) -> CardAnswer:
        try:
            return await self._action(inbound)
        except (FleetError, StorageError) as error:
            log.warning("a card action failed: %s", error)
            return CardAnswer(cards.card(cards.paragraph(failure_answer(error))))

    async def on_message(self, inbound: Inbound) -> list[Reply]:
        try:
            return await self._message(inbound)
        except (FleetError, StorageError) as error:
            log.warning("a message failed: %s", error)
            return text(failure_answer(error))

    async def _action(self, inbound: Inbound) -> CardAnswer:
        verb = _verb(inbound) or inbound.verb
        if inbound.user_aad_id and isinstance(verb, str) and verb in self.routes.verbs:
            return CardAnswer(await self._click(verb, self.turn(inbound, ""), inbound.value or {}))
        replies = await self._message(inbound)
        card = next((r.card for r in replies if r.card), None)
        message = "; ".join(r.text for r in replies if r.text) or "Done."
        return CardAnswer(card or cards.card(cards.paragraph(message)))

    async def _message(self, inbound: Inbound) -> list[Reply]:
        if not inbound.user_aad_id:
            return text(
                "I can only act for a signed-in Teams user (no AAD object id came with this message)."
            )
        wording = inbound.text
        verb = _verb(inbound)
        if inbound.value is not None and isinstance(verb, str) and verb in self.routes.verbs:
            refreshed = await self._click(verb, self.turn(inbound, ""), inbound.value)
            return [Reply(card=refreshed, update_activity_id=inbound.reply_to_id)]
        if inbound.value is not None:
            if inbound.value.get("verb") != "run" or not isinstance(inbound.value.get("command"), str):
                return text(
                    "That button is from a card I no longer understand. Say `help` to see what I can do."
                )
            wording = inbound.value["command"]
        turn = self.turn(inbound, wording)
        command = g.parse_command(wording, turn.now, turn.zone)
        if isinstance(command, g.ParseError):
            if command.not_understood:
                return [Reply(card=cards.help_card(command.message)), *zone_note(turn, turn.zone)]
            return text(command.message + (f" {command.hint}" if command.hint else "")) + zone_note(
                turn, turn.zone
            )
        route = self.routes.commands.get(type(command))
        if route is None:
            return text("I understood that, but this version of Curfew cannot do it yet.")
        if route.acts_on is Acts.NOTHING:
            return await route.handler(turn, command, None) + zone_note(turn, turn.zone)
        return await self._on_instance(turn, command, route)

    def turn(self, inbound: Inbound, wording: str) -> Turn:
        """The turn of a known sender; the zone Teams gave only when it is a known IANA zone (the
        adapter checked it; `known_zone` again here, so no other way in can bring an unknown one)."""
        zone, explicit = ZoneInfo(self.rt.settings.timezone), False
        if (given := known_zone(inbound.local_timezone)) is not None:
            zone, explicit = given, True
        assert inbound.user_aad_id is not None
        return Turn(inbound, wording, inbound.user_aad_id.lower(), self.rt.clock(), zone, explicit)

    async def _on_instance(self, turn: Turn, command: Any, route: CommandRoute) -> list[Reply]:
        target: g.Target = command.target
        named = await self.rt.fleet.recent_instances(target.workspace, name=target.name)
        found = find(self.rt.settings, named, target, turn.user)
        if not isinstance(found, Found | InSeveralWorkspaces):  # suggest from what they may see
            everything = await self.rt.fleet.recent_instances(target.workspace)
            found = find(self.rt.settings, everything, target, turn.user)
        if isinstance(found, InSeveralWorkspaces):
            options = [
                (f"{found.name}@{ws}", _pick_workspace(turn.wording, target.name, ws))
                for ws in found.workspaces
            ]
            question = f"{found.name} exists in {len(found.workspaces)} workspaces. Which one?"
            return [Reply(card=cards.choice_card(question, options))]
        if not isinstance(found, Found):
            return text(found.message)
        subject = route.subject(command, found.instance) if route.subject else found.instance
        if inspect.isawaitable(subject):
            subject = await subject
        refusal = await self._gate(turn, route.acts_on, subject, route.action, f"chat {route.action}")
        if refusal is not None:
            return text(refusal.message)
        used = turn.zone if turn.explicit_zone else self.rt.settings.policy(found.instance.workspace).zone
        return await route.handler(turn, command, found.instance) + zone_note(turn, used)

    async def _click(self, verb: str, turn: Turn, value: Payload) -> cards.Card:
        route = self.routes.verbs[verb]
        subject: Subject | None = None
        if route.locate is not None:
            located = await route.locate(turn, value)
            if isinstance(located, str):
                return await route.refuse(turn, None, located)
            subject = located
        refusal = await self._gate(turn, route.acts_on, subject, "change", route.audit_as(value))
        if refusal is not None:
            return await route.refuse(turn, subject, refusal.message)
        try:
            return await route.handler(turn, value, subject)
        except (FleetError, StorageError) as error:
            log.warning("card verb %s failed: %s", verb, error)
            return await _refused_or_plain(route, turn, subject, failure_answer(error))

    async def _gate(
        self, turn: Turn, acts_on: Acts, subject: Subject | None, action: str, audit_as: str
    ) -> Refusal | None:
        refusal = authorize(self.rt.settings, turn.user, acts_on, subject, action)
        if refusal is not None:
            by_reason = (Acts.INSTANCE, Acts.IDLE_SHUTDOWN, Acts.START, Acts.END_DECISION)
            reason = refusal.reason if acts_on in by_reason else refusal.message
            audited = instance_of(subject)
            if refusal.trespass:  # the security log's, so the owner's history shows what happened
                await record_refusal(
                    self.rt.store, turn.now, turn.user, turn.tenant_id, audit_as, reason, audited
                )
            else:
                event = audit_event(turn.now, turn.user, audit_as, "refused", reason, audited)
                await record(self.rt.store, event)
        return refusal


def text(message: str) -> list[Reply]:
    return [Reply(text=message)]


def zone_note(turn: Turn, used: ZoneInfo) -> list[Reply]:
    """When Teams gave a zone Curfew does not know: one line saying which zone the answer used."""
    given = turn.inbound.unknown_timezone
    if not given:
        return []
    return text(f"Teams gave your time zone as “{given}”, which is no time zone I know; I used {used.key}.")


def failure_answer(error: FleetError | StorageError) -> str:
    return fleet_answer(error) if isinstance(error, FleetError) else NOT_SAVED


async def _refused_or_plain(
    route: VerbRoute, turn: Turn, subject: Subject | None, message: str
) -> cards.Card:
    """The clicked card as it stands, with `message` (so its buttons stay); plain when that fails too."""
    try:
        return await route.refuse(turn, subject, message)
    except (FleetError, StorageError):
        return cards.card(cards.paragraph(message))


async def fleet_subject(rt: Runtime, workspace: str, name: str) -> Subject | str:
    """The instance a button names, from chat's view of the fleet (Curfew's own writes read again),
    else asked of Azure (one get); or why it cannot be read. Never a re-listing of the fleet."""
    try:
        viewed = await rt.fleet.recent_instances(workspace, name=name)
        return viewed[0] if viewed else await rt.fleet.get_instance(workspace, name)
    except FleetError as error:
        return f"I could not read {name}. {fleet_answer(error)}"


def _verb(inbound: Inbound) -> object:
    return (inbound.value or {}).get("verb")


def _pick_workspace(wording: str, name: str, workspace: str) -> str:
    """The same command with NAME@WORKSPACE in place of the name (DECISIONS rule 7)."""
    index = wording.lower().find(name.lower())
    if index < 0:
        return wording
    return f"{wording[:index]}{name}@{workspace}{wording[index + len(name) :]}"
