"""Clicks on the warning card: keep an instance (1 hour, 2 hours, tonight, until a date) or stop it now.

The card's data says which button, for which instance, about which curfew; nothing more is trusted.
The router locates the instance as Azure has it now and passes the gate (owner or admin, even on a
forwarded card). Then every click is checked against the current truth: a card about another curfew
than the coming one (passed, or forged), an instance already stopped, or one somebody already kept
gets the current state instead of an action. Every keep goes through the domain's planning.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from bot.cards.basics import Card
from bot.cards.warning import CHOICES, CHOSEN, VERB, WarningView, input_id, outdated_card, warning_card
from bot.conversation.gate import Acts, Subject
from bot.conversation.router import Routes, fleet_subject
from bot.flows.followups import ask
from bot.flows.keeping import KeepFlow
from bot.flows.pricing import with_costs
from bot.turns import Turn
from compute.prices import PriceBook
from domain.decide import RunKind
from domain.grammar import KeepEnd, Tonight, UntilDay, UntilInstant
from domain.keep import KeepPlan, KeepRefusal, describe_plan, plan_delay, plan_keep
from domain.limits import too_long
from domain.model import Instance, InstanceKey
from domain.schedule import local_instant, next_curfew
from domain.timefmt import format_clock_zone, format_local
from runtime import Runtime
from scheduler.snapshot import read_fleet

DELAYS = {"keep_1h": 1, "keep_2h": 2}


@dataclass(frozen=True, slots=True)
class Click:
    choice: str
    instance: str
    workspace: str
    curfew_at: datetime
    until_date: str | None
    until_time: str | None
    reason: str


def read_click(value: Mapping[str, Any]) -> Click | str:
    """The click's data, or what is wrong with it (a malformed or tampered payload).

    The inputs read are the clicked instance's own (each instance's ids on the card are its own)."""
    choice, name, workspace = value.get("choice"), value.get("instance"), value.get("workspace")
    if not isinstance(name, str) or not isinstance(workspace, str):
        return "This button's data is incomplete, so I did nothing. Say `status` to see your instances."
    key = InstanceKey(workspace, name)
    if choice == CHOSEN:
        choice = value.get(input_id(key, "choice")) or CHOSEN  # none chosen: the card says so
    if choice not in CHOICES and choice != CHOSEN:
        return "This button's data is incomplete, so I did nothing. Say `status` to see your instances."
    try:
        curfew_at = datetime.fromisoformat(str(value.get("curfew_at")))
    except ValueError:
        return "This button does not say which curfew it is about, so I did nothing."
    if curfew_at.tzinfo is None:
        return "This button's curfew time has no zone, so I did nothing."
    reason = str(value.get(input_id(key, "reason")) or "").strip()
    if problem := too_long("The reason", reason):
        return f"{problem} Nothing changed."
    until_date = _text(value, input_id(key, "until_date"))
    until_time = _text(value, input_id(key, "until_time"))
    return Click(choice, name, workspace, curfew_at, until_date, until_time, reason)


def _choice_of(value: Mapping[str, Any]) -> object:
    """The choice a click made: the button's, or for Apply the instance's own choice input."""
    choice, name, workspace = value.get("choice"), value.get("instance"), value.get("workspace")
    if choice == CHOSEN and isinstance(name, str) and isinstance(workspace, str):
        return value.get(input_id(InstanceKey(workspace, name), "choice"))
    return choice


def _text(value: Mapping[str, Any], key: str) -> str | None:
    item = value.get(key)
    return item.strip() or None if isinstance(item, str) else None


class WarningClicks:
    def __init__(self, rt: Runtime, keeps: KeepFlow) -> None:
        self.rt, self.keeps = rt, keeps

    def register(self, routes: Routes) -> None:
        routes.verb(
            VERB,
            acts_on=Acts.INSTANCE,
            locate=self.locate,
            handler=self.click,
            refuse=self.refuse,
            audit_as=lambda value: f"warning {_choice_of(value)}",
        )

    async def locate(self, turn: Turn, value: Mapping[str, Any]) -> Subject | str:
        click = read_click(value)
        if isinstance(click, str):
            return click
        return await fleet_subject(self.rt, click.workspace, click.instance)

    async def refuse(self, turn: Turn, subject: Subject | None, message: str) -> Card:
        if isinstance(subject, Instance):
            message = (
                f"Only the owner of {subject.name} or an admin of workspace {subject.workspace} "
                "can change it; your click changed nothing."
            )
            return outdated_card(message, subject, self.keeps.zone_for(turn, subject))
        return outdated_card(message, None, turn.zone)

    async def click(self, turn: Turn, value: Mapping[str, Any], instance: Instance) -> Card:
        click = read_click(value)
        assert not isinstance(click, str)  # `locate` read it
        zone = self.keeps.zone_for(turn, instance)
        stale = await self._stale(turn, click, instance, zone)
        if stale:
            await self.keeps.audit_as(turn, instance, f"warning {click.choice}", "outdated", stale)
            return outdated_card(stale, instance, zone)
        if click.choice == CHOSEN:
            notice = f"Choose what should happen to {instance.name} first, then Apply; nothing was changed."
            return warning_card(await self.view(instance.owner_object_id, click.curfew_at, notice))
        said, done = await self._apply(turn, click, instance, zone)
        view = await self.view(instance.owner_object_id, click.curfew_at, None if done else said)
        # the clicked instance's row first: a card the size rule must shorten never loses it
        first = sorted(view.decisions, key=lambda d: d.instance.key != instance.key)
        view = replace(view, decisions=tuple(first), done={instance.key: said} if done else {})
        return warning_card(view)

    async def view(self, owner: str | None, curfew_at: datetime, notice: str | None) -> WarningView:
        """The owner's instances facing the curfew at `curfew_at`, decided now."""
        rt, now = self.rt, self.rt.clock()
        snap = await read_fleet(rt, None, now, only=lambda i: (i.owner_object_id or None) == owner)
        decisions = snap.decide(RunKind.WARNING, now, rt.policies())
        mine = tuple(
            d for d in decisions if d.instant == curfew_at and (d.instance.state.is_running or d.keep_on)
        )
        first = snap.instances[0].workspace if snap.instances else None
        zone = rt.settings.policy(first).zone if first else ZoneInfo(rt.settings.timezone)
        view = WarningView(curfew_at, zone, mine, now, notice)
        return await with_costs(view, PriceBook(rt.fleet), rt.settings.policy)

    async def _stale(self, turn: Turn, click: Click, instance: Instance, zone: ZoneInfo) -> str | None:
        coming = next_curfew(self.rt.settings.policy(instance.workspace), turn.now, inclusive=True)
        if turn.now >= click.curfew_at:
            return (
                f"The curfew at {format_local(click.curfew_at, zone)} has passed; {instance.name} is "
                f"{instance.state.value} now."
            )
        if coming != click.curfew_at:
            shown = format_local(coming, zone) if coming else "none"
            return (
                f"This card is not about the coming curfew (that is {shown}), so I did nothing. "
                "Say `status` to see your instances."
            )
        if not instance.state.is_running:
            return f"{instance.name} is already {instance.state.value}."
        if click.choice.startswith("keep"):
            keeps = await self.rt.store.call(self.rt.store.keep_ons.in_force, turn.now, [instance.key])
            holding = [k for k in keeps if k.covers(click.curfew_at, turn.now)]
            if holding:
                k = max(holding, key=lambda k: k.effective_until)
                until = format_local(k.effective_until, zone)
                return f"{instance.name} is already kept until {until} by {k.created_by}."
        return None

    async def _apply(self, turn: Turn, click: Click, instance: Instance, zone: ZoneInfo) -> tuple[str, bool]:
        """What the click did, and whether it did it (else the text says why nothing changed)."""
        who = turn.user_name or "you"
        audit_as = f"warning {click.choice}"
        if click.choice == "stop_now":
            await ask(self.rt.store, "stop", turn, instance, "warning stop_now")
            return f"Stopping {instance.name} now, as {who} asked.", True
        policy = self.rt.settings.policy(instance.workspace)
        delay = DELAYS.get(click.choice)
        plan: KeepPlan | KeepRefusal
        if delay is not None:
            plan = plan_delay(delay, turn.now, policy, self.keeps.limits)
        else:
            end = _end(click, zone)
            if isinstance(end, str):
                return end, False
            plan = plan_keep(end, turn.now, policy, zone, self.keeps.limits)
        if isinstance(plan, KeepRefusal):
            await self.keeps.audit_as(turn, instance, audit_as, "refused", plan.message)
            return plan.message, False
        reason = click.reason or CHOICES[click.choice].lower()
        described = describe_plan(plan, zone)
        await self.keeps.store(
            turn,
            instance,
            plan,
            reason,
            audit_as,
            lambda k: f"#{k.id} {described}",
            stop_at_end=delay is not None,
        )
        price = await self.keeps.cost_text(instance, plan, turn.now, pending=plan.needs_approval)
        if delay is not None:
            end_at = format_clock_zone(plan.until, zone)
            return f"Kept {instance.name} until {end_at} by {who}; Curfew stops it then.{price}", True
        if plan.needs_approval:
            asked = describe_plan(plan, zone).partition("; ")[0]
            held = format_local(plan.in_force_until or plan.until, zone)
            return (
                f"Pending approval: keeping {instance.name} {asked} waits for an approver; "
                f"until someone decides, it is kept until {held}.{price}",
                True,
            )
        return f"Kept {instance.name} {describe_plan(plan, zone)} by {who}.{price}", True


def _end(click: Click, zone: ZoneInfo) -> KeepEnd | str:
    if click.choice == "keep_tonight":
        return Tonight()
    try:
        day = date.fromisoformat(click.until_date or "")
    except ValueError:
        return "Pick a date to keep it until; nothing was changed."
    if not click.until_time:
        return UntilDay(day)
    try:
        at = time.fromisoformat(click.until_time)
    except ValueError:
        return f"“{click.until_time}” is not a time; nothing was changed."
    return UntilInstant(local_instant(zone, day, at).astimezone(zone))
