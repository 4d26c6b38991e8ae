"""Clicks on the warning card: keep an instance (1 hour, 2 hours, tonight, until a date) or stop it now.

The card's data says which button, for which instance, on which warning: the opaque id of the warning
Curfew stored when it sent the card (storage/warnings_repo.py). Nothing else in it is trusted: who
clicked is the Teams sender, and the curfew the card is about is the stored warning's. The router
locates the instance as Azure has it now and passes the gate (owner or admin, even on a forwarded
card). Then every click is checked against the current truth: an unknown warning (forged, or a card
from before warnings were stored), one that does not list the instance, one about another curfew than
the coming one, an instance already stopped, or one somebody already kept gets the current state and
one line saying why, and changes nothing. Every keep goes through the domain's planning with
`keep.max_days` and `keep.approval_over_days`, exactly as the same keep typed in chat.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, time
from typing import Any
from zoneinfo import ZoneInfo

from bot.cards.basics import Card
from bot.cards.warning import CHOICES, CHOSEN, VERB, WarningView, input_id, outdated_card, warning_card
from bot.conversation.gate import Acts, Subject
from bot.conversation.router import Routes, fleet_subject
from bot.flows.audit import record_refusal
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
from domain.timefmt import format_clock_zone, format_local, in_another_year
from runtime import Runtime
from scheduler.snapshot import read_fleet
from storage.warnings_repo import SentWarning

DELAYS = {"keep_1h": 1, "keep_2h": 2}


INCOMPLETE = "This button's data is incomplete, so I did nothing. Say `status` to see your instances."


@dataclass(frozen=True, slots=True)
class Click:
    choice: str
    instance: str
    workspace: str
    warning_id: object
    """What the card says its warning is: looked up in Curfew's own record, never trusted."""
    until_date: str | None
    until_time: str | None
    reason: str


def read_click(value: Mapping[str, Any]) -> Click | str:
    """The click's data, or what is wrong with it (a malformed or tampered payload).

    The inputs read are the clicked instance's own (each instance's ids on the card are its own).
    Any other field (a `curfew_at`, a duration, a person) is ignored."""
    choice, name, workspace = value.get("choice"), value.get("instance"), value.get("workspace")
    if not isinstance(name, str) or not isinstance(workspace, str):
        return INCOMPLETE
    key = InstanceKey(workspace, name)
    if choice == CHOSEN:
        choice = value.get(input_id(key, "choice")) or CHOSEN  # none chosen: the card says so
    if not isinstance(choice, str) or (choice not in CHOICES and choice != CHOSEN):
        return INCOMPLETE
    reason = str(value.get(input_id(key, "reason")) or "").strip()
    if problem := too_long("The reason", reason):
        return f"{problem} Nothing changed."
    until_date = _text(value, input_id(key, "until_date"))
    until_time = _text(value, input_id(key, "until_time"))
    return Click(choice, name, workspace, value.get("warning"), until_date, until_time, reason)


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
        warning = _listing(
            click, await self.rt.store.call(self.rt.store.warnings.get, click.warning_id), instance
        )
        stale = (
            warning if isinstance(warning, str) else await self._stale(turn, click, warning, instance, zone)
        )
        if isinstance(warning, str):  # a warning Curfew never sent, or not for this instance: forged
            await record_refusal(
                self.rt.store,
                turn.now,
                turn.user,
                turn.tenant_id,
                f"warning {click.choice}",
                warning,
                instance,
                kind="forged",
            )
            return outdated_card(warning, instance, zone)
        if stale:
            await self.keeps.audit_as(turn, instance, f"warning {click.choice}", "outdated", stale)
            return outdated_card(stale, instance, zone)
        assert isinstance(warning, SentWarning)
        if click.choice == CHOSEN:
            notice = f"Choose what should happen to {instance.name} first, then Apply; nothing was changed."
            return warning_card(await self.view(warning, notice))
        said, done = await self._apply(turn, click, instance, zone)
        view = await self.view(warning, None if done else said)
        # the clicked instance's row first: a card the size rule must shorten never loses it
        first = sorted(view.decisions, key=lambda d: d.instance.key != instance.key)
        view = replace(view, decisions=tuple(first), done={instance.key: said} if done else {})
        return warning_card(view)

    async def view(self, warning: SentWarning, notice: str | None) -> WarningView:
        """The stored warning's instances still facing its curfew, decided now."""
        rt, now = self.rt, self.rt.clock()
        workspaces = {k.workspace for k in warning.instances}
        snap = await read_fleet(rt, workspaces, now, only=lambda i: warning.lists(i.key))
        decisions = snap.decide(RunKind.WARNING, now, rt.policies())
        listed = tuple(
            d
            for d in decisions
            if d.instant == warning.curfew_at and (d.instance.state.is_running or d.keep_on)
        )
        first = snap.instances[0].workspace if snap.instances else None
        zone = rt.settings.policy(first).zone if first else ZoneInfo(rt.settings.timezone)
        view = WarningView(warning.curfew_at, zone, listed, now, notice, warning_id=warning.id)
        return await with_costs(view, PriceBook(rt.fleet), rt.settings.policy)

    async def _stale(
        self, turn: Turn, click: Click, warning: SentWarning, instance: Instance, zone: ZoneInfo
    ) -> str | None:
        coming = next_curfew(self.rt.settings.policy(instance.workspace), turn.now, inclusive=True)
        if turn.now >= warning.curfew_at:
            return (
                f"The curfew at {format_local(warning.curfew_at, zone, turn.now)} has passed; "
                f"{instance.name} is {instance.state.value} now."
            )
        if coming != warning.curfew_at:
            shown = format_local(coming, zone, turn.now) if coming else "none"
            return (
                f"This card is not about the coming curfew (that is {shown}), so I did nothing. "
                "Say `status` to see your instances."
            )
        if not instance.state.is_running:
            return f"{instance.name} is already {instance.state.value}."
        if click.choice.startswith("keep"):
            keeps = await self.rt.store.call(self.rt.store.keep_ons.in_force, turn.now, [instance.key])
            holding = [k for k in keeps if k.covers(warning.curfew_at, turn.now)]
            if holding:
                k = max(holding, key=lambda k: k.effective_until)
                until = format_local(k.effective_until, zone, turn.now)
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
            end_at = (
                format_local(plan.until, zone, turn.now)
                if in_another_year(plan.until, turn.now, zone)
                else format_clock_zone(plan.until, zone)
            )
            return f"Kept {instance.name} until {end_at} by {who}; Curfew stops it then.{price}", True
        if plan.needs_approval:
            asked = describe_plan(plan, zone).partition("; ")[0]
            held = format_local(plan.in_force_until or plan.until, zone, turn.now)
            return (
                f"Pending approval: keeping {instance.name} {asked} waits for an approver; "
                f"until someone decides, it is kept until {held}.{price}",
                True,
            )
        return f"Kept {instance.name} {describe_plan(plan, zone)} by {who}.{price}", True


def _listing(click: Click, warning: SentWarning | None, instance: Instance) -> SentWarning | str:
    """The stored warning the card names, if it lists the instance; else why the click does nothing."""
    if warning is None and click.warning_id is None:
        return (
            "This button does not name a warning card Curfew sent (it may be from an older Curfew), "
            "so I did nothing. Say `status` to see your instances."
        )
    if warning is None:
        return "I sent no such warning card, so I did nothing. Say `status` to see your instances."
    if not warning.lists(instance.key):
        return f"This warning card does not list {instance.name}, so I did nothing."
    return warning


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
