"""Idle shutdown by day: the admins' bounds, who may choose what, and why an instance is still on.

Pure: instances, jobs, keep-ons, the policy and `now` go in; decisions and sentences come out.
Azure ML stops an idle instance itself after `idleTimeBeforeShutdown` (15 minutes to 3 days); idle
means no Jupyter kernel, terminal, job, VS Code connection or custom app.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from domain.model import ComputeSchedule, Instance, Job, KeepOn, OperationTrigger, WorkspacePolicy
from domain.schedule import last_curfew, local_instant

AZURE_MIN_MINUTES = 15
AZURE_MAX_MINUTES = 3 * 24 * 60


@dataclass(frozen=True, slots=True)
class IdlePolicy:
    minutes: int = 60
    """What Curfew sets on an instance without idle shutdown or over the bound."""
    max_minutes: int = 240
    """The longest idle time an owner may choose; longer ones are brought back to `minutes`."""
    enforce: bool = True
    """False: the daily pass only reports; idle-shutdown stops do not count as Curfew's savings."""


@dataclass(frozen=True, slots=True)
class IdleChange:
    """An idle setting to write: on which instance, from what to what, and why."""

    instance: Instance
    before: int | None
    after: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class IdleNotice:
    """One line of the owner's card: which instance, from what to what (minutes; None is off)."""

    workspace: str
    name: str
    before: int | None
    after: int | None
    max_minutes: int


def outside_policy(instance: Instance, policy: IdlePolicy) -> str | None:
    """Why `instance`'s idle setting is outside the policy, or None when it is within."""
    minutes = instance.idle_shutdown_minutes
    if minutes is None:
        return "no idle shutdown"
    if minutes > policy.max_minutes:
        bound = minutes_text(policy.max_minutes)
        return f"idle shutdown after {minutes_text(minutes)}, over the bound of {bound}"
    return None


def plan_idle(instances: Sequence[Instance], policy: IdlePolicy) -> list[IdleChange]:
    """The daily pass: every instance without idle shutdown or over the bound gets `policy.minutes`."""
    changes = []
    for instance in instances:
        why = outside_policy(instance, policy)
        if why is not None:
            changes.append(IdleChange(instance, instance.idle_shutdown_minutes, policy.minutes, why))
    return changes


def choice_refused(minutes: int | None, policy: IdlePolicy, *, admin: bool) -> str | None:
    """Why a person may not set this idle time (None: off), or None when they may."""
    if minutes is not None and not AZURE_MIN_MINUTES <= minutes <= AZURE_MAX_MINUTES:
        return "Azure ML accepts an idle shutdown from 15 minutes to 3 days."
    if admin:
        return None
    if minutes is None:
        return "Only an admin of the workspace can switch idle shutdown off."
    if minutes > policy.max_minutes:
        return (
            f"You can choose from 15 minutes to {minutes_text(policy.max_minutes)} "
            "(the workspace's bound); an admin can set more."
        )
    return None


def minutes_text(minutes: int | None) -> str:
    if minutes is None:
        return "off"
    if minutes % (24 * 60) == 0:
        days = minutes // (24 * 60)
        return f"{days} day{'s' * (days != 1)}"
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour{'s' * (hours != 1)}"
    return f"{minutes} minutes"


