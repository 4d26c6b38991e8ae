"""Curfew's chat: each command maps to one small handler through the HANDLERS table.

A handler receives the turn's context and the parsed command and returns replies. Commands that act
on an instance name it; `_with_instance` finds it and applies the one authorization check before the
handler runs. Cards come from bot/cards.py; the grammar from domain/grammar.py.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot import cards
from bot.costs import rate_text, since_start_text
from bot.directory import Found, InSeveralWorkspaces, find, may_act, owned_by
from bot.followup import FollowUps
from bot.keeping import KeepFlow
from bot.report import report_replies
from bot.turns import ActionResult, Inbound, Reply
from bot.warning_actions import handle_click
from bot.warning_card import VERB as WARNING_VERB
from compute.prices import PriceBook
from domain import grammar as g
from domain.decide import tonight
from domain.model import Instance, InstanceKey
from domain.timefmt import format_local
from runtime import Runtime
from storage.repositories import AuditEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Turn:
    inbound: Inbound
    wording: str
    """What the person asked, typed or carried by a button."""
    user: str
    now: datetime
    zone: ZoneInfo
    """The reader's zone: Teams' localTimezone, else Curfew's default zone."""
    explicit_zone: bool


Handler = Callable[["CurfewChat", Turn, Any], Awaitable[list[Reply]]]
HANDLERS: dict[type, Handler] = {}
"""Chat commands (types from domain.grammar) -> their handler."""

CardVerb = Callable[["CurfewChat", Turn, Mapping[str, Any]], Awaitable[cards.Card]]
CARD_VERBS: dict[str, CardVerb] = {}
"""Card buttons (the `verb` in their data) -> a handler returning the card that replaces the clicked one.
Action.Execute and its Action.Submit fallback arrive here alike."""


def handles(*types: type) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for t in types:
            HANDLERS[t] = fn
        return fn

    return register


def text(message: str) -> list[Reply]:
    return [Reply(text=message)]


