"""Curfew's one decision: for one run at one instant, what happens to each compute instance, and why.

Pure: instances, keep-on exceptions, active jobs, policies and `now` go in; one `Decision` per
instance comes out, in input order. No SDK, no database, no clock. Each reason is written for a
person (it goes straight into chat cards and the audit trail), names the instance's state or the
exception that applies, and shows times in the workspace's zone with the zone's name. Reasons are
predicates about the instance ("already stopped"); the reader puts the instance's name in front.

Instances, keep-ons, jobs and morning starts belong together when their workspace alias is equal
and their instance (compute) names are equal ignoring case.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from domain.model import Instance, InstanceState, Job, KeepOn, KeepOnState, MorningStart, WorkspacePolicy
from domain.schedule import last_curfew, last_morning, next_curfew
from domain.timefmt import format_clock, format_clock_zone, format_day, format_local, require_aware

__all__ = ["Action", "Decision", "RunKind", "decide", "group_warnings", "tonight"]


class Action(StrEnum):
    STOP = "stop"
    WARN = "warn"
    START = "start"
    LEAVE = "leave"


class RunKind(StrEnum):
    CURFEW = "curfew"
    WARNING = "warning"
    MORNING = "morning"
    DELAY_END = "delay_end"
    """A curfew delay (Keep 1 hour, Keep 2 hours) ended at `now`: stop the instance it held."""


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with `instance` and why.

    `instant` is the scheduled instant the decision is about (UTC; the coming curfew for a warning),
    None when nothing is due. `keep_on` is the exception that keeps the instance on; `jobs` are the
    active jobs found on it.
    """

    instance: Instance
    action: Action
    reason: str
    instant: datetime | None
    keep_on: KeepOn | None = None
    jobs: tuple[Job, ...] = ()


_FINISHED_JOB_STATUSES = frozenset({"completed", "failed", "canceled", "cancelled"})
"""Azure ML has 14 job statuses; only these three are over. Any other (NotResponding, Paused,
Unknown, a newer one) still holds the instance: a job that stopped answering may be training."""
_JOB_STATUS_WORDS = {
    "notstarted": "not started",
    "starting": "starting",
    "provisioning": "provisioning",
    "preparing": "preparing",
    "queued": "queued",
    "finalizing": "finalizing",
    "cancelrequested": "being canceled",
    "notresponding": "not responding",
    "paused": "paused",
}


@dataclass(frozen=True, slots=True)
class _Run:
    """What one run knows besides each instance and its policy: `now` (UTC), keep-ons and jobs."""

    now: datetime
    keep_ons: Sequence[KeepOn]
    jobs: Sequence[Job]
    forced: bool = False


def decide(
    kind: RunKind,
    now: datetime,
    instances: Sequence[Instance],
    keep_ons: Sequence[KeepOn],
    jobs: Sequence[Job],
    policies: Mapping[str, WorkspacePolicy],
    morning_starts: Sequence[MorningStart] = (),
    *,
    forced: bool = False,
) -> list[Decision]:
    """Decide a CURFEW, WARNING or MORNING run at `now` (aware; ValueError if naive).

    Each instance follows its workspace's policy (`policies[instance.workspace]`); an instance whose
    workspace has none is left alone. `forced` is an operator's manual run: "it is curfew (or
    morning) now", so `now` is the run's instant and the catch-up and started-after rules do not
    apply. The rules of each kind are on `_curfew`, `_warning` and `_morning`.
    """
    run = _Run(require_aware(now, "now").astimezone(UTC), keep_ons, jobs, forced)
    mornings = {(ms.workspace, ms.instance.casefold()): ms for ms in morning_starts}
    decisions: list[Decision] = []
    for instance in instances:
        policy = policies.get(instance.workspace)
        if instance.unreadable:
            decisions.append(_leave(instance, f"not decided: {instance.unreadable}"))
            continue
        if policy is None:
            decisions.append(_leave(instance, f"workspace {instance.workspace} has no policy"))
            continue
        match kind:
            case RunKind.CURFEW:
                decisions.append(_curfew(run, instance, policy))
            case RunKind.WARNING:
                decisions.append(_warning(run, instance, policy))
            case RunKind.MORNING:
                morning = mornings.get((instance.workspace, instance.name.casefold()))
                decisions.append(_morning(run, instance, morning, policy))
            case RunKind.DELAY_END:
                decisions.append(_delay_end(run, instance, policy))
    return decisions


def tonight(
    now: datetime,
    instance: Instance,
    keep_ons: Sequence[KeepOn],
    jobs: Sequence[Job],
    policy: WorkspacePolicy,
) -> Decision:
    """What the coming curfew will do to `instance`: the WARNING decision, for the `status` card."""
    return _warning(_Run(require_aware(now, "now").astimezone(UTC), keep_ons, jobs), instance, policy)


