"""The in-process scheduler: warnings, the curfew and the morning start, per workspace time zone.

APScheduler's AsyncIOScheduler fires the jobs; every run first claims (schedule id, instant) in the
run ledger, so two replicas or a restarted process run each scheduled instant exactly once. A run
that a dead process left half-way is taken over once its lease lapses (`recover`). Every job runs
inside `_guarded`, which logs and audits an exception and never lets it reach the scheduler.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, time, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from domain.model import WEEKDAYS, KeepOnState
from domain.schedule import last_curfew, last_morning, next_curfew
from runtime import Runtime
from scheduler.digest import MoneyReports, last_digest
from scheduler.idle import IdlePass, last_daily
from scheduler.lifecycle import LifePass
from scheduler.outcomes import OutcomeKind
from scheduler.ports import NoPendingWork, Notifier, PendingWork
from scheduler.sweep import Sweeper
from scheduler.warnings import Warner
from storage.ledger import Claim, RunState
from storage.repositories import AuditEvent

log = logging.getLogger(__name__)

KINDS = ("warning", "curfew", "morning", "digest", "idle", "lifecycle")


class LeaseLost(Exception):
    """This process no longer holds a run's claim: its run stops, the holder finishes it."""


def process_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class CurfewScheduler:
    def __init__(
        self,
        rt: Runtime,
        notifier: Notifier,
        *,
        pending: PendingWork | None = None,
        owner: str | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """`pending`: the conversation's requests waiting on people, expired here.
        `sleep`: between heartbeats (tests pass their own)."""
        self._rt = rt
        self._notifier = notifier
        self._pending: PendingWork = pending or NoPendingWork()
        self._sleep = sleep
        self._sweeper = Sweeper(rt)
        self._warner = Warner(rt, notifier)
        self.owner = owner or process_name()
        self._lease = timedelta(seconds=rt.settings.curfew.run_lease_seconds)
        self._scheduler = AsyncIOScheduler(job_defaults={"coalesce": True, "max_instances": 1})
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- the zones and their jobs ---------------------------------------------------------------

    def zones(self) -> dict[str, list[str]]:
        """Workspace aliases grouped by their time zone."""
        by_zone: dict[str, list[str]] = defaultdict(list)
        for ws in self._rt.fleet.workspaces:
            by_zone[self._rt.settings.zone_name(ws.alias)].append(ws.alias)
        return dict(by_zone)

    def triggers(self, morning_times: Iterable[time] = ()) -> dict[str, CronTrigger | IntervalTrigger]:
        """Job id -> trigger; stable ids, one set per zone (inspected by tests).

        `morning_times` are owners' own morning-start times (`morning start on NAME at 07:30`): each
        gets a morning job `morning:ZONE@HH:MM` beside the default one.
        """
        s = self._rt.settings
        curfew_days = ",".join(s.curfew.days)
        warn_at = datetime.combine(datetime(2000, 1, 3), s.curfew.stop_at) - timedelta(
            minutes=s.curfew.warn_minutes
        )
        warn_days = (
            curfew_days if warn_at.date() == datetime(2000, 1, 3).date() else _shift_days(s.curfew.days)
        )
        jobs: dict[str, CronTrigger | IntervalTrigger] = {}
        for zone in self.zones():
            jobs[f"warning:{zone}"] = CronTrigger(
                day_of_week=warn_days, hour=warn_at.hour, minute=warn_at.minute, timezone=zone
            )
            jobs[f"curfew:{zone}"] = CronTrigger(
                day_of_week=curfew_days,
                hour=s.curfew.stop_at.hour,
                minute=s.curfew.stop_at.minute,
                timezone=zone,
            )
            jobs[f"morning:{zone}"] = CronTrigger(
                day_of_week=",".join(s.morning_start.days),
                hour=s.morning_start.at.hour,
                minute=s.morning_start.at.minute,
                timezone=zone,
            )
            jobs[f"digest:{zone}"] = CronTrigger(
                day_of_week=s.report.weekday, hour=s.report.at.hour, minute=s.report.at.minute, timezone=zone
            )
            jobs[f"idle:{zone}"] = CronTrigger(
                hour=s.idle_shutdown.at.hour, minute=s.idle_shutdown.at.minute, timezone=zone
            )
            jobs[f"lifecycle:{zone}"] = CronTrigger(
                hour=s.lifecycle.at.hour, minute=s.lifecycle.at.minute, timezone=zone
            )
            for at in sorted(set(morning_times) - {s.morning_start.at}):
                jobs[f"morning:{zone}@{at:%H:%M}"] = CronTrigger(
                    day_of_week=",".join(s.morning_start.days), hour=at.hour, minute=at.minute, timezone=zone
                )
        jobs["recover"] = IntervalTrigger(seconds=max(5, self._lease.total_seconds() / 3))
        return jobs

    async def _morning_times(self) -> set[time]:
        mornings = await self._rt.store.call(self._rt.store.mornings.all)
        return {m.at for m in mornings if m.enabled and m.at is not None}

    async def sync_jobs(self) -> None:
        """Add the jobs the configuration and the owners' morning times need; drop the others."""
        grace = int(self._rt.settings.curfew.catch_up_minutes * 60)
        wanted = self.triggers(await self._morning_times())
        for job in self._scheduler.get_jobs():
            if job.id not in wanted:
                job.remove()
        for job_id, trigger in wanted.items():
            kind, _, zone = job_id.partition(":")
            self._scheduler.add_job(
                self._guarded,
                trigger,
                args=[job_id, kind, zone],
                id=job_id,
                replace_existing=True,
                misfire_grace_time=grace,
                coalesce=True,
                max_instances=1,
            )

    async def start(self) -> None:
        await self.sync_jobs()
        self._scheduler.start()
        self._spawn(self._guarded("catch-up", "catch-up", ""))
        log.info("scheduler started for zones %s as %s", ", ".join(self.zones()) or "(none)", self.owner)

    async def shutdown(self) -> None:
        self._scheduler.shutdown(wait=False)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- running one job --------------------------------------------------------------------------

    async def _guarded(self, job_id: str, kind: str, zone: str) -> None:
        """Run one job; an exception is logged and audited, never raised into APScheduler."""
        try:
            if kind == "recover":
                await self.recover()
                await self.end_delays()
                await self._pending.expire(self._rt.clock())
            elif kind == "catch-up":
                await self.catch_up()
            else:
                await self.run(kind, zone)
        except Exception as error:  # the scheduler must survive anything a job does
            log.exception("scheduled job %s failed", job_id)
            event = AuditEvent(
                self._rt.clock(), "scheduler", job_id, "failed", f"{type(error).__name__}: {error}"
            )
            try:
                await self._rt.store.call(self._rt.store.audit.record, event)
            except Exception:
                log.exception("could not audit the failure of %s", job_id)

    def instant_for(self, kind: str, zone: str, now: datetime, at: time | None = None) -> datetime | None:
        """The scheduled instant a run of `kind` at `now` belongs to (its ledger key)."""
        aliases = self.zones().get(zone)
        if not aliases:
            return None
        policy = self._rt.settings.policy(aliases[0])
        if kind == "curfew":
            return last_curfew(policy, now)
        if kind == "warning":
            return next_curfew(policy, now, inclusive=True)
        if kind == "idle":
            return last_daily(policy.zone, self._rt.settings.idle_shutdown.at, now)
        if kind == "lifecycle":
            return last_daily(policy.zone, self._rt.settings.lifecycle.at, now)
        if kind == "digest":
            report = self._rt.settings.report
            return last_digest(policy.zone, report.weekday, report.at, now)
        return last_morning(policy, now, at)

    async def run(self, kind: str, zone: str, now: datetime | None = None) -> Claim | None:
        """Claim and perform the run of `kind` for `zone` that `now` belongs to; None if not ours.

        `zone` may carry an owner's morning time: "Europe/Berlin@07:30".
        """
        now = now or self._rt.clock()
        zone, _, clock_time = zone.partition("@")
        at = time.fromisoformat(clock_time) if clock_time else None
        instant = self.instant_for(kind, zone, now, at)
        if instant is None or now - instant > timedelta(minutes=self._rt.settings.curfew.catch_up_minutes):
            log.info("no %s due in %s at %s", kind, zone, now.isoformat())
            return None
        schedule_id = f"{kind}:{zone}" + (f"@{clock_time}" if clock_time else "")
        claim = await self._rt.store.call(
            self._rt.store.runs.claim, schedule_id, instant, self.owner, now, self._lease
        )
        if claim is None:
            log.info("%s:%s@%s is claimed by another process or done", kind, zone, instant.isoformat())
            return None
        await self._perform(claim, kind, zone, now)
        return claim

    async def _perform(self, claim: Claim, kind: str, zone: str, now: datetime) -> None:
        """Run the body while the heartbeat keeps the lease; a lost lease cancels the body.

        A lost claim is not finished here: the process that holds it now does that (or, when nobody
        took it over yet, `recover` on any replica once the lease has lapsed)."""
        aliases = self.zones().get(zone.partition("@")[0], [])
        body = asyncio.ensure_future(self._body(kind)(claim, aliases, now))
        beating = asyncio.ensure_future(self._heartbeat(claim, now))
        state, summary, lost = RunState.FAILED, "interrupted", False
        try:
            await asyncio.wait({body, beating}, return_when=asyncio.FIRST_COMPLETED)
            if not body.done():
                lost = True
                body.cancel()
                await asyncio.gather(body, return_exceptions=True)
                raise LeaseLost(
                    f"{self.owner} lost the lease on {claim.run_id} and stopped its run; "
                    "the process holding the lease finishes it"
                )
            summary = body.result()
            state = RunState.DONE
        except Exception as error:
            summary = f"{type(error).__name__}: {error}"
            raise
        finally:
            beating.cancel()
            body.cancel()
            if not lost:
                await self._rt.store.call(self._rt.store.runs.finish, claim, state, summary, self._rt.clock())

    def _body(self, kind: str) -> Callable[[Claim, list[str], datetime], Awaitable[str]]:
        bodies = {
            "curfew": self._curfew,
            "warning": self._warning,
            "morning": self._morning,
            "digest": self._digest,
            "idle": self._idle,
            "lifecycle": self._lifecycle,
        }
        return bodies[kind]

    async def _curfew(self, claim: Claim, aliases: list[str], now: datetime) -> str:
        report = await self._sweeper.curfew(now=now, workspaces=aliases, run_id=claim.run_id)
        return report.summary()

    async def _morning(self, claim: Claim, aliases: list[str], now: datetime) -> str:
        report = await self._sweeper.morning(now=now, workspaces=aliases, run_id=claim.run_id)
        return report.summary()

    async def _warning(self, claim: Claim, aliases: list[str], now: datetime) -> str:
        report = await self._warner.warn(now=now, workspaces=aliases, run_id=claim.run_id)
        return f"{len(report.warnings)} warning(s); {len(report.failures)} workspace(s) unreadable"

    async def _digest(self, claim: Claim, aliases: list[str], now: datetime) -> str:
        reports = MoneyReports(self._rt, self._notifier)
        return await reports.send_digest(aliases, claim.scheduled_for, now, claim.run_id)

    async def _idle(self, claim: Claim, aliases: list[str], now: datetime) -> str:
        report = await IdlePass(self._rt, self._notifier).run(now, workspaces=aliases, run_id=claim.run_id)
        return report.summary()

    async def _lifecycle(self, claim: Claim, aliases: list[str], now: datetime) -> str:
        report = await LifePass(self._rt, self._notifier).run(now, workspaces=aliases, run_id=claim.run_id)
        return report.summary()

    async def _heartbeat(self, claim: Claim, since: datetime) -> None:
        """Beat every lease/3; return only when the lease is lost.

        A failed beat (the database restarting, say) is logged and retried at the next beat; once
        no beat has succeeded for a whole lease, another replica may take the run over, so the
        lease counts as lost."""
        last_beat = since
        while True:
            await self._sleep(max(1.0, self._lease.total_seconds() / 3))
            now = self._rt.clock()
            try:
                kept = await self._rt.store.call(self._rt.store.runs.heartbeat, claim, now)
            except Exception:
                log.exception("heartbeat of %s failed; retrying at the next beat", claim.run_id)
                if now - last_beat >= self._lease:
                    log.error("no heartbeat of %s for a whole lease: stopping the run", claim.run_id)
                    return
                continue
            if not kept:
                log.warning("lost the claim on %s to another process: stopping the run", claim.run_id)
                return
            last_beat = now

    # -- after downtime ---------------------------------------------------------------------------

    async def catch_up(self, now: datetime | None = None) -> list[Claim]:
        """At start: run what was missed (a curfew younger than catch_up_minutes, a due warning)."""
        now = now or self._rt.clock()
        done = []
        for zone in self.zones():
            for kind in KINDS:
                if kind == "warning" and not self._warning_due(zone, now):
                    continue
                claim = await self.run(kind, zone, now)
                if claim is not None:
                    done.append(claim)
        await self.recover(now)
        return done

    def _warning_due(self, zone: str, now: datetime) -> bool:
        curfew_at = self.instant_for("warning", zone, now)
        minutes = self._rt.settings.curfew.warn_minutes
        return curfew_at is not None and curfew_at - timedelta(minutes=minutes) <= now < curfew_at

    async def end_delays(self, now: datetime | None = None) -> int:
        """Stop the instances whose curfew delay (Keep 1 hour, Keep 2 hours) has ended; once each."""
        now = now or self._rt.clock()
        stopped = 0
        for keep_on in await self._rt.store.call(self._rt.store.keep_ons.ended_delays, now):
            claim = await self._rt.store.call(
                self._rt.store.runs.claim, f"delay:{keep_on.id}", keep_on.until, self.owner, now, self._lease
            )
            if claim is None:
                continue
            outcome = await self._sweeper.delayed_stop(keep_on, run_id=claim.run_id)
            await self._rt.store.call(self._rt.store.keep_ons.close, keep_on.id, KeepOnState.EXPIRED, now)
            await self._rt.store.call(
                self._rt.store.runs.finish, claim, RunState.DONE, outcome.kind.value, self._rt.clock()
            )
            stopped += outcome.kind is OutcomeKind.STOPPED
        return stopped

    async def recover(self, now: datetime | None = None) -> list[Claim]:
        """Finish runs that a dead process left claimed (their lease lapsed)."""
        now = now or self._rt.clock()
        finished = []
        for record in await self._rt.store.call(self._rt.store.runs.unfinished, now, self._lease):
            kind, _, zone = record.schedule_id.partition(":")
            if kind not in KINDS:
                continue
            claim = await self._rt.store.call(
                self._rt.store.runs.claim,
                record.schedule_id,
                record.scheduled_for,
                self.owner,
                now,
                self._lease,
            )
            if claim is None:
                continue
            log.warning("taking over %s, left unfinished by %s", claim.run_id, record.claimed_by)
            late = now - record.scheduled_for > timedelta(minutes=self._rt.settings.curfew.catch_up_minutes)
            if late or (kind == "warning" and now >= record.scheduled_for):
                await self._rt.store.call(
                    self._rt.store.runs.finish,
                    claim,
                    RunState.FAILED,
                    "abandoned by a dead process; too late to catch up",
                    now,
                )
                continue
            await self._perform(claim, kind, zone, now)
            finished.append(claim)
        return finished


def _shift_days(days: list[str]) -> str:
    """The warning falls on the day before when the curfew is shortly after midnight."""
    return ",".join(WEEKDAYS[(WEEKDAYS.index(d) - 1) % 7] for d in days)