def span_text(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    if hours >= 48:
        return f"{hours // 24} days"
    if hours >= 1:
        return f"{hours} hour{'s' * (hours != 1)}"
    return f"{max(0, int(delta.total_seconds() // 60))} minutes"


def long_running(instance: Instance, now: datetime) -> bool:
    """Running longer than its idle time plus a day (Azure's idle shutdown should have stopped it)."""
    if not instance.state.is_running or instance.last_started_at is None:
        return False
    idle = timedelta(minutes=instance.idle_shutdown_minutes or 0)
    return now - instance.last_started_at > idle + timedelta(days=1)


def schedule_conflicts(
    instance: Instance, policy: WorkspacePolicy, keep_ons: Sequence[KeepOn], now: datetime
) -> list[str]:
    """The instance's own schedules that work against Curfew: a start while the curfew keeps it off
    (before the morning start), a stop while a keep-on promises it stays on."""
    found = []
    active = [k for k in keep_ons if k.covers(now) or k.starts_at > now]
    for schedule in instance.schedules:
        if not schedule.enabled:
            continue
        for fire in _fire_times(schedule, now, days=8):
            if schedule.action == "Start" and _in_curfew(fire, policy):
                found.append(
                    f"its own schedule ({schedule.describe()}) starts it while the curfew keeps it off"
                )
                break
            if schedule.action == "Stop" and any(k.covers(fire, now) for k in active):
                found.append(
                    f"its own schedule ({schedule.describe()}) stops it while a keep-on promises it stays on"
                )
                break
    return found


def schedule_stops_during(instance: Instance, start: datetime, end: datetime) -> ComputeSchedule | None:
    """The first enabled Stop schedule of the instance that fires in [start, end), if any."""
    for schedule in instance.schedules:
        if schedule.enabled and schedule.action == "Stop":
            days = max(1, (end - start).days + 2)
            if any(start <= fire < end for fire in _fire_times(schedule, start, days=days)):
                return schedule
    return None


def _fire_times(schedule: ComputeSchedule, since: datetime, *, days: int) -> list[datetime]:
    try:
        zone = ZoneInfo(schedule.zone)
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    first = since.astimezone(zone).date()
    fires = []
    for n in range(days):
        day = first + timedelta(days=n)
        if day.weekday() not in schedule.weekdays:
            continue
        for hour in schedule.hours:
            for minute in schedule.minutes:
                fire = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
                if fire >= since:
                    fires.append(fire)
    return fires


def _in_curfew(instant: datetime, policy: WorkspacePolicy) -> bool:
    """True when `instant` falls between a curfew and the morning-start time that follows it."""
    curfew = last_curfew(policy, instant)
    if curfew is None:
        return False
    local = curfew.astimezone(policy.zone)
    end = local_instant(policy.zone, local.date(), policy.morning.at)
    if end <= curfew:
        end = local_instant(policy.zone, local.date() + timedelta(days=1), policy.morning.at)
    return curfew <= instant < end


@dataclass(frozen=True, slots=True)
class WhyFacts:
    """Everything `why NAME` knows about one instance."""

    instance: Instance
    jobs: Sequence[Job]
    keep_ons: Sequence[KeepOn]
    conflicts: Sequence[str]
    now: datetime


def likely_cause(facts: WhyFacts) -> str:
    """The likely reason the instance is (still) on, or how it stopped, in one sentence."""
    i, now = facts.instance, facts.now
    op = i.last_operation
    if not i.state.is_running:
        if op is not None and op.name == "Stop":
            by = {
                OperationTrigger.IDLE_SHUTDOWN.value: "Azure's idle shutdown",
                OperationTrigger.SCHEDULE.value: "its own Azure ML schedule",
            }.get(op.trigger or "", "a person or Curfew")
            return f"It is {i.state.value.lower()}: {by} stopped it."
        return f"It is not running ({i.state.value})."
    since = span_text(now - i.last_started_at) if i.last_started_at else "a while"
    if facts.jobs:
        names = ", ".join(j.display_name or j.name for j in facts.jobs)
        return f"A job is running on it ({names}): a job keeps it from going idle."
    if any(k.covers(now) for k in facts.keep_ons):
        return "A keep-on holds it: the curfew leaves it running until the keep-on ends."
    if op is not None and op.name == "Start" and op.trigger == OperationTrigger.SCHEDULE.value:
        return f"Its own Azure ML schedule started it {since} ago, not a person."
    if i.idle_shutdown_minutes is None:
        return f"It has run for {since} with no idle shutdown set: nothing stops it before the curfew."
    return (
        f"It has been busy for {since} without a job: an open terminal, kernel or VS Code session "
        "keeps it from going idle."
    )