def group_warnings(decisions: Sequence[Decision]) -> dict[str | None, list[Decision]]:
    """WARN decisions, and LEAVE decisions of running instances that a curfew applies to, by owner.

    The key is the instance's `owner_object_id` (None: no owner; its workspace's admins are told).
    Owners and decisions keep the order of `decisions`.
    """
    groups: dict[str | None, list[Decision]] = {}
    for decision in decisions:
        running_left = decision.action is Action.LEAVE and decision.instance.state.is_running
        if decision.action is Action.WARN or (running_left and decision.instant is not None):
            groups.setdefault(decision.instance.owner_object_id, []).append(decision)
    return groups


def _curfew(run: _Run, instance: Instance, policy: WorkspacePolicy) -> Decision:
    """CURFEW: the run's instant is `now` when forced, else the last curfew at or before `now`.

    First match wins: no curfew within the catch-up window -> LEAVE; not running (in transition,
    stopped, failed...) -> LEAVE; kept on at the instant -> LEAVE; a job running while the policy
    skips busy instances -> LEAVE; started after the curfew instant (not forced) -> LEAVE; else STOP.
    """
    zone = policy.zone
    instant = run.now if run.forced else last_curfew(policy, run.now)
    if instant is None:
        return _leave(instance, f"no curfew due now in {zone.key}")
    catch_up = policy.curfew.catch_up_minutes
    if run.now - instant > timedelta(minutes=catch_up):
        late = f"the last, {format_local(instant, zone)}, is more than {catch_up} minutes ago"
        return _leave(instance, f"no curfew due now in {zone.key}: {late}")
    running = _jobs_on(instance, run.jobs)
    left = _not_running(instance, instant) or _kept_or_busy(run, instance, instant, running, policy)
    if left is not None:
        return left
    started = instance.last_started_at
    if not run.forced and started is not None and require_aware(started, "last_started_at") > instant:
        after = f"after the {format_clock(instant, zone)} curfew"
        return _leave(instance, f"started at {format_clock_zone(started, zone)}, {after}", instant)
    what = "manual sweep" if run.forced else "curfew"
    reason = f"{what} at {format_clock_zone(instant, zone)}{_despite(instance, running)}"
    return Decision(instance, Action.STOP, reason, instant, jobs=running)


def _warning(run: _Run, instance: Instance, policy: WorkspacePolicy) -> Decision:
    """WARNING: about the coming curfew, the first at or after `now` (forced runs too).

    Not running -> LEAVE; kept on at that curfew or a job running (the CURFEW rules) -> LEAVE with
    the same reason; else WARN. There is no started-after rule for warnings.
    """
    zone = policy.zone
    instant = next_curfew(policy, run.now, inclusive=True)
    if instant is None:
        return _leave(instance, f"no curfew scheduled in {zone.key}")
    running = _jobs_on(instance, run.jobs)
    left = _not_running(instance, instant) or _kept_or_busy(run, instance, instant, running, policy)
    if left is not None:
        return left
    reason = f"stops at {format_clock_zone(instant, zone)} ({format_day(instant, zone)})"
    return Decision(instance, Action.WARN, reason + _despite(instance, running), instant, jobs=running)


def _delay_end(run: _Run, instance: Instance, policy: WorkspacePolicy) -> Decision:
    """DELAY_END: a curfew delay ended at `now`, the run's instant. The CURFEW rules without its
    schedule: not running -> LEAVE; kept on by another exception, or busy with a job while the policy
    waits for jobs -> LEAVE; else STOP. (The ended delay itself no longer covers `now`.)
    """
    instant = run.now
    running = _jobs_on(instance, run.jobs)
    left = _not_running(instance, instant) or _kept_or_busy(run, instance, instant, running, policy)
    if left is not None:
        return left
    reason = f"curfew delay ended at {format_local(instant, policy.zone)}{_despite(instance, running)}"
    return Decision(instance, Action.STOP, reason, instant, jobs=running)