class CurfewChat:
    """The TurnHandler behind /api/messages."""

    def __init__(self, rt: Runtime, followups: FollowUps) -> None:
        self.rt = rt
        self.followups = followups
        self.keeps = KeepFlow(rt)

    async def on_install(self, inbound: Inbound, first_time: bool) -> list[Reply]:
        return [Reply(card=cards.welcome_card(inbound.user_name))] if first_time else []

    async def on_action(self, inbound: Inbound) -> ActionResult:
        verb = _verb(inbound) or inbound.verb
        if inbound.user_aad_id and isinstance(verb, str) and verb in CARD_VERBS:
            return ActionResult(await CARD_VERBS[verb](self, self._turn(inbound, ""), inbound.value or {}))
        replies = await self.on_message(inbound)
        card = next((r.card for r in replies if r.card), None)
        message = "; ".join(r.text for r in replies if r.text) or "Done."
        return ActionResult(card or cards.card(cards.paragraph(message)))

    async def on_message(self, inbound: Inbound) -> list[Reply]:
        if not inbound.user_aad_id:
            return text(
                "I can only act for a signed-in Teams user (no AAD object id came with this message)."
            )
        wording = inbound.text
        verb = _verb(inbound)
        if inbound.value is not None and isinstance(verb, str) and verb in CARD_VERBS:
            refreshed = await CARD_VERBS[verb](self, self._turn(inbound, ""), inbound.value)
            return [Reply(card=refreshed, update_activity_id=inbound.reply_to_id)]
        if inbound.value is not None:
            if inbound.value.get("verb") != "run" or not isinstance(inbound.value.get("command"), str):
                return text(
                    "That button is from a card I no longer understand. Say `help` to see what I can do."
                )
            wording = inbound.value["command"]
        turn = self._turn(inbound, wording)
        command = g.parse_command(wording, turn.now, turn.zone)
        if isinstance(command, g.ParseError):
            if command.message.startswith("I did not understand"):
                return [Reply(card=cards.help_card(command.message))]
            return text(command.message + (f" {command.hint}" if command.hint else ""))
        handler = HANDLERS.get(type(command))
        if handler is None:
            return text("I understood that, but this version of Curfew cannot do it yet.")
        return await handler(self, turn, command)

    def _turn(self, inbound: Inbound, wording: str) -> Turn:
        zone, explicit = ZoneInfo(self.rt.settings.timezone), False
        if inbound.local_timezone:
            try:
                zone, explicit = ZoneInfo(inbound.local_timezone), True
            except (ZoneInfoNotFoundError, ValueError):
                log.info("ignoring unknown localTimezone %r", inbound.local_timezone)
        assert inbound.user_aad_id is not None
        return Turn(inbound, wording, inbound.user_aad_id.lower(), self.rt.clock(), zone, explicit)

    def zone_for(self, turn: Turn, instance: Instance) -> ZoneInfo:
        """DECISIONS rule 2: localTimezone, else the instance's workspace zone."""
        return turn.zone if turn.explicit_zone else self.rt.settings.policy(instance.workspace).zone

    async def with_instance(
        self, turn: Turn, target: g.Target, action: str, then: Callable[[Instance], Awaitable[list[Reply]]]
    ) -> list[Reply]:
        instances = await self.rt.fleet.list_instances()
        found = find(self.rt.settings, instances, target, turn.user)
        if isinstance(found, InSeveralWorkspaces):
            options = [
                (f"{found.name}@{ws}", _pick_workspace(turn.wording, target.name, ws))
                for ws in found.workspaces
            ]
            return [
                Reply(
                    card=cards.choice_card(
                        f"{found.name} exists in {len(found.workspaces)} workspaces. Which one?", options
                    )
                )
            ]
        if not isinstance(found, Found):
            return text(found.message)
        instance = found.instance
        if not may_act(self.rt.settings, turn.user, instance):
            await self.audit(turn, instance, action, "refused", "not the owner or a workspace admin")
            return text(
                f"{instance.name} is not yours, so I cannot {action} it. Only its owner or an admin of "
                f"workspace {instance.workspace} can; ask them."
            )
        return await then(instance)

    async def audit(
        self, turn: Turn, instance: Instance, action: str, outcome: str, reason: str = ""
    ) -> None:
        event = AuditEvent(
            turn.now, turn.user, f"chat {action}", outcome, reason, instance.workspace, instance.name
        )
        await self.rt.store.call(self.rt.store.audit.record, event)


def card_verb(name: str) -> Callable[[CardVerb], CardVerb]:
    def register(fn: CardVerb) -> CardVerb:
        CARD_VERBS[name] = fn
        return fn

    return register


CARD_VERBS[WARNING_VERB] = lambda chat, turn, value: handle_click(chat, turn, value)


def _verb(inbound: Inbound) -> object:
    return (inbound.value or {}).get("verb")


def _pick_workspace(wording: str, name: str, workspace: str) -> str:
    """The same command with NAME@WORKSPACE in place of the name (DECISIONS rule 7)."""
    index = wording.lower().find(name.lower())
    if index < 0:
        return wording
    return f"{wording[:index]}{name}@{workspace}{wording[index + len(name) :]}"


@handles(g.Help)
async def _help(chat: CurfewChat, turn: Turn, _: g.Help) -> list[Reply]:
    return [Reply(card=cards.help_card())]


@handles(g.Status)
async def _status(chat: CurfewChat, turn: Turn, _: g.Status) -> list[Reply]:
    mine = sorted(
        owned_by(await chat.rt.fleet.list_instances(), turn.user), key=lambda i: (i.name, i.workspace)
    )
    keeps = await chat.rt.store.call(chat.rt.store.keep_ons.in_force, turn.now, [i.key for i in mine])
    jobs = [j for ws in sorted({i.workspace for i in mine}) for j in await chat.rt.fleet.list_active_jobs(ws)]
    prices = await PriceBook(chat.rt.fleet).for_instances(mine)
    rows = []
    for i in mine:
        fate = tonight(turn.now, i, keeps, jobs, chat.rt.settings.policy(i.workspace))
        per_hour, simulated = prices[i.key]
        spent = since_start_text(i, per_hour, turn.now, chat.zone_for(turn, i))
        price = rate_text(per_hour, simulated)
        rows.append(cards.StatusRow(i.name, i.workspace, i.size, i.state.value, fate.reason, price, spent))
    note = (
        "Simulated demo fleet: no Azure ML workspace is configured." if chat.rt.settings.simulated else None
    )
    return [Reply(card=cards.status_card(rows, note))]


