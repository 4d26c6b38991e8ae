"""The sweep: load the fleet, decide, apply each decision, verify, and record every outcome.

The shell around `domain.decide.decide`. One failing instance never stops the rest: each action runs
on its own and returns an `Outcome`. Stops are issued concurrently within the fleet's write budget;
right before each stop call the instance's keep-ons are read again under the instance guard, so a
keep-on committed before the call always wins (storage/guard.py).

At ten thousand instances in many subscriptions: ARM paces writes per subscription, so each
subscription has slots of its own and a line of its own (`WorkLine`: its stops queued, worked by as
many tasks as it has slots, not one task per instance), and a stop waits for its subscription's budget
(`Fleet.reserve_write`) within one of them, before it takes the guard. Within the slot, not before
it: a token reserved long before its stop goes out (a thousand stops queued for sixteen slots)
counts as spent on Curfew's side while ARM's bucket, still full, wastes its refill; ARM then answers
429 near the end, and every such reservation is void after the pause (the 50 s tail of
docs/benchmarks.md, issue 17's third pass). Each workspace's stops begin as soon as its own listing arrives
(the owners the last warning missed are read once, first). A subscription's slots serve its
workspaces in the order of the configuration (`RankedSlots`), so they finish one after another, and
each workspace is verified as soon as its own stops were all accepted, while the next one's stops
still go out: only the last workspace of each subscription is verified after the night's last
stop. The verification lists the workspace once, then reads the few still in transition with one
get each. The workspaces are listed all at once, not one after another per subscription: that let
the later listings run beside the first workspaces' stops and took 1.86x the floor.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Collection
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta

from compute.port import ActionResult, FleetError, NotFound
from domain.decide import Action, Decision, RunKind, decide
from domain.lifecycle import ended
from domain.model import Instance, InstanceKey, InstanceState, KeepOn
from ops.collector import no_full_collections
from ops.metrics import curfew_metrics
from runtime import Runtime
from scheduler.outcomes import Outcome, OutcomeKind, RunReport, replace_outcome, unexpected
from scheduler.ranked_slots import RankedSlots
from scheduler.savings import SavingsLedger
from scheduler.snapshot import read_fleet, read_pages
from scheduler.work_line import WorkLine
from storage.guard import Held
from storage.repositories import in_force_for

log = logging.getLogger(__name__)

_Stop = tuple[Decision, datetime, bool]
"""A stop on a subscription's line: the decision, the night's instant, and whether it is a dry run."""

VERIFY_BY_GETS = 25
"""After the first listing, a workspace with at most this many stops still in transition is read
with one get each (within ARM's read budget of 25 a second), not listed again."""


class Sweeper:
    def __init__(self, ctx: Runtime) -> None:
        self._ctx = ctx
        most = ctx.settings.azure.max_concurrency
        subscriptions = {w.subscription_id for w in ctx.fleet.workspaces}
        self._slots = {sub: RankedSlots(most) for sub in subscriptions}
        """Per subscription: ARM paces each one apart, so one's backlog never holds another's stops."""
        self._subscription = {w.alias: w.subscription_id for w in ctx.fleet.workspaces}
        self._rank: dict[str, int] = {}
        """A workspace's place among its subscription's: lower ranks take the slots first."""
        ranked: Counter[str] = Counter()
        for w in ctx.fleet.workspaces:
            self._rank[w.alias] = ranked[w.subscription_id]
            ranked[w.subscription_id] += 1
        self._ledger = SavingsLedger(ctx)

    async def curfew(
        self,
        *,
        now: datetime | None = None,
        forced: bool = False,
        dry_run: bool = False,
        workspaces: Collection[str] | None = None,
        run_id: str | None = None,
        actor: str = "curfew",
    ) -> RunReport:
        now = now or self._ctx.clock()
        report = RunReport(RunKind.CURFEW, run_id or f"curfew@{now.isoformat()}", now, dry_run=dry_run)
        unwarned = set() if self._ctx.settings.curfew.stop_unwarned else await self._unwarned(now)
        aliases = [w.alias for w in self._ctx.fleet.workspaces if workspaces is None or w.alias in workspaces]
        keep_ons = await self._ctx.store.call(self._ctx.store.keep_ons.in_force, now, None)
        workers = self._ctx.settings.azure.max_concurrency
        lines: dict[str, WorkLine[_Stop, Outcome]] = {
            sub: WorkLine(self._stop_queued, workers)
            for sub in {self._subscription.get(a, "") for a in aliases}
        }
        tasks = [
            asyncio.ensure_future(
                self._curfew_workspace(
                    a, now, forced, dry_run, unwarned, keep_ons, lines[self._subscription.get(a, "")]
                )
            )
            for a in aliases
        ]
        try:
            with no_full_collections():  # the curfew hour's chat turns never wait for a full one
                read = await asyncio.gather(*tasks)
        finally:  # all done by now, normally; a night that failed or was cancelled leaves nothing running
            for task in tasks:
                task.cancel()
            for line in lines.values():
                line.cancel()
        report.outcomes.extend(failure for failures, _ in read for failure in failures)
        report.outcomes.extend(outcome for _, outcomes in read for outcome in outcomes)
        return await self._finish(report, actor, complete=True)

    async def _curfew_workspace(
        self,
        alias: str,
        now: datetime,
        forced: bool,
        dry_run: bool,
        unwarned: set[InstanceKey],
        keep_ons: list[KeepOn],
        line: WorkLine[_Stop, Outcome],
    ) -> tuple[list[Outcome], list[Outcome]]:
        """One workspace's read, decisions, stops and verification: a page's stops join its
        subscription's line as soon as that page of the listing arrives, while the next pages and the
        other workspaces are still being read; once all its stops were accepted, the workspace is
        verified, while the other workspaces' stops go on. A read that fails fails the workspace;
        the stops of the pages already read go on."""
        failures: list[Outcome] = []
        stops = _Outcomes()
        rank = self._rank.get(alias, 0)
        async for snap in read_pages(self._ctx, alias, keep_ons):
            failures += snap.failures
            for d in snap.decide(RunKind.CURFEW, now, self._ctx.policies(), forced=forced):
                if d.action is not Action.STOP:
                    stops.known(_left(d))
                elif d.instance.key in unwarned:
                    stops.known(_left(d, "its owner could not be warned (curfew.stop_unwarned is false)"))
                else:
                    line.put(rank, (d, now, dry_run), stops, stops.expect(d))
        outcomes = await stops.all()
        if not dry_run:
            await self._verify(outcomes, lambda i: i.state.is_stopped, "Stopped")
        return failures, outcomes

    def _stop_queued(self, stop: _Stop) -> Awaitable[Outcome]:
        return self._stop(*stop)

    async def morning(
        self,
        *,
        now: datetime | None = None,
        forced: bool = False,
        dry_run: bool = False,
        workspaces: Collection[str] | None = None,
        run_id: str | None = None,
        actor: str = "curfew",
    ) -> RunReport:
        now = now or self._ctx.clock()
        report = RunReport(RunKind.MORNING, run_id or f"morning@{now.isoformat()}", now, dry_run=dry_run)
        snap = await read_fleet(self._ctx, workspaces, now, jobs=False)
        mornings = await self._ctx.store.call(self._ctx.store.mornings.all)
        ends = await self._ctx.store.call(self._ctx.store.life.ends, [i.key for i in snap.instances])
        policies = self._ctx.policies()
        living = [i for i in snap.instances if not ended(i, ends, policies[i.workspace], now)]
        decisions = decide(
            RunKind.MORNING,
            now,
            living,
            snap.keep_ons,
            snap.jobs,
            self._ctx.policies(),
            mornings,
            forced=forced,
        )
        report.outcomes.extend(snap.failures)
        starts = {n: self._start(d, dry_run) for n, d in enumerate(decisions) if d.action is Action.START}
        started = dict(zip(starts, await asyncio.gather(*starts.values()), strict=True))
        report.outcomes.extend(started[n] if n in started else _left(d) for n, d in enumerate(decisions))
        return await self._finish(report, actor, complete=True)

    async def _stop(self, d: Decision, now: datetime, dry_run: bool) -> Outcome:
        try:
            return await self._guarded_stop(d, now, dry_run)
        except Exception as error:  # a database or guard failure: this instance only, never the night
            log.exception("stop %s failed", d.instance.key)
            return Outcome(d, OutcomeKind.FAILED, unexpected(f"not stopped: {d.instance.name}", error))

    async def _guarded_stop(self, d: Decision, now: datetime, dry_run: bool) -> Outcome:
        key, instant = d.instance.key, d.instant or now
        async with self._slot(key.workspace):
            if not dry_run:  # within this subscription's own slot: a reservation is sent soon after
                await self._ctx.fleet.reserve_write(key.workspace)
            return await self._recheck_and_stop(d, key, now, instant, dry_run)

    async def _recheck_and_stop(
        self, d: Decision, key: InstanceKey, now: datetime, instant: datetime, dry_run: bool
    ) -> Outcome:
        async with self._ctx.store.guard.hold(key) as held:
            late = await self._late_keep_on(held, key, now, instant)
            if late is not None:
                return Outcome(
                    d, OutcomeKind.LEFT, f"kept just before the stop: {late.reason or 'no reason'}"
                )
            if dry_run:
                return Outcome(d, OutcomeKind.WOULD_STOP)
            return await _act(d, self._ctx.fleet.stop, OutcomeKind.STOPPED, OutcomeKind.ALREADY_STOPPED)

    def _slot(self, workspace: str) -> AbstractAsyncContextManager[None]:
        sub = self._subscription.get(workspace, "")
        if sub not in self._slots:  # a workspace the fleet did not list at start: its own slots
            self._slots[sub] = RankedSlots(self._ctx.settings.azure.max_concurrency)
        return self._slots[sub].hold(self._rank.get(workspace, 0))

    async def delayed_stop(self, keep_on: KeepOn, *, run_id: str, actor: str = "curfew") -> Outcome:
        """Stop an instance whose curfew delay (Keep 1 hour) has ended, unless another keep-on or a
        running job holds it: decided by `decide` (RunKind.DELAY_END) at the delay's end."""
        now = self._ctx.clock()
        try:
            instance = await self._ctx.fleet.get_instance(keep_on.workspace, keep_on.instance)
            jobs = await self._ctx.fleet.list_active_jobs(keep_on.workspace)
        except Exception as error:
            ghost = Instance(keep_on.workspace, keep_on.instance, "", InstanceState.UNKNOWN)
            detail = str(error) if isinstance(error, FleetError) else unexpected("reading it", error)
            outcome = Outcome(
                Decision(ghost, Action.STOP, "curfew delay ended", now), OutcomeKind.FAILED, detail
            )
        else:
            others = await self._ctx.store.call(self._ctx.store.keep_ons.in_force, now, [instance.key])
            others = [k for k in others if k.id != keep_on.id]
            instant = min(now, keep_on.until)
            [decision] = decide(RunKind.DELAY_END, instant, [instance], others, jobs, self._ctx.policies())
            if decision.action is Action.STOP:
                outcome = await self._stop(decision, now, dry_run=False)
            elif not instance.state.is_running:
                outcome = Outcome(decision, OutcomeKind.LEFT, f"already {instance.state.value}")
            else:
                outcome = Outcome(decision, OutcomeKind.LEFT)
        report = RunReport(RunKind.CURFEW, run_id, now, [outcome])
        await self._finish(report, actor)
        return outcome

    async def _unwarned(self, now: datetime) -> set[InstanceKey]:
        """Instances whose owner the last warning could not reach (within the last day)."""
        events = await self._ctx.store.call(self._ctx.store.audit.since, now - timedelta(hours=24))
        latest: dict[InstanceKey, str] = {}
        for e in events:
            if e.action == "warning" and e.workspace and e.instance:
                latest[InstanceKey(e.workspace, e.instance)] = e.outcome
        return {key for key, outcome in latest.items() if outcome in ("unreachable", "failed")}

    async def _late_keep_on(
        self, held: Held, key: InstanceKey, now: datetime, instant: datetime
    ) -> KeepOn | None:
        """The re-check, on the guard's own connection: a stop never needs a second one."""
        keeps = await held.run(in_force_for, now, key)
        return next((k for k in keeps if k.covers(instant, self._ctx.clock())), None)

    async def _start(self, d: Decision, dry_run: bool) -> Outcome:
        if dry_run:
            return Outcome(d, OutcomeKind.WOULD_START)
        async with self._slot(d.instance.workspace):
            await self._ctx.fleet.reserve_write(d.instance.workspace)
            return await _act(d, self._ctx.fleet.start, OutcomeKind.STARTED, OutcomeKind.ALREADY_RUNNING)

    async def _verify(self, outcomes: list[Outcome], done: Callable[[Instance], bool], wanted: str) -> None:
        """Read the acted-on instances of `outcomes` (one workspace's, or more) again until they
        reached `wanted` (bounded); an instance running again replaces its outcome in `outcomes`
        with a failed one.

        Checks at once with one listing per touched workspace (the stops that went out first have
        long settled on a large night), then waits 1 s, doubling the wait up to
        `curfew.verify_interval_seconds`; gives up after `curfew.verify_seconds`, leaving the
        instances still in transition marked as such. After the first listing only the few still in
        transition are left: a workspace with at most `VERIFY_BY_GETS` of them is read with one get
        each, not listed again.
        """
        pending = {o.decision.instance.key: o for o in outcomes if o.kind is OutcomeKind.STOPPED}
        settings = self._ctx.settings.curfew
        deadline = time.monotonic() + settings.verify_seconds
        delay = min(1.0, settings.verify_interval_seconds)
        checked = settings.verify_seconds <= 0  # 0: no verification at all
        while pending and (not checked or time.monotonic() + delay <= deadline):
            if checked:  # every round after the first
                await asyncio.sleep(delay)
                delay = min(delay * 2, settings.verify_interval_seconds)
            first, checked = not checked, True
            waiting: dict[str, list[InstanceKey]] = {}
            for key in pending:
                waiting.setdefault(key.workspace, []).append(key)
            await asyncio.gather(
                *(
                    self._check(
                        alias,
                        keys,
                        not first and len(keys) <= VERIFY_BY_GETS,
                        pending,
                        outcomes,
                        done,
                        wanted,
                    )
                    for alias, keys in sorted(waiting.items())
                )
            )
        for outcome in pending.values():
            outcome.detail = "Azure accepted the stop; still stopping when last checked"

    async def _check(
        self,
        alias: str,
        keys: list[InstanceKey],
        by_gets: bool,
        pending: dict[InstanceKey, Outcome],
        outcomes: list[Outcome],
        done: Callable[[Instance], bool],
        wanted: str,
    ) -> None:
        try:
            if by_gets:
                read = await asyncio.gather(*(self._get(key) for key in keys))
                listed = {key: i for key, i in zip(keys, read, strict=True) if i is not None}
            else:
                listed = {i.key: i for i in await self._ctx.fleet.list_instances(alias)}
        except Exception as error:  # unverified is not failed: the stop was accepted
            log.warning("could not verify %s: %s: %s", alias, type(error).__name__, error)
            return
        for key in keys:
            instance = listed.get(key)
            if instance is None or done(instance):
                pending.pop(key).detail = f"confirmed {wanted}" if instance else "deleted meanwhile"
            elif instance.state.is_running:
                failed = pending.pop(key).failed(
                    f"Azure accepted the stop, but {key.name} is {instance.state.value} again"
                )
                replace_outcome(outcomes, failed)

    async def _get(self, key: InstanceKey) -> Instance | None:
        try:
            return await self._ctx.fleet.get_instance(key.workspace, key.name)
        except NotFound:
            return None

    async def _finish(self, report: RunReport, actor: str, *, complete: bool = False) -> RunReport:
        report.finished_at = self._ctx.clock()
        if not report.dry_run:  # a dry run changes nothing, the audit trail included
            await self._ctx.store.call(self._ctx.store.audit.record, *report.audit_events(actor))
            curfew_metrics().run(report.kind.value, (o.kind.value for o in report.outcomes))
            try:  # the savings ledger: what this run saved or kept (scheduler/savings.py)
                await self._ledger.after_run(report, complete=complete)
            except Exception:  # money bookkeeping never fails a curfew
                log.exception("could not record the savings of %s", report.run_id)
        log.info(report.summary())
        return report


async def _act(
    d: Decision, call: Callable[[str, str], Awaitable[ActionResult]], done: OutcomeKind, already: OutcomeKind
) -> Outcome:
    try:
        result = await call(d.instance.workspace, d.instance.name)
    except FleetError as error:
        log.warning("%s %s failed: %s", d.action.value, d.instance.key, error)
        return Outcome(d, OutcomeKind.FAILED, str(error))
    except Exception as error:  # not the port's promise, but it fails this instance only
        log.exception("%s %s failed", d.action.value, d.instance.key)
        verb = "stopped" if d.action is Action.STOP else "started"
        return Outcome(d, OutcomeKind.FAILED, unexpected(f"not {verb}: {d.instance.name}", error))
    return Outcome(d, done if result is ActionResult.ACCEPTED else already)


def _left(d: Decision, detail: str = "") -> Outcome:
    if d.instance.unreadable:  # one instance Azure's answer left unreadable: failed, the rest go on
        return Outcome(d, OutcomeKind.FAILED, d.instance.unreadable)
    return Outcome(d, OutcomeKind.LEFT, detail)


class _Outcomes:
    """One workspace's outcomes in the order of its decisions: those known at once, and the stops its
    subscription's line answers later (`expect`, then `landed`); `all` waits for the last one."""

    def __init__(self) -> None:
        self._outcomes: list[Outcome | Decision] = []
        """An outcome, or the decision whose stop is still on the line."""
        self._waiting = 0
        self._landed = asyncio.Event()

    def known(self, outcome: Outcome) -> None:
        self._outcomes.append(outcome)

    def expect(self, d: Decision) -> int:
        self._landed.clear()  # the stops of an earlier page may all have landed already
        self._waiting += 1
        self._outcomes.append(d)
        return len(self._outcomes) - 1

    def landed(self, index: int, outcome: Outcome) -> None:
        self._outcomes[index] = outcome
        self._waiting -= 1
        if not self._waiting:
            self._landed.set()

    def broke(self, index: int, error: Exception) -> None:
        """Not expected (`Sweeper._stop` returns its failures), but a stop's outcome is never lost."""
        d = self._outcomes[index]
        assert isinstance(d, Decision)
        log.error("stop %s failed", d.instance.key, exc_info=error)
        self.landed(
            index, Outcome(d, OutcomeKind.FAILED, unexpected(f"not stopped: {d.instance.name}", error))
        )

    async def all(self) -> list[Outcome]:
        if self._waiting:
            await self._landed.wait()
        outcomes = [o for o in self._outcomes if isinstance(o, Outcome)]
        assert len(outcomes) == len(self._outcomes)
        return outcomes