def _morning(
    run: _Run, instance: Instance, morning: MorningStart | None, policy: WorkspacePolicy
) -> Decision:
    """MORNING: start stopped instances whose owners opted in, at their own time or the policy's.

    Not opted in (or disabled) -> LEAVE; no morning start within the catch-up window (the curfew's
    `catch_up_minutes`) -> LEAVE; running or starting -> LEAVE "already running"; any other state
    but stopped -> LEAVE; started at or after this morning's instant and stopped again (the owner
    stopped it; a later catch-up run must not start it twice) -> LEAVE; else START.
    """
    zone = policy.zone
    if morning is None or not morning.enabled:
        return _leave(instance, "morning start is off")
    instant = run.now if run.forced else last_morning(policy, run.now, morning.at)
    if instant is None or run.now - instant > timedelta(minutes=policy.curfew.catch_up_minutes):
        return _leave(instance, f"no morning start due now in {zone.key}")
    state = instance.state
    if state.is_running or state is InstanceState.STARTING:
        return _leave(instance, "already running", instant)
    if not state.is_stopped:
        return _leave(instance, f"is {state}; Curfew only starts stopped instances", instant)
    started = instance.last_started_at
    if not run.forced and started is not None and require_aware(started, "last_started_at") >= instant:
        again = f"already started at {format_clock_zone(started, zone)} and stopped since"
        return _leave(instance, f"{again}; started once a morning", instant)
    what = "manual morning start" if run.forced else "morning start"
    return Decision(instance, Action.START, f"{what} at {format_clock_zone(instant, zone)}", instant)


def _leave(instance: Instance, reason: str, instant: datetime | None = None) -> Decision:
    return Decision(instance, Action.LEAVE, reason, instant)


def _not_running(instance: Instance, instant: datetime) -> Decision | None:
    """LEAVE an instance that is not running: in transition, stopped, or failed/unusable/unknown."""
    state = instance.state
    if state.is_transitional:
        return _leave(instance, f"is {state}; Curfew leaves instances in transition alone", instant)
    if state.is_stopped:
        return _leave(instance, "already stopped", instant)
    if instance.reported_state:
        unknown = f"is {instance.reported_state}, a state Curfew does not know"
        return _leave(instance, f"{unknown}; Curfew only stops running instances", instant)
    if not state.is_running:
        return _leave(instance, f"is {state}; Curfew only stops running instances", instant)
    return None


def _kept_or_busy(
    run: _Run, instance: Instance, instant: datetime, running: tuple[Job, ...], policy: WorkspacePolicy
) -> Decision | None:
    """LEAVE an instance kept on at `instant`, or busy with a job when the policy waits for jobs."""
    mine = [k for k in run.keep_ons if _same(k.workspace, k.instance, instance)]
    kept = [k for k in mine if k.covers(instant, run.now)]
    if kept:
        keep_on = max(kept, key=lambda k: k.effective_until)
        return Decision(instance, Action.LEAVE, _kept_reason(keep_on, policy), instant, keep_on=keep_on)
    busy = running or instance.state is InstanceState.JOB_RUNNING
    if busy and policy.curfew.skip_when_job_running:
        return Decision(instance, Action.LEAVE, _jobs_phrase(instance, running), instant, jobs=running)
    return None


def _kept_reason(keep_on: KeepOn, policy: WorkspacePolicy) -> str:
    why = f": {keep_on.reason}" if keep_on.reason.strip() else ""
    if keep_on.state is KeepOnState.PENDING_APPROVAL:
        end = format_local(keep_on.effective_until, policy.zone)
        return f"kept by {keep_on.created_by}{why} (pending approval, in force until {end})"
    return f"kept until {format_local(keep_on.until, policy.zone)} by {keep_on.created_by}{why}"


def _same(workspace: str, name: str, instance: Instance) -> bool:
    return workspace == instance.workspace and name.casefold() == instance.name.casefold()


def _jobs_on(instance: Instance, jobs: Sequence[Job]) -> tuple[Job, ...]:
    """Jobs on `instance` that have not finished (the list should hold only active ones anyway)."""
    active = (job for job in jobs if job.status.casefold() not in _FINISHED_JOB_STATUSES)
    return tuple(job for job in active if _same(job.workspace, job.compute, instance))


def _jobs_phrase(instance: Instance, running: tuple[Job, ...], *, leave: bool = True) -> str:
    """ "job train-42 running", "jobs a, b running", "job train-42 is not responding; left on" (as a
    LEAVE reason; "job train-42 not responding" after "despite"), "a job running (state JobRunning)"."""
    if running and all(job.status.casefold() == "running" for job in running):
        noun = "job" if len(running) == 1 else "jobs"
        return f"{noun} {', '.join(job.name for job in running)} running"
    if running:
        verb = "is " if leave else ""
        phrases = [
            f"job {job.name} running"
            if job.status.casefold() == "running"
            else f"job {job.name} {verb}{_status_words(job.status)}"
            for job in running
        ]
        return ", ".join(phrases) + ("; left on" if leave else "")
    if instance.state is InstanceState.JOB_RUNNING:
        return f"a job running (state {instance.state})"
    return ""


def _status_words(status: str) -> str:
    return _JOB_STATUS_WORDS.get(status.casefold(), f"in status {status or 'Unknown'}")


def _despite(instance: Instance, running: tuple[Job, ...]) -> str:
    phrase = _jobs_phrase(instance, running, leave=False)
    return f" despite {phrase}" if phrase else ""
