"""The savings ledger's shell: what each run saved or kept, what the fleet shows since, and reports.

After every curfew run (scheduled or manual) each instance the curfew stopped gets a "saved" entry
at its hourly price, and each instance a keep-on kept running gets one "kept" entry per keep-on.
Every run, report and digest also shows the ledger what the fleet looks like now, which closes the
entries that have ended (domain/money.py has the rules). A price that cannot be had is stored as
unknown: the hours still count, the amount does not.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace
from datetime import datetime

from compute.port import FleetError
from compute.prices import PriceBook
from domain.decide import RunKind
from domain.model import Instance, InstanceState, OperationTrigger
from domain.money import Money
from domain.money_report import EntryKind, MoneyReport, Period, Priced, StopTrigger, build_report
from runtime import Runtime
from scheduler.outcomes import OutcomeKind, RunReport
from storage.money_repo import NewEntry, Seen

log = logging.getLogger(__name__)

Scope = Callable[[Priced], bool]
"""Which entries a reader may see (their workspaces, or their own instances)."""


def seen(instance: Instance) -> Seen:
    running = instance.state.is_running or instance.state is InstanceState.STARTING
    return Seen(
        instance.workspace,
        instance.name,
        instance.size,
        instance.owner_object_id,
        running,
        instance.last_started_at,
    )


class SavingsLedger:
    def __init__(self, rt: Runtime) -> None:
        self._rt = rt
        self.prices = PriceBook(rt.fleet)
        self.names: dict[str, str] = {}
        """Owners' display names Azure gave (createdBy.userName) in the last fleet read, by object id."""

    async def after_run(self, report: RunReport, *, complete: bool) -> None:
        """Record what a curfew or morning run did. `complete`: the run read whole workspaces."""
        if report.dry_run:
            return
        failed = {o.instance.workspace for o in report.outcomes if o.instance.name == "(workspace)"}
        instances = [o.instance for o in report.outcomes if o.instance.workspace not in failed]
        read = {i.workspace for i in instances} if complete else set()
        at = report.started_at
        await self._observe(instances, at, read)
        stopped = [o.instance for o in report.outcomes if o.kind is OutcomeKind.STOPPED]
        if report.kind is RunKind.MORNING:
            started = [o.instance.key for o in report.outcomes if o.kind is OutcomeKind.STARTED]
            keys = [(k.workspace, k.name) for k in started]
            await self._rt.store.call(self._rt.store.money.close_saved, keys, at, "morning start")
            return
        kept = [
            o
            for o in report.outcomes
            if o.kind is OutcomeKind.LEFT and o.decision.keep_on is not None and o.instance.state.is_running
        ]
        prices = await self.prices.for_instances([*stopped, *(o.instance for o in kept)])
        entries = [_entry(EntryKind.SAVED, i, at, prices[i.key], report.run_id) for i in stopped]
        for o in kept:
            keep = o.decision.keep_on
            assert keep is not None
            skipped = o.decision.instant or at
            entries.append(
                _entry(EntryKind.KEPT, o.instance, skipped, prices[o.instance.key], report.run_id, keep.id)
            )
        await self._rt.store.call(self._rt.store.money.record, entries)
        await self._rt.store.call(self._rt.store.money.stopped, [(i.workspace, i.name) for i in stopped], at)
        log.info(
            "ledger: %d saving(s), %d keep-on(s) recorded from %s", len(stopped), len(kept), report.run_id
        )

    async def refresh(self, now: datetime, workspaces: Collection[str] | None = None) -> None:
        """Show the ledger the fleet as it is now; a workspace that cannot be read is left as it was."""
        aliases = [w.alias for w in self._rt.fleet.workspaces if workspaces is None or w.alias in workspaces]
        results = await asyncio.gather(
            *(self._rt.fleet.list_instances(a) for a in aliases), return_exceptions=True
        )
        instances: list[Instance] = []
        read: set[str] = set()
        for alias, result in zip(aliases, results, strict=True):
            if isinstance(result, FleetError):
                log.warning("ledger: could not read %s: %s", alias, result)
            elif isinstance(result, BaseException):
                raise result
            else:
                instances += result
                read.add(alias)
        await self._observe(instances, now, read)
        await self.record_stops_by_others(instances, now)

    async def record_stops_by_others(self, instances: Sequence[Instance], now: datetime) -> int:
        """Savings of instances someone else stopped: Azure's idle shutdown, their own schedule, a
        person. Azure's `lastOperation` says who; an instance whose saving is open already (the curfew
        stopped it) is not counted twice. The idle shutdown counts as Curfew's when enforced."""
        store = self._rt.store
        known = await store.call(store.money.open_saved)
        stopped = [
            (i, trigger, op_time)
            for i in instances
            if (i.workspace, i.name.lower()) not in known
            for trigger, op_time in [_stopper(i)]
            if trigger is not None and op_time is not None and op_time <= now
        ]
        if not stopped:
            return 0
        prices = await self.prices.for_instances([i for i, _, _ in stopped])
        entries = []
        for i, trigger, op_time in stopped:
            credited = (
                trigger is StopTrigger.IDLE_SHUTDOWN and self._rt.settings.idle_policy(i.workspace).enforce
            )
            entry = _entry(EntryKind.SAVED, i, op_time, prices[i.key], f"observed:{trigger.value}")
            entries.append(replace(entry, trigger=trigger, credited=credited))
        added = await store.call(store.money.record, entries)
        log.info("ledger: %d stop(s) by others recorded", added)
        return int(added)

    async def report(
        self, period: Period, now: datetime, scope: Scope, *, refresh: bool = True
    ) -> MoneyReport:
        """The money of `period` that `scope` lets the reader see (after a refresh, unless told not to)."""
        if refresh:
            await self.refresh(now)
        store = self._rt.store
        entries = await store.call(store.money.entries, period.since, period.until, now)
        ran = await store.call(store.money.ran, period.since, period.until, now)
        priced = await self._priced([r for r in ran if scope(r)])
        return build_report(period, [e for e in entries if scope(e)], priced)

    async def _priced(self, ran: Sequence[Priced]) -> list[Priced]:
        lists = {ws: await self.prices.price_list(ws) for ws in sorted({r.workspace for r in ran})}
        priced = []
        for r in ran:
            prices = lists.get(r.workspace)
            per_hour = prices.per_hour(r.size) if prices else None
            priced.append(replace(r, per_hour=per_hour, simulated=bool(prices and prices.simulated)))
        return priced

    async def _observe(self, instances: Sequence[Instance], now: datetime, complete: Collection[str]) -> None:
        # An instance Azure's answer left unreadable says nothing of whether it runs: its workspace
        # is not fully read, so nothing there is closed as stopped or deleted.
        self.names |= {
            i.owner_object_id.lower(): i.owner_name for i in instances if i.owner_object_id and i.owner_name
        }
        unsure = {i.workspace for i in instances if i.unreadable}
        observed = [seen(i) for i in instances if not i.unreadable]
        complete = [w for w in complete if w not in unsure]
        await self._rt.store.call(self._rt.store.money.observe, observed, now, complete)


def _entry(
    kind: EntryKind,
    instance: Instance,
    at: datetime,
    price: tuple[Money | None, bool],
    run_id: str,
    keep_on_id: int | None = None,
) -> NewEntry:
    per_hour, simulated = price
    return NewEntry(
        kind,
        instance.workspace,
        instance.name,
        instance.size,
        instance.owner_object_id,
        at,
        per_hour,
        simulated,
        run_id,
        keep_on_id,
    )


_TRIGGERS = {
    OperationTrigger.IDLE_SHUTDOWN.value: StopTrigger.IDLE_SHUTDOWN,
    OperationTrigger.SCHEDULE.value: StopTrigger.SCHEDULE,
    OperationTrigger.USER.value: StopTrigger.PERSON,
}


def _stopper(instance: Instance) -> tuple[StopTrigger | None, datetime | None]:
    """Who stopped a stopped instance, by Azure's last operation; (None, None) when it is not known."""
    op = instance.last_operation
    if not instance.state.is_stopped or op is None or op.name != "Stop" or op.status != "Succeeded":
        return None, None
    return _TRIGGERS.get(op.trigger or ""), op.at
