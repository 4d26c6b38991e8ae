"""The chat commands about instances: help, status, keep, release, stop, start, morning start, history.

Each handler is a few lines: the router has already found the instance and passed the gate.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.cards import basics as cards
from bot.cards.costs import rate_text, since_start_text
from bot.conversation.gate import Acts, Subject
from bot.conversation.idle import status_notes
from bot.conversation.router import Routes, text
from bot.flows.audit import audit_event
from bot.flows.followups import ask
from bot.flows.keeping import KeepFlow
from bot.turns import Reply, Turn
from compute.prices import PriceBook
from domain import grammar as g
from domain.lifecycle import lifetime_text
from domain.model import Instance, InstanceKey, MorningStart
from domain.people import actor
from domain.timefmt import format_local
from runtime import Runtime
from scheduler.snapshot import read_fleet
from storage.outbox import Tx


class InstanceCommands:
    def __init__(
        self,
        rt: Runtime,
        keeps: KeepFlow,
        mornings_changed: Callable[[], Awaitable[None]] | None = None,
        starting: Callable[[g.Start, Instance], Awaitable[Subject]] | None = None,
    ) -> None:
        """`mornings_changed`: tells the scheduler that an owner's morning time changed; `starting`:
        the gate's subject for `start NAME` (its end date, bot/conversation/lifecycle.py)."""
        self.rt, self.keeps = rt, keeps
        self._mornings_changed = mornings_changed
        self._starting = starting

    def register(self, routes: Routes) -> None:
        routes.command(g.Help, acts_on=Acts.NOTHING, handler=self.help)
        routes.command(g.Status, acts_on=Acts.NOTHING, handler=self.status)
        routes.command(g.Keep, g.AmbiguousKeep, acts_on=Acts.INSTANCE, action="keep", handler=self.keep)
        routes.command(g.Release, acts_on=Acts.INSTANCE, action="release", handler=self.release)
        routes.command(g.Stop, acts_on=Acts.INSTANCE, action="stop", handler=self.stop)
        if self._starting is not None:
            routes.command(
                g.Start, acts_on=Acts.START, action="start", handler=self.start, subject=self._starting
            )
        else:
            routes.command(g.Start, acts_on=Acts.INSTANCE, action="start", handler=self.start)
        routes.command(g.SetMorningStart, acts_on=Acts.INSTANCE, action="change", handler=self.morning)
        routes.command(g.History, acts_on=Acts.INSTANCE, action="read the history of", handler=self.history)

    async def help(self, turn: Turn, _: g.Help, __: None) -> list[Reply]:
        return [Reply(card=cards.help_card())]

    async def status(self, turn: Turn, _: g.Status, __: None) -> list[Reply]:
        user = turn.user
        snap = await read_fleet(self.rt, None, turn.now, owner=user)
        mine = sorted(snap.instances, key=lambda i: (i.name, i.workspace))
        prices = await PriceBook(self.rt.fleet).for_instances(mine)
        ends = await self.rt.store.call(self.rt.store.life.ends, [i.key for i in mine])
        life = self.rt.settings.lifecycle.policy()
        rows = []
        for i in mine:
            fate = snap.tonight(turn.now, i, self.rt.settings.policy(i.workspace))
            per_hour, simulated = prices[i.key]
            spent = since_start_text(i, per_hour, turn.now, self.keeps.zone_for(turn, i))
            price = rate_text(per_hour, simulated)
            policy = self.rt.settings.policy(i.workspace)
            ended = lifetime_text(i, ends, policy, life, turn.now)
            rows.append(
                cards.StatusRow(i.name, i.workspace, i.size, i.state.value, fate.reason, price, spent, ended)
            )
        notes = [  # the detail stays in the log and the audit: it may be a bug's text, not a person's words
            f"I could not read workspace {f.instance.workspace} just now; try again in a few minutes."
            for f in snap.failures
        ]
        notes += status_notes(self.rt, mine, snap.keep_ons, turn.now)
        if self.rt.settings.simulated:
            notes.insert(0, "Simulated demo fleet: no Azure ML workspace is configured.")
        return [Reply(card=cards.status_card(rows, " ".join(notes) or None))]

    async def keep(self, turn: Turn, cmd: g.Keep | g.AmbiguousKeep, instance: Instance) -> list[Reply]:
        return await self.keeps.keep(turn, instance, cmd)

    async def release(self, turn: Turn, _: g.Release, instance: Instance) -> list[Reply]:
        return await self.keeps.release(turn, instance)

    async def stop(self, turn: Turn, _: g.Stop, instance: Instance) -> list[Reply]:
        return await self._act("stop", turn, instance)

    async def start(self, turn: Turn, _: g.Start, instance: Instance) -> list[Reply]:
        return await self._act("start", turn, instance)

    async def _act(self, verb: str, turn: Turn, instance: Instance) -> list[Reply]:
        await ask(self.rt.store, verb, turn, instance, f"chat {verb}")
        ing, done = ("Stopping", "stopped") if verb == "stop" else ("Starting", "running")
        return text(f"{ing} {instance.name} ({instance.workspace}). I will tell you when it is {done}.")

    async def morning(self, turn: Turn, cmd: g.SetMorningStart, instance: Instance) -> list[Reply]:
        wish = MorningStart(instance.workspace, instance.name, cmd.enabled, cmd.at)
        mornings, outcome = self.rt.store.mornings, "on" if cmd.enabled else "off"

        def write(tx: Tx) -> None:
            mornings.set(wish, turn.user, turn.now, session=tx.session)
            tx.audit(audit_event(turn.now, turn.user, "chat morning start", outcome, "", instance))

        await self.rt.store.atomically(write)
        if self._mornings_changed is not None:
            await self._mornings_changed()
        if not cmd.enabled:
            return text(f"Morning start is off for {instance.name}.")
        policy = self.rt.settings.policy(instance.workspace)
        at = (cmd.at or policy.morning.at).strftime("%H:%M")
        days = ", ".join(self.rt.settings.morning_start.days)
        return text(f"I will start {instance.name} at {at} {policy.zone.key} on {days}.")

    async def history(self, turn: Turn, _: g.History, instance: Instance) -> list[Reply]:
        zone = self.keeps.zone_for(turn, instance)
        key = InstanceKey(instance.workspace, instance.name)
        events = await self.rt.store.call(self.rt.store.audit.for_instance, key)
        names = await self.rt.store.call(self.rt.store.conversations.names, [e.actor for e in events])
        rows = [
            (
                format_local(e.at, zone, turn.now),
                actor(e.actor, names),
                e.action,
                e.outcome + (f", {e.reason}" if e.reason else ""),
            )
            for e in events
        ]
        return [Reply(card=cards.history_card(instance.name, rows))]