@handles(g.Keep, g.AmbiguousKeep)
async def _keep(chat: CurfewChat, turn: Turn, cmd: g.Keep | g.AmbiguousKeep) -> list[Reply]:
    return await chat.with_instance(turn, cmd.target, "keep", lambda i: chat.keeps.keep(chat, turn, i, cmd))


@handles(g.Release)
async def _release(chat: CurfewChat, turn: Turn, cmd: g.Release) -> list[Reply]:
    return await chat.with_instance(turn, cmd.target, "release", lambda i: chat.keeps.release(chat, turn, i))


@handles(g.Stop, g.Start)
async def _stop_start(chat: CurfewChat, turn: Turn, cmd: g.Stop | g.Start) -> list[Reply]:
    verb = "stop" if isinstance(cmd, g.Stop) else "start"

    async def act(instance: Instance) -> list[Reply]:
        await chat.audit(turn, instance, verb, "requested")
        chat.followups.act(verb, instance, turn.user, turn.inbound.tenant_id or instance.owner_tenant_id)
        ing = "Stopping" if verb == "stop" else "Starting"
        return text(
            f"{ing} {instance.name} ({instance.workspace}). I will tell you when it is "
            f"{'stopped' if verb == 'stop' else 'running'}."
        )

    return await chat.with_instance(turn, cmd.target, verb, act)


@handles(g.MorningStart)
async def _morning(chat: CurfewChat, turn: Turn, cmd: g.MorningStart) -> list[Reply]:
    async def set_morning(instance: Instance) -> list[Reply]:
        from domain.model import MorningStart as Preference

        wish = Preference(instance.workspace, instance.name, cmd.enabled, cmd.at)
        await chat.rt.store.call(chat.rt.store.mornings.set, wish, turn.user, turn.now)
        await chat.audit(turn, instance, "morning start", "on" if cmd.enabled else "off")
        scheduler = chat.rt.extras.get("scheduler")
        if scheduler is not None:
            await chat.rt.store.call(scheduler.sync_jobs)
        if not cmd.enabled:
            return text(f"Morning start is off for {instance.name}.")
        policy = chat.rt.settings.policy(instance.workspace)
        at = (cmd.at or policy.morning.at).strftime("%H:%M")
        days = ", ".join(chat.rt.settings.morning_start.days)
        return text(f"I will start {instance.name} at {at} {policy.zone.key} on {days}.")

    return await chat.with_instance(turn, cmd.target, "change", set_morning)


@handles(g.History)
async def _history(chat: CurfewChat, turn: Turn, cmd: g.History) -> list[Reply]:
    async def show(instance: Instance) -> list[Reply]:
        zone = chat.zone_for(turn, instance)
        events = await chat.rt.store.call(
            chat.rt.store.audit.for_instance, InstanceKey(instance.workspace, instance.name)
        )
        rows = [
            (
                format_local(e.at, zone),
                e.actor,
                e.action,
                f"{e.outcome}" + (f", {e.reason}" if e.reason else ""),
            )
            for e in events
        ]
        return [Reply(card=cards.history_card(instance.name, rows))]

    return await chat.with_instance(turn, cmd.target, "read the history of", show)


@handles(g.Report)
async def _report(chat: CurfewChat, turn: Turn, cmd: g.Report) -> list[Reply]:
    return await report_replies(chat.rt, turn.user, turn.now, turn.zone, cmd)
