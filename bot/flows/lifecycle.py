"""End dates from chat and cards, retiring, deleting; and the cards of the daily lifecycle pass.

Each step is one transaction: the end date (or the deletion's record), its audit row and the
outbox rows for what must follow (a stop, a message, a card to the approvers) commit together.
Outbound cards of the daily pass are outbox rows too (`life.card`), claimed once per instance,
kind and day in the notice ledger in the same transaction, so replicas and restarts send each once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bot.cards import lifecycle as lc
from bot.cards.basics import Card, card, command_button, paragraph
from bot.flows.audit import audit_event
from bot.flows.followups import SendLater, enqueue_act, enqueue_tell
from bot.flows.worker import Handler, Outcome
from bot.turns import Messenger, Reply, SendOutcome, Turn
from compute.prices import PriceBook
from domain.lifecycle import (
    LifecyclePolicy,
    LifeDecision,
    day_text,
    end_refused,
    ends_at,
    needs_approver,
    stopped_since,
)
from domain.model import Instance, InstanceKey
from domain.money import cost, format_rate, format_total, total
from domain.people import person
from domain.timefmt import format_local
from runtime import Runtime
from scheduler.notify import Delivery, DeliveryResult
from storage.outbox import OutboxItem, Tx

log = logging.getLogger(__name__)

CARD = "life.card"
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def key_of(instance: Instance) -> InstanceKey:
    return InstanceKey(instance.workspace, instance.name.lower())


class LifeFlow:
    def __init__(self, rt: Runtime, messenger: Callable[[], Messenger | None]) -> None:
        self.rt = rt
        self._messenger = messenger

    def handlers(self) -> dict[str, Handler]:
        return {CARD: self.send_card}

    @property
    def life(self) -> LifecyclePolicy:
        return self.rt.settings.lifecycle.policy()

    def today(self, instance: Instance, now: datetime) -> date:
        return now.astimezone(self.rt.settings.policy(instance.workspace).zone).date()

    def is_approver(self, user: str, workspace: str) -> bool:
        return user.lower() in {a.lower() for a in self.rt.settings.approvers_of(workspace)}

    async def audit(
        self, turn: Turn, instance: Instance, action: str, outcome: str, reason: str = ""
    ) -> None:
        event = audit_event(turn.now, turn.user, action, outcome, reason, instance)
        await self.rt.store.call(self.rt.store.audit.record, event)

    # -- chat and clicks (the router has passed the gate) -----------------------------------------

    async def set_end(self, turn: Turn, instance: Instance, day: date, action: str) -> list[Reply]:
        today = self.today(instance, turn.now)
        refused = end_refused(day, today, self.life)
        if refused:
            return [Reply(text=refused)]
        if needs_approver(day, today, self.life) and not self.is_approver(turn.user, instance.workspace):
            return [Reply(text=await self._ask_approvers(turn, instance, day, action))]
        await self.write_end(turn, instance, day, action)
        return [Reply(card=card(paragraph(self.confirmation(instance, day))))]

    def confirmation(self, instance: Instance, day: date) -> str:
        policy = self.rt.settings.policy(instance.workspace)
        at = format_local(ends_at(policy, day), policy.zone)
        grace = day + timedelta(days=self.life.grace_days)
        return (
            f"{instance.name} ({instance.workspace}) ends on {day_text(day)} {day.year}: the curfew at {at} "
            f"stops it whatever keep-on it has, and it is not started again. After that it stays, stopped, "
            f"until {day_text(grace)} {grace.year} ({self.rt.settings.lifecycle.delete}: "
            f"{_delete_words(self.rt.settings.lifecycle.delete)})."
        )

    async def write_end(self, turn: Turn, instance: Instance, day: date, action: str) -> None:
        policy = self.rt.settings.policy(instance.workspace)
        life = self.rt.store.life

        def write(tx: Tx) -> None:
            life.set_end(key_of(instance), day, ends_at(policy, day), turn.user, turn.now, session=tx.session)
            tx.audit(audit_event(turn.now, turn.user, action, "set", f"ends {day.isoformat()}", instance))

        await self.rt.store.atomically(write)

    async def _ask_approvers(self, turn: Turn, instance: Instance, day: date, action: str) -> str:
        life, approvers = self.rt.store.life, self.rt.settings.approvers_of(instance.workspace)
        limit = self.life.max_lifetime_days
        ask = lc.end_approval_card(instance.name, instance.workspace, day, turn.user_name or "", limit)
        tenant = turn.tenant_id or self.rt.settings.teams.tenant_id

        def write(tx: Tx) -> None:
            life.ask_end(key_of(instance), day, turn.user, turn.now, session=tx.session)
            tx.audit(audit_event(turn.now, turn.user, action, "pending approval", day.isoformat(), instance))
            for approver in approvers:
                tx.enqueue(CARD, {"user": approver, "tenant": tenant, "card": ask})

        await self.rt.store.atomically(write)
        who = "the approvers of " + instance.workspace if approvers else "an approver (none is configured)"
        return (
            f"An end date of {day_text(day)} {day.year} is more than {limit} days away, so it waits for "
            f"{who}. I tell you what they decide; until then the end date of {instance.name} stays as it is."
        )

    async def decide_end(self, turn: Turn, instance: Instance, approved: bool) -> Card:
        life, policy = self.rt.store.life, self.rt.settings.policy(instance.workspace)
        asked = await self.rt.store.call(life.pending, key_of(instance))
        if asked is None:
            return lc.done_card(f"The end date of {instance.name} was already decided; nothing changed.")
        day, requester = asked

        def write(tx: Tx) -> date | None:
            settled = life.settle(key_of(instance), session=tx.session)
            if settled is None:
                return None
            outcome = "approved" if approved else "rejected"
            if approved:
                life.set_end(
                    key_of(instance),
                    settled,
                    ends_at(policy, settled),
                    turn.user,
                    turn.now,
                    session=tx.session,
                )
            tx.audit(
                audit_event(turn.now, turn.user, "end date decision", outcome, settled.isoformat(), instance)
            )
            said = (
                self.confirmation(instance, settled)
                if approved
                else f"The end date {day_text(settled)} of {instance.name} was not approved; nothing changed."
            )
            enqueue_tell(tx, requester, instance.owner_tenant_id, said)
            return settled

        settled = await self.rt.store.atomically(write)
        if settled is None:
            return lc.done_card(f"The end date of {instance.name} was already decided; nothing changed.")
        word = "Approved" if approved else "Rejected"
        return lc.done_card(
            f"{word}: {instance.name} ending on {day_text(day)} {day.year}. The requester is told."
        )

    async def retire(self, turn: Turn, instance: Instance, action: str) -> str:
        today = self.today(instance, turn.now)
        life = self.rt.store.life
        tenant = turn.tenant_id or instance.owner_tenant_id
        running = instance.state.is_running

        def write(tx: Tx) -> None:
            life.set_end(key_of(instance), today, turn.now, turn.user, turn.now, session=tx.session)
            tx.audit(
                audit_event(turn.now, turn.user, action, "retired", f"ends {today.isoformat()}", instance)
            )
            if running:
                enqueue_act(tx, "stop", instance, turn.user, tenant)

        await self.rt.store.atomically(write)
        grace = today + timedelta(days=self.life.grace_days)
        stop = (
            "Stopping it now; I tell you when it is stopped." if running else f"It is {instance.state_text}."
        )
        return (
            f"Retired {instance.name} ({instance.workspace}): it ended today, {day_text(today)}. {stop} "
            f"It stays, stopped, until {day_text(grace)} {grace.year}; `extend {instance.name} until DATE` "
            "brings it back."
        )

    async def stop_now(self, turn: Turn, instance: Instance) -> Card:
        if not instance.state.is_running:
            return lc.done_card(f"{instance.name} is {instance.state_text}; nothing to stop.")
        tenant = turn.tenant_id or instance.owner_tenant_id

        def write(tx: Tx) -> None:
            tx.audit(audit_event(turn.now, turn.user, "reminder stop", "requested", "", instance))
            enqueue_act(tx, "stop", instance, turn.user, tenant)

        await self.rt.store.atomically(write)
        return lc.done_card(f"Stopping {instance.name}. I tell you when it is stopped.")

    async def delete(self, turn: Turn, instance: Instance, action: str) -> Card:
        """Delete through the fleet port (accepted, not waited for), audited; the owner is told."""
        await self.rt.fleet.delete(instance.workspace, instance.name)
        life = self.rt.store.life
        owner = instance.owner_object_id

        def write(tx: Tx) -> None:
            life.deleted(key_of(instance), turn.now, session=tx.session)
            tx.audit(audit_event(turn.now, turn.user, action, "deleted", "", instance))
            if owner and owner.lower() != turn.user.lower():
                enqueue_tell(
                    tx,
                    owner,
                    instance.owner_tenant_id,
                    f"{instance.name} ({instance.workspace}) was deleted by {turn.user_name or 'an admin'}.",
                )

        await self.rt.store.atomically(write)
        return lc.done_card(f"Deleting {instance.name} ({instance.workspace}): Azure ML accepted it.")

    async def keep(self, turn: Turn, instance: Instance) -> Card:
        life = self.rt.store.life

        def write(tx: Tx) -> None:
            life.keep(key_of(instance), turn.user, turn.now, session=tx.session)
            tx.audit(audit_event(turn.now, turn.user, "deletion card keep", "kept", "", instance))

        await self.rt.store.atomically(write)
        return lc.done_card(
            f"Kept {instance.name}: it stays, stopped, and I do not propose deleting it again."
        )

    # -- views and the daily pass's cards ----------------------------------------------------------

    async def view(self, instance: Instance, end: date, now: datetime) -> lc.LifeView:
        zone = self.rt.settings.policy(instance.workspace).zone
        spent = await self.cost_since_created(instance, now)
        names = await self.rt.store.call(self.rt.store.conversations.names, [instance.owner_object_id or ""])
        since = stopped_since(instance)
        grace = end + timedelta(days=self.life.grace_days)
        return lc.LifeView(
            instance.name,
            instance.workspace,
            instance.size,
            instance.state_text,
            end,
            spent,
            person(instance.owner_object_id, names) if instance.owner_object_id else "nobody",
            format_local(since, zone) if since else "",
            grace,
        )

    async def cost_since_created(self, instance: Instance, now: datetime) -> str:
        """Its price times the hours Curfew knows it ran: the usage spans it saw, and the run going on
        now since Azure's last start when no span covers it."""
        per_hour, simulated = await PriceBook(self.rt.fleet).per_hour(instance.workspace, instance.size)
        spans = await self.rt.store.call(self.rt.store.money.ran, EPOCH, now, now)
        ran = [
            (s.span.start, s.span.end)
            for s in spans
            if (s.workspace, s.instance.lower()) == (instance.workspace, instance.name.lower())
        ]
        started = instance.last_started_at if instance.state.is_running else None
        if started is not None and not any(start <= started < end or start >= started for start, end in ran):
            ran.append((started, now))
        if per_hour is None:
            return "unknown (Azure gives no price for its size)"
        spent = format_total(total(cost(per_hour, start, end) for start, end in ran))
        hours = sum((end - start).total_seconds() for start, end in ran) / 3600
        estimate = " (simulated prices)" if simulated else ""
        return f"{spent} for the {hours:.0f} h Curfew knows it ran, at {format_rate(per_hour)}{estimate}"

    async def notice(self, decision: LifeDecision, kind: str, day: date, now: datetime) -> DeliveryResult:
        """One card of the daily pass, claimed once per instance, kind and day; queued in the outbox."""
        i = decision.instance
        if kind == "propose":
            recipients = self.rt.settings.admins_of(i.workspace)
            if not recipients:
                return DeliveryResult(None, Delivery.UNREACHABLE, f"no admin of {i.workspace} to ask")
        else:
            recipients = [i.owner_object_id] if i.owner_object_id else self.rt.settings.admins_of(i.workspace)
        if not recipients:
            return DeliveryResult(None, Delivery.UNREACHABLE, "no owner and no workspace admin")
        payload = await self._card_for(decision, kind, now)
        tenant = i.owner_tenant_id or self.rt.settings.teams.tenant_id
        life = self.rt.store.life

        def write(tx: Tx) -> bool:
            if not life.claim_notice(key_of(i), kind, day, now, session=tx.session):
                return False
            for to in recipients:
                tx.enqueue(CARD, {"user": to, "tenant": tenant, "card": payload})
            return True

        if not await self.rt.store.atomically(write):
            return DeliveryResult(recipients[0], Delivery.SKIPPED, "already sent")
        return DeliveryResult(recipients[0], Delivery.SENT, "queued")

    async def _card_for(self, decision: LifeDecision, kind: str, now: datetime) -> dict[str, Any]:
        i = decision.instance
        if kind == "stale":
            return lc.stale_card(i.name, i.workspace, decision.reason.partition(";")[0], decision.end)
        assert decision.end is not None
        view = await self.view(i, decision.end, now)
        if kind == "propose":
            return lc.admins_delete_card(view)
        if kind == "last notice":
            return lc.last_notice_card(view)
        return lc.reminder_card(view, (decision.end - self.today(i, now)).days)

    async def send_card(self, item: OutboxItem) -> Outcome:
        p = item.payload
        messenger = self._messenger()
        if messenger is None:
            log.info("no messenger for the lifecycle card to %s", p["user"])
            return None
        result = await messenger.send(str(p["user"]), p.get("tenant"), Reply(card=p["card"]))
        if result.outcome is SendOutcome.FAILED:
            raise SendLater(result.detail or "Teams did not take the card")
        return None


def _delete_words(mode: str) -> str:
    return {
        "ask": "then its admins decide whether to delete it",
        "auto": "then it is deleted, with a notice the day before",
        "never": "it is never deleted by Curfew",
    }[mode]


def clamp_note(instance: Instance, end: date) -> tuple[str, dict[str, Any]]:
    """The keep-on reply's note when the keep-on was cut at the end, and its Extend button."""
    later = end + timedelta(days=7)
    said = (
        f" {instance.name} ends on {day_text(end)}, so the keep-on stops there. To keep it longer, "
        f"extend its end date first."
    )
    return said, command_button(
        "Extend", f"extend {instance.name}@{instance.workspace} until {later.isoformat()}"
    )
