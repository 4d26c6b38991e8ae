"""Clicks on the warning card: keep an instance (1 hour, 2 hours, tonight, until a date) or stop it now.

Every click is checked against the current truth first: a card for a curfew that has passed, an
instance already stopped, or one somebody already kept gets the current state instead of an action.
Only the owner or a workspace admin may act, even on a forwarded card; the clicker is the
Teams-authenticated sender, never anything in the card's data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.cards import Card
from bot.costs import with_costs
from bot.directory import may_act
from bot.warning_card import CHOICES, WarningView, outdated_card, warning_card
from compute.port import FleetError
from compute.prices import PriceBook
from domain.decide import RunKind, decide
from domain.grammar import KeepEnd, Tonight, UntilDay, UntilInstant
from domain.keep import KeepPlan, KeepRefusal, describe_plan, plan_keep
from domain.model import Instance
from domain.schedule import local_instant
from domain.timefmt import format_clock_zone, format_local

if TYPE_CHECKING:
    from bot.chat import CurfewChat, Turn


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
    """The click's data, or what is wrong with it (a malformed or tampered payload)."""
    choice, name, workspace = value.get("choice"), value.get("instance"), value.get("workspace")
    if choice not in CHOICES or not isinstance(name, str) or not isinstance(workspace, str):
        return "This button's data is incomplete, so I did nothing. Say `status` to see your instances."
    try:
        curfew_at = datetime.fromisoformat(str(value.get("curfew_at")))
    except ValueError:
        return "This button does not say which curfew it is about, so I did nothing."
    if curfew_at.tzinfo is None:
        return "This button's curfew time has no zone, so I did nothing."
    reason = str(value.get("reason") or "").strip()[:500]
    return Click(
        choice, name, workspace, curfew_at, _text(value, "until_date"), _text(value, "until_time"), reason
    )


def _text(value: Mapping[str, Any], key: str) -> str | None:
    item = value.get(key)
    return item.strip() or None if isinstance(item, str) else None


async def warning_view(
    chat: CurfewChat, owner: str | None, curfew_at: datetime, notice: str | None
) -> WarningView:
    """The owner's instances facing the curfew at `curfew_at`, decided now."""
    rt, now = chat.rt, chat.rt.clock()
    instances = [i for i in await rt.fleet.list_instances() if (i.owner_object_id or None) == owner]
    keeps = await rt.store.call(rt.store.keep_ons.in_force, now, [i.key for i in instances])
    jobs = [j for ws in sorted({i.workspace for i in instances}) for j in await rt.fleet.list_active_jobs(ws)]
    decisions = decide(RunKind.WARNING, now, instances, keeps, jobs, rt.policies())
    mine = tuple(
        d for d in decisions if d.instant == curfew_at and (d.instance.state.is_running or d.keep_on)
    )
    zone = rt.settings.policy(instances[0].workspace).zone if instances else ZoneInfo(rt.settings.timezone)
    view = WarningView(curfew_at, zone, mine, now, notice)
    return await with_costs(view, PriceBook(rt.fleet), rt.settings.policy)


async def handle_click(chat: CurfewChat, turn: Turn, value: Mapping[str, Any]) -> Card:
    click = read_click(value)
    if isinstance(click, str):
        return outdated_card(click, None, ZoneInfo(chat.rt.settings.timezone))
    try:
        instance = await chat.rt.fleet.get_instance(click.workspace, click.instance)
    except FleetError as error:
        return outdated_card(f"I could not read {click.instance}: {error}", None, turn.zone)
    zone = chat.zone_for(turn, instance)
    if not may_act(chat.rt.settings, turn.user, instance):
        await chat.audit(
            turn, instance, f"warning {click.choice}", "refused", "not the owner or a workspace admin"
        )
        return outdated_card(
            f"Only the owner of {instance.name} or an admin of workspace {instance.workspace} "
            "can change it; your click changed nothing.",
            instance,
            zone,
        )
    stale = await _stale(chat, turn, click, instance, zone)
    if stale:
        await chat.audit(turn, instance, f"warning {click.choice}", "outdated", stale)
        return outdated_card(stale, instance, zone)
    notice = await _apply(chat, turn, click, instance, zone)
    return warning_card(await warning_view(chat, instance.owner_object_id, click.curfew_at, notice))


async def _stale(
    chat: CurfewChat, turn: Turn, click: Click, instance: Instance, zone: ZoneInfo
) -> str | None:
    if turn.now >= click.curfew_at:
        return (
            f"The curfew at {format_local(click.curfew_at, zone)} has passed; {instance.name} is "
            f"{instance.state.value} now."
        )
    if not instance.state.is_running:
        return f"{instance.name} is already {instance.state.value}."
    if click.choice.startswith("keep"):
        keeps = await chat.rt.store.call(chat.rt.store.keep_ons.in_force, turn.now, [instance.key])
        holding = [k for k in keeps if k.covers(click.curfew_at, turn.now)]
        if holding:
            k = max(holding, key=lambda k: k.effective_until)
            until = format_local(k.effective_until, zone)
            return f"{instance.name} is already kept until {until} by {k.created_by}."
    return None


async def _apply(chat: CurfewChat, turn: Turn, click: Click, instance: Instance, zone: ZoneInfo) -> str:
    who = turn.inbound.user_name or "you"
    if click.choice == "stop_now":
        await chat.audit(turn, instance, "warning stop_now", "requested")
        chat.followups.act("stop", instance, turn.user, turn.inbound.tenant_id or instance.owner_tenant_id)
        return f"Stopping {instance.name} now, as {who} asked."
    delay = {"keep_1h": 1, "keep_2h": 2}.get(click.choice)
    if delay is not None:
        until = click.curfew_at + timedelta(hours=delay)
        plan: KeepPlan | KeepRefusal = KeepPlan(turn.now, until, until, False, None)
    else:
        end = _end(click, zone)
        if isinstance(end, str):
            return end
        plan = plan_keep(end, turn.now, chat.rt.settings.policy(instance.workspace), zone, chat.keeps.limits)
    if isinstance(plan, KeepRefusal):
        await chat.audit(turn, instance, f"warning {click.choice}", "refused", plan.message)
        return plan.message
    reason = click.reason or CHOICES[click.choice].lower()
    kept = await chat.keeps.store(chat, turn, instance, plan, reason, stop_at_end=delay is not None)
    await chat.audit(
        turn, instance, f"warning {click.choice}", kept.state.value, f"#{kept.id} {describe_plan(plan, zone)}"
    )
    price = await chat.keeps.cost_text(instance, plan, turn.now, pending=plan.needs_approval)
    if delay is not None:
        end = format_clock_zone(plan.until, zone)
        return f"Kept {instance.name} until {end} by {who}; Curfew stops it then.{price}"
    if plan.needs_approval:
        return (
            f"{instance.name}: keeping it {describe_plan(plan, zone)} waits for an approver; "
            f"until then it is kept until {format_local(plan.in_force_until or plan.until, zone)}.{price}"
        )
    return f"Kept {instance.name} {describe_plan(plan, zone)} by {who}.{price}"


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
