"""`idle NAME 120` (Azure ML's own idle shutdown of an instance) and `why NAME` (why is it still on?).

The gate has already judged the idle value (gate.IdleChoice: the owner within [15, max_minutes], an
admin any value, off only for admins); these handlers only do the work and answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.cards.costs import rate_text, since_start_text
from bot.cards.idle import WhyView, why_card
from bot.conversation.gate import Acts, IdleChoice
from bot.conversation.router import Routes, text
from bot.flows.keeping import KeepFlow
from bot.turns import Reply, Turn
from compute.port import FleetError
from compute.prices import PriceBook
from domain import grammar as g
from domain.idle import WhyFacts, likely_cause, long_running, minutes_text, schedule_conflicts, span_text
from domain.model import Instance, KeepOn
from domain.timefmt import format_local
from runtime import Runtime


def status_notes(
    rt: Runtime, instances: Sequence[Instance], keep_ons: Sequence[KeepOn], now: datetime
) -> list[str]:
    """Lines for `status`: instances running longer than their idle time plus a day, and own schedules
    that work against Curfew."""
    notes = []
    for i in instances:
        if long_running(i, now) and i.last_started_at is not None:
            ran = span_text(now - i.last_started_at)
            notes.append(
                f"{i.name} has run for {ran}, longer than its idle time plus a day: say `why {i.name}`."
            )
        mine = [k for k in keep_ons if k.key == i.key]
        notes += [
            f"{i.name}: {c}." for c in schedule_conflicts(i, rt.settings.policy(i.workspace), mine, now)
        ]
    return notes


class IdleCommands:
    def __init__(self, rt: Runtime, keeps: KeepFlow) -> None:
        self.rt, self.keeps = rt, keeps

    def register(self, routes: Routes) -> None:
        routes.command(
            g.SetIdleShutdown,
            acts_on=Acts.IDLE_SHUTDOWN,
            action="change the idle shutdown of",
            handler=self.set_idle,
            subject=lambda cmd, instance: IdleChoice(instance, cmd.minutes),
        )
        routes.command(g.Why, acts_on=Acts.INSTANCE, action="explain", handler=self.why)

    async def set_idle(self, turn: Turn, cmd: g.SetIdleShutdown, instance: Instance) -> list[Reply]:
        try:
            await self.rt.fleet.set_idle_shutdown(instance.workspace, instance.name, cmd.minutes)
        except FleetError as error:
            await self.keeps.audit(turn, instance, "idle shutdown", "failed", str(error))
            return text(f"Azure did not change the idle shutdown of {instance.name}: {error}")
        setting = minutes_text(cmd.minutes)
        await self.keeps.audit(
            turn,
            instance,
            "idle shutdown",
            "set",
            f"{setting} (was {minutes_text(instance.idle_shutdown_minutes)})",
        )
        if cmd.minutes is None:
            return text(f"Idle shutdown is off for {instance.name}: Azure will not stop it when idle.")
        return text(f"Azure ML will now stop {instance.name} after {setting} idle.")

    async def why(self, turn: Turn, _: g.Why, instance: Instance) -> list[Reply]:
        zone = self.keeps.zone_for(turn, instance)
        try:
            jobs = [
                j
                for j in await self.rt.fleet.list_active_jobs(instance.workspace)
                if j.compute.lower() == instance.name.lower()
            ]
        except FleetError:
            jobs = []
        keep_ons = await self.rt.store.call(self.rt.store.keep_ons.in_force, turn.now, [instance.key])
        policy = self.rt.settings.policy(instance.workspace)
        conflicts = schedule_conflicts(instance, policy, keep_ons, turn.now)
        facts = WhyFacts(instance, jobs, keep_ons, conflicts, turn.now)
        per_hour, simulated = (await PriceBook(self.rt.fleet).for_instances([instance]))[instance.key]
        started = (
            format_local(instance.last_started_at, zone, turn.now) if instance.last_started_at else "unknown"
        )
        lines = [
            ("State", instance.state.value),
            ("Running since", started if instance.state.is_running else "not running"),
            (
                "Cost",
                f"{rate_text(per_hour, simulated)}; {since_start_text(instance, per_hour, turn.now, zone)}",
            ),
            ("Idle shutdown", minutes_text(instance.idle_shutdown_minutes)),
            ("Running jobs", ", ".join(j.display_name or j.name for j in jobs) or "none"),
            (
                "Keep-ons",
                ", ".join(f"until {format_local(k.effective_until, zone, turn.now)}" for k in keep_ons)
                or "none",
            ),
            ("Own schedules", "; ".join(s.describe() for s in instance.schedules) or "none"),
            ("Last operation", _operation_text(instance, zone)),
        ]
        view = WhyView(instance.name, instance.workspace, likely_cause(facts), lines, conflicts)
        return [Reply(card=why_card(view))]


def _operation_text(instance: Instance, zone: ZoneInfo) -> str:
    op = instance.last_operation
    if op is None:
        return "unknown"
    when = format_local(op.at, zone) if op.at else "unknown time"
    return f"{op.name} ({op.status or 'status unknown'}) at {when}, trigger {op.trigger or 'unknown'}"
