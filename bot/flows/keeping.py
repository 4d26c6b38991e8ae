"""Keep-on exceptions from chat and from the warning card: plan, record, confirm; and release.

Every keep-on goes through the domain's planning (`plan_keep`, `plan_delay`) with `keep.max_days` and
`keep.approval_over_days`; one past the approval threshold is handed to the approvers (a port, so that
this module does not depend on the approvals flow). A keep-on, its audit row and, when it needs an
approver, its request and the outbox row that sends the approval card commit in one transaction;
a release and its audit row too.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from bot.cards import basics as cards
from bot.cards.costs import exception_cost_text
from bot.flows.audit import audit_event, record
from bot.turns import Reply, Turn
from compute.prices import PriceBook
from domain import grammar as g
from domain.idle import schedule_stops_during
from domain.keep import KeepLimits, KeepPlan, KeepRefusal, describe_plan, plan_keep
from domain.lifecycle import clamp_plan, day_text, ends_at, has_ended
from domain.model import Instance, InstanceKey, KeepOn, KeepOnState
from domain.schedule import next_curfew
from domain.timefmt import format_local
from runtime import Runtime
from storage.outbox import Tx
from storage.repositories import NewKeepOn


class KeepApprovals(Protocol):
    def keep_pending(self, tx: Tx, turn: Turn, instance: Instance, keep_on: KeepOn) -> None:
        """In the keep-on's transaction: its request, and the outbox row that asks the approvers."""
        ...


