"""`end NAME on DATE`, `NAME ends DATE`, `extend NAME until DATE`, `retire NAME`, and the buttons of the
lifecycle cards (reminder, deletion confirmation, the admins' deletion card, the stale question,
the approvers' end-date card).

The gate has already judged who may act (owner or admin of the instance; an approver for an end
date past the limit); the buttons' data only names the instance, read again from Azure here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from bot.cards import lifecycle as lc
from bot.cards.basics import Card, card, paragraph
from bot.conversation.gate import Acts, EndRequest, Starting, Subject
from bot.conversation.router import Routes, fleet_subject, text
from bot.flows.lifecycle import LifeFlow, key_of
from bot.turns import Reply, Turn
from domain import grammar as g
from domain.lifecycle import day_text, has_ended
from domain.model import Instance
from runtime import Runtime

Payload = Mapping[str, Any]


class LifeCommands:
    def __init__(self, rt: Runtime, flow: LifeFlow) -> None:
        self.rt, self.flow = rt, flow

    def register(self, routes: Routes) -> None:
        routes.command(g.SetEndDate, acts_on=Acts.INSTANCE, action="set the end date of", handler=self.end)
        routes.command(g.Retire, acts_on=Acts.INSTANCE, action="retire", handler=self.retire)
        on_instance = {
            lc.EXTEND: self.extend,
            lc.STOP_NOW: self.stop_now,
            lc.DELETE_NOW: self.delete_now,
            lc.DELETE_CONFIRM: self.delete_confirmed,
            lc.ADMIN_DELETE: self.admin_delete,
            lc.ADMIN_EXTEND: self.admin_extend,
            lc.ADMIN_KEEP: self.admin_keep,
            lc.RETIRE: self.retire_click,
            lc.KEEP_STALE: self.keep_stale,
        }
        for verb, handler in on_instance.items():
            routes.verb(verb, acts_on=Acts.INSTANCE, handler=handler, locate=self.locate)
        routes.verb(lc.APPROVE_END, acts_on=Acts.END_DECISION, handler=self.approve, locate=self.locate_ask)
        routes.verb(lc.REJECT_END, acts_on=Acts.END_DECISION, handler=self.reject, locate=self.locate_ask)

    async def starting(self, _: g.Start, instance: Instance) -> Subject:
        """The gate's subject for `start NAME`: its end date, when that has passed."""
        found = await self.rt.store.call(self.rt.store.life.get, key_of(instance))
        if found is None or found.end is None:
            return Starting(instance, None)
        policy = self.rt.settings.policy(instance.workspace)
        return Starting(
            instance, found.end if has_ended(policy, found.end, self.rt.clock(), found.at) else None
        )

    async def locate(self, turn: Turn, value: Payload) -> Subject | str:
        workspace, name = value.get("workspace"), value.get("instance")
        if not isinstance(workspace, str) or not isinstance(name, str):
            return "That button names no instance I know."
        return await fleet_subject(self.rt, workspace, name)

    async def locate_ask(self, turn: Turn, value: Payload) -> Subject | str:
        located = await self.locate(turn, value)
        if not isinstance(located, Instance):
            return located
        asked = await self.rt.store.call(self.rt.store.life.pending, key_of(located))
        if asked is None:
            return f"The end date of {located.name} was already decided; nothing changed."
        return EndRequest(located, asked[1])

    # -- chat ---------------------------------------------------------------------------------------

    async def end(self, turn: Turn, cmd: g.SetEndDate, instance: Instance) -> list[Reply]:
        action = "chat extend" if cmd.extend else "chat end date"
        return await self.flow.set_end(turn, instance, cmd.day, action)

    async def retire(self, turn: Turn, _: g.Retire, instance: Instance) -> list[Reply]:
        return text(await self.flow.retire(turn, instance, "chat retire"))

    # -- clicks -------------------------------------------------------------------------------------

    async def extend(self, turn: Turn, value: Payload, instance: Instance) -> Card:
        raw = value.get(lc.END_INPUT)
        try:
            day = date.fromisoformat(str(raw))
        except ValueError:
            return lc.done_card("Pick the new end date in the date field, then Set end date.")
        return _as_card(await self.flow.set_end(turn, instance, day, "reminder extend"))

    async def stop_now(self, turn: Turn, value: Payload, instance: Instance) -> Card:
        return await self.flow.stop_now(turn, instance)

    async def delete_now(self, turn: Turn, value: Payload, instance: Instance) -> Card:
        found = await self.rt.store.call(self.rt.store.life.get, key_of(instance))
        end = found.end if found and found.end else self.flow.today(instance, turn.now)
        return lc.delete_confirm_card(await self.flow.view(instance, end, turn.now))

    async def delete_confirmed(self, turn: Turn, value: Payload, instance: Instance) -> Card:
        return await self.flow.delete(turn, instance, "reminder delete")

    async def admin_delete(self, turn: Turn, value: Payload, instance: Instance) -> Card:
        return await self.flow.delete(turn, instance, "deletion card delete")

    async def admin_extend(self, turn: Turn, value: Payload, instance: Instance) -> Card:
        day = self.flow.today(instance, turn.now) + timedelta(days=30)
        await self.flow.write_end(turn, instance, day, "deletion card extend")
        return lc.done_card(self.flow.confirmation(instance, day))

    async def admin_keep(self, turn: Turn, value: Payload, instance: Instance) -> Card:
        return await self.flow.keep(turn, instance)

    async def retire_click(self, turn: Turn, value: Payload, instance: Instance) -> Card:
        return lc.done_card(await self.flow.retire(turn, instance, "stale card retire"))

    async def keep_stale(self, turn: Turn, value: Payload, instance: Instance) -> Card:
        found = await self.rt.store.call(self.rt.store.life.get, key_of(instance))
        await self.flow.audit(turn, instance, "stale card keep", "kept")
        if found is None or found.end is None:
            return lc.done_card(
                f"Kept {instance.name}. It has no end date: say `end {instance.name} on DATE` to set one."
            )
        return lc.done_card(f"Kept {instance.name}; it ends on {day_text(found.end)} {found.end.year}.")

    async def approve(self, turn: Turn, value: Payload, subject: EndRequest) -> Card:
        return await self.flow.decide_end(turn, subject.instance, approved=True)

    async def reject(self, turn: Turn, value: Payload, subject: EndRequest) -> Card:
        return await self.flow.decide_end(turn, subject.instance, approved=False)


def _as_card(replies: list[Reply]) -> Card:
    found = next((r.card for r in replies if r.card), None)
    return dict(found) if found else card(paragraph(" ".join(r.text for r in replies if r.text) or "Done."))