class KeepFlow:
    def __init__(self, rt: Runtime, approvals: KeepApprovals | None = None) -> None:
        self.rt = rt
        self.approvals = approvals

    def zone_for(self, turn: Turn, instance: Instance) -> ZoneInfo:
        """DECISIONS rule 2: localTimezone, else the instance's workspace zone."""
        return turn.zone if turn.explicit_zone else self.rt.settings.policy(instance.workspace).zone

    async def audit(
        self, turn: Turn, instance: Instance, action: str, outcome: str, reason: str = ""
    ) -> None:
        """`action` without its "chat " prefix, as chat commands are audited."""
        await self.audit_as(turn, instance, f"chat {action}", outcome, reason)

    async def audit_as(
        self, turn: Turn, instance: Instance, action: str, outcome: str, reason: str = ""
    ) -> None:
        await record(self.rt.store, audit_event(turn.now, turn.user, action, outcome, reason, instance))

    @property
    def limits(self) -> KeepLimits:
        keep = self.rt.settings.keep
        return KeepLimits(keep.max_days, keep.approval_over_days)

    async def keep(self, turn: Turn, instance: Instance, cmd: g.Keep | g.AmbiguousKeep) -> list[Reply]:
        zone = self.zone_for(turn, instance)
        if turn.explicit_zone is False and zone.key != turn.zone.key:
            reparsed = g.parse_command(turn.wording, turn.now, zone)  # read the dates in the instance's zone
            if isinstance(reparsed, g.Keep | g.AmbiguousKeep):
                cmd = reparsed
        if isinstance(cmd, g.AmbiguousKeep):
            return [Reply(card=self._choices(instance, cmd))]
        policy = self.rt.settings.policy(instance.workspace)
        plan = plan_keep(cmd.end, turn.now, policy, zone, self.limits)
        found = await self.rt.store.call(
            self.rt.store.life.get, InstanceKey(instance.workspace, instance.name)
        )
        end = found.end if found else None
        if not isinstance(plan, KeepRefusal) and found is not None and end is not None:
            end_at = found.at or ends_at(policy, end)
            if has_ended(policy, end, turn.now, found.at):
                plan = KeepRefusal(f"{instance.name} ended on {day_text(end)}: extend it first.")
            elif plan.until > end_at:
                clamped = clamp_plan(plan, end_at, self.limits)
                return await self._record(turn, instance, clamped, cmd.reason or "", zone, end)
        if isinstance(plan, KeepRefusal):
            await self.audit(turn, instance, "keep", "refused", plan.message)
            return [Reply(text=plan.message)]
        return await self._record(turn, instance, plan, cmd.reason or "", zone)

    async def _record(
        self,
        turn: Turn,
        instance: Instance,
        plan: KeepPlan,
        reason: str,
        zone: ZoneInfo,
        cut_at_end: date | None = None,
    ) -> list[Reply]:
        """`cut_at_end`: the instance's end date, when the keep-on was cut there (the reply says so)."""
        replies = await self._recorded(turn, instance, plan, reason, zone)
        if cut_at_end is None:
            return replies
        later = (cut_at_end + timedelta(days=7)).isoformat()
        note = (
            f" {instance.name} ends on {day_text(cut_at_end)}, so the keep-on stops there, at its end; "
            "to keep it longer, extend its end date first."
        )
        extend = cards.command_button("Extend", f"extend {instance.name}@{instance.workspace} until {later}")
        shown = replies[0].card or {}
        said = " ".join(b.get("text", "") for b in shown.get("body", []))
        actions = [*shown.get("actions", []), extend]
        return [Reply(card=cards.card(cards.paragraph(said + note), actions=actions))]

    async def _recorded(
        self, turn: Turn, instance: Instance, plan: KeepPlan, reason: str, zone: ZoneInfo
    ) -> list[Reply]:
        described = describe_plan(plan, zone)
        await self.store(
            turn, instance, plan, reason, "chat keep", lambda k: f"#{k.id} {described}: {reason}".rstrip(": ")
        )
        why = f" Reason: {reason}." if reason else ""
        price = await self.cost_text(instance, plan, turn.now, pending=plan.needs_approval)
        undo = f"release {instance.name}@{instance.workspace}"
        if plan.needs_approval:
            assert plan.in_force_until is not None
            end, _, after = described.partition("; ")
            said = (
                f"Keeping {instance.name} {end} needs an approver's yes, as it is over "
                f"{self.limits.approval_over_days} days ({after}). Until someone decides, it is kept "
                f"until {format_local(plan.in_force_until, zone, turn.now)}.{why}{price}"
            )
            return [Reply(card=cards.confirmation_card(said, undo))]
        stopped = "" if instance.state.is_running else f" ({instance.name} is {instance.state.value} now.)"
        own = schedule_stops_during(instance, turn.now, plan.until)
        warning = (
            f" Note: Azure ML's own schedule of {instance.name} ({own.describe()}) will still stop it; "
            "Curfew cannot hold it against that (change the schedule in ML studio)."
            if own
            else ""
        )
        said = f"Kept {instance.name} {described}.{why}{stopped}{price}{warning}"
        return [Reply(card=cards.confirmation_card(said, undo))]

    async def store(
        self,
        turn: Turn,
        instance: Instance,
        plan: KeepPlan,
        reason: str,
        action: str,
        detail: Callable[[KeepOn], str],
        *,
        stop_at_end: bool = False,
    ) -> KeepOn:
        """Record an exception from chat or a warning card, audited as `action` with `detail(keep_on)`;
        past approval_over_days it asks the approvers. All in one transaction."""
        state = KeepOnState.PENDING_APPROVAL if plan.needs_approval else KeepOnState.ACTIVE
        new = NewKeepOn(
            instance.workspace,
            instance.name,
            instance.owner_object_id,
            plan.starts_at,
            plan.until,
            reason,
            turn.user,
            turn.inbound.user_name,
            state,
            plan.in_force_until,
            stop_at_end=stop_at_end,
        )
        keep_ons, approvals = self.rt.store.keep_ons, self.approvals

        def write(tx: Tx) -> KeepOn:
            keep_on = keep_ons.add(new, turn.now, session=tx.session)
            if keep_on.state is KeepOnState.PENDING_APPROVAL and approvals is not None:
                approvals.keep_pending(tx, turn, instance, keep_on)  # a card to the approvers
            tx.audit(audit_event(turn.now, turn.user, action, keep_on.state.value, detail(keep_on), instance))
            return keep_on

        return await self.rt.store.atomically(write)

    async def cost_text(self, instance: Instance, plan: KeepPlan, now: datetime, *, pending: bool) -> str:
        """The exception's estimated cost: its price times the hours it keeps the instance past the curfew."""
        per_hour, simulated = await PriceBook(self.rt.fleet).per_hour(instance.workspace, instance.size)
        skipped = next_curfew(self.rt.settings.policy(instance.workspace), now, inclusive=True)
        return exception_cost_text(per_hour, simulated, skipped, plan.until, pending=pending)

    def _choices(self, instance: Instance, cmd: g.AmbiguousKeep) -> cards.Card:
        options = []
        for reading in cmd.readings:
            wording = _as_command(instance, reading)
            if wording:
                label = wording.split(" until ", 1)[-1]
                options.append((label, wording + (f" because {cmd.reason}" if cmd.reason else "")))
        return cards.choice_card(f"Which date did you mean for {instance.name}?", options)

    async def release(self, turn: Turn, instance: Instance) -> list[Reply]:
        store = self.rt.store
        keep_ons = store.keep_ons
        held = await store.call(keep_ons.in_force, turn.now, [instance.key])

        def write(tx: Tx) -> int:
            ended = keep_ons.release(instance.key, turn.user, turn.now, session=tx.session)
            outcome = "released" if ended else "nothing to release"
            tx.audit(audit_event(turn.now, turn.user, "chat release", outcome, "", instance))
            return ended

        if not await store.atomically(write):
            return [Reply(text=f"{instance.name} had no keep-on; the curfew applies to it as usual.")]
        policy = self.rt.settings.policy(instance.workspace)
        coming = next_curfew(policy, turn.now, inclusive=True)
        zone = self.zone_for(turn, instance)
        when = f" It stops at {format_local(coming, zone, turn.now)}." if coming else ""
        said = f"Released {instance.name}: the curfew applies again.{when}"
        return [Reply(card=cards.confirmation_card(said, _keep_again(instance, held, zone)))]


def _keep_again(instance: Instance, held: list[KeepOn], zone: ZoneInfo) -> str | None:
    """The command that undoes a release: the latest keep-on it ended, again (its end, its reason)."""
    if not held:
        return None
    last = max(held, key=lambda k: k.until)
    why = f" because {last.reason}" if last.reason else ""
    until = f"{last.until.astimezone(zone):%Y-%m-%d %H:%M}"
    return f"keep {instance.name}@{instance.workspace} until {until}{why}"


def _as_command(instance: Instance, reading: g.KeepEnd) -> str | None:
    target = f"{instance.name}@{instance.workspace}"
    if isinstance(reading, g.UntilDay):
        return f"keep {target} until {reading.day.isoformat()}"
    if isinstance(reading, g.UntilInstant):
        return f"keep {target} until {reading.at:%Y-%m-%d %H:%M}"
    return None
