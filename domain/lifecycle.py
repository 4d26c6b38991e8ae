"""The end of an instance's life: end dates, reminders, the end itself, deletion after a grace, sprawl.

Pure: instances, their end dates, keep-ons, the policy and `now` go in; one decision per instance
with its reason comes out (`plan_lifecycle`). Days are local dates in the workspace's zone, so a
reminder "7 days before" is seven calendar days whatever the clocks do in between (DST weeks).
An instance ends at the curfew of its end date (`ends_at`): the first curfew at or after 12:00 that
day (DECISIONS rule 1), and no keep-on reaches past that instant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum

from domain.keep import KeepLimits, KeepPlan
from domain.model import Instance, InstanceKey, KeepOn, WorkspacePolicy
from domain.schedule import keep_until_day_end
from domain.timefmt import require_aware

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class DeleteMode(StrEnum):
    ASK = "ask"
    """The workspace's admins get a card with Delete, Extend 30 days and Keep."""
    AUTO = "auto"
    """The owner gets a last notice a day before; then Curfew deletes it."""
    NEVER = "never"
    """Only listed."""


@dataclass(frozen=True, slots=True)
class LifecyclePolicy:
    remind_days: tuple[int, ...] = (7, 1)
    grace_days: int = 14
    delete: DeleteMode = DeleteMode.ASK
    stale_after_days: int = 30
    max_lifetime_days: int = 180
    require_end_date: bool = True


@dataclass(frozen=True, slots=True)
class EndDate:
    """What Curfew knows of an instance's life: its end date, and whether an admin chose to keep it."""

    workspace: str
    instance: str
    end: date | None
    kept: bool = False
    """An admin chose Keep on the deletion card: it stays, stopped, and is not proposed again."""
    at: datetime | None = None
    """The instant it ends: its end date's curfew, or the moment it was retired."""

    @property
    def key(self) -> InstanceKey:
        return InstanceKey(self.workspace, self.instance.lower())


class LifeAction(StrEnum):
    REMIND = "remind"
    END = "ends tonight"
    STOP = "stop"
    PROPOSE_DELETE = "propose deletion"
    DELETE_NOTICE = "last notice"
    DELETE = "delete"
    LISTED = "listed"
    STALE = "stale"


@dataclass(frozen=True, slots=True)
class LifeDecision:
    instance: Instance
    action: LifeAction
    reason: str
    end: date | None = None
    delete_after: date | None = None
    remind_before: int | None = None
    """For a reminder: which of `remind_days` it is (the smallest at or above the days left), so a
    date set three days ahead still gets its 7-day reminder, and each reminder goes once."""


def ends_at(policy: WorkspacePolicy, end: date) -> datetime:
    """The instant an instance with end date `end` ends: that day's curfew (DECISIONS rule 1)."""
    return keep_until_day_end(policy, end)


def has_ended(policy: WorkspacePolicy, end: date | None, now: datetime, at: datetime | None = None) -> bool:
    """True once `now` is at or past the end (`at` when known: a retired instance ended then)."""
    return end is not None and require_aware(now) >= (at or ends_at(policy, end))


def clamp_keep(keep_on: KeepOn, end_instant: datetime) -> KeepOn:
    """A keep-on never reaches past the instance's end."""
    if keep_on.until <= end_instant:
        return keep_on
    in_force = keep_on.in_force_until
    return replace(
        keep_on, until=end_instant, in_force_until=min(in_force, end_instant) if in_force else None
    )


def day_text(day: date) -> str:
    """ "Fri 18 Dec"."""
    return f"{_DAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]}"


def short_day(day: date) -> str:
    """ "3 Dec"."""
    return f"{day.day} {_MONTHS[day.month - 1]}"


def stopped_since(instance: Instance) -> datetime | None:
    """When a stopped instance last ran, from Azure's last operation (its time is when it stopped,
    or when it was created for one never started); None when unknown or running."""
    if instance.state.is_running or instance.last_operation is None:
        return None
    return instance.last_operation.at


def never_started(instance: Instance) -> bool:
    op = instance.last_operation
    return (
        not instance.state.is_running
        and op is not None
        and (op.name or "").casefold() == "create"
        and instance.last_started_at is None
    )


def stale_reason(
    instance: Instance, policy: LifecyclePolicy, now: datetime, curfew_stop: datetime | None = None
) -> str | None:
    """Why `instance` is stale ("stopped 41 days", "never started since it was created"), or None.
    `curfew_stop`: Curfew's own last stop of it (its audit), when Azure gives no time."""
    if instance.state.is_running:
        return None
    if never_started(instance):
        return "never started since it was created"
    since = stopped_since(instance) or curfew_stop
    if since is None:
        return None
    days = (now - since).days
    return f"stopped {days} days" if days >= policy.stale_after_days else None


def life_text(
    policy: WorkspacePolicy,
    life: LifecyclePolicy,
    end: date | None,
    now: datetime,
    at: datetime | None = None,
) -> str:
    """What `status` and `fleet` say: "ends Fri 18 Dec", "no end date", "ended 3 Dec, deleted after
    17 Dec"."""
    if end is None:
        return "no end date"
    if not has_ended(policy, end, now, at):
        return f"ends {day_text(end)}"
    after = end + timedelta(days=life.grace_days)
    if life.delete is DeleteMode.NEVER:
        return f"ended {short_day(end)}"
    return f"ended {short_day(end)}, deleted after {short_day(after)}"


def plan_lifecycle(
    instances: Sequence[Instance],
    ends: Mapping[InstanceKey, EndDate],
    keep_ons: Sequence[KeepOn],
    policies: Mapping[str, WorkspacePolicy],
    life: LifecyclePolicy,
    now: datetime,
    curfew_stops: Mapping[InstanceKey, datetime] | None = None,
) -> list[LifeDecision]:
    """The daily pass: one decision per instance that needs one, with its reason."""
    require_aware(now, "now")
    decisions = []
    for instance in instances:
        key = InstanceKey(instance.workspace, instance.name.lower())
        kept = [k for k in keep_ons if k.key.workspace == key.workspace and k.instance.lower() == key.name]
        stop = (curfew_stops or {}).get(key)
        decision = _decide_one(instance, ends.get(key), kept, policies[instance.workspace], life, now, stop)
        if decision is not None:
            decisions.append(decision)
    return decisions


def _decide_one(
    instance: Instance,
    life_row: EndDate | None,
    keep_ons: Sequence[KeepOn],
    policy: WorkspacePolicy,
    life: LifecyclePolicy,
    now: datetime,
    curfew_stop: datetime | None,
) -> LifeDecision | None:
    today = now.astimezone(policy.zone).date()
    end = life_row.end if life_row else None
    stale = stale_reason(instance, life, now, curfew_stop)
    if end is None:
        if stale:
            return LifeDecision(instance, LifeAction.STALE, f"{stale}; no end date")
        return None
    ended_at = (life_row.at if life_row else None) or ends_at(policy, end)
    if now < ended_at:
        left = (end - today).days
        if left == 0:
            held = [k for k in keep_ons if k.until > ended_at]
            why = f"ends at tonight's curfew ({day_text(end)})"
            if held:
                last = max(k.until for k in held).astimezone(policy.zone).date()
                why += f"; its keep-on to {day_text(last)} no longer holds"
            return LifeDecision(instance, LifeAction.END, why, end)
        due = [r for r in life.remind_days if r >= left]
        if due:
            days = "1 day" if left == 1 else f"{left} days"
            why = f"ends in {days}, on {day_text(end)}"
            return LifeDecision(instance, LifeAction.REMIND, why, end, remind_before=min(due))
        if stale:
            return LifeDecision(instance, LifeAction.STALE, f"{stale}; ends {day_text(end)}", end)
        return None
    return _after_end(instance, end, life_row, policy, life, today)


def _after_end(
    instance: Instance,
    end: date,
    life_row: EndDate | None,
    policy: WorkspacePolicy,
    life: LifecyclePolicy,
    today: date,
) -> LifeDecision:
    delete_after = end + timedelta(days=life.grace_days)
    ended = f"ended on {day_text(end)}"
    if instance.state.is_running:
        return LifeDecision(
            instance, LifeAction.STOP, f"{ended}; still {instance.state_text}", end, delete_after
        )
    if life_row is not None and life_row.kept:
        return LifeDecision(
            instance, LifeAction.LISTED, f"{ended}; an admin chose to keep it", end, delete_after
        )
    if today < delete_after:
        notice_day = delete_after - timedelta(days=1)
        if life.delete is DeleteMode.AUTO and today == notice_day:
            why = f"{ended}; deleted tomorrow, {day_text(delete_after)}"
            return LifeDecision(instance, LifeAction.DELETE_NOTICE, why, end, delete_after)
        why = f"{ended}; stopped, in its grace until {day_text(delete_after)}"
        return LifeDecision(instance, LifeAction.LISTED, why, end, delete_after)
    grace = f"{ended}; its {life.grace_days} days of grace are over"
    match life.delete:
        case DeleteMode.ASK:
            return LifeDecision(instance, LifeAction.PROPOSE_DELETE, grace, end, delete_after)
        case DeleteMode.AUTO:
            return LifeDecision(instance, LifeAction.DELETE, grace, end, delete_after)
        case _:
            return LifeDecision(instance, LifeAction.LISTED, f"{grace}; delete is never", end, delete_after)


def end_refused(day: date, today: date, life: LifecyclePolicy) -> str | None:
    """Why an end date cannot be set at all (in the past), or None."""
    if day < today:
        return f"{day_text(day)} is in the past; name a date from today on."
    return None


def needs_approver(day: date, today: date, life: LifecyclePolicy) -> bool:
    """An end date further ahead than `max_lifetime_days` from today waits for an approver."""
    return (day - today).days > life.max_lifetime_days


def lifetime_text(
    instance: Instance,
    ends: Mapping[InstanceKey, EndDate],
    policy: WorkspacePolicy,
    life: LifecyclePolicy,
    now: datetime,
) -> str:
    """`life_text` of an instance, and "stopped 41 days" when it is stale."""
    found = ends.get(InstanceKey(instance.workspace, instance.name.lower()))
    said = life_text(policy, life, found.end if found else None, now, found.at if found else None)
    stale = stale_reason(instance, life, now)
    return f"{said}; {stale}" if stale else said


def ended(
    instance: Instance, ends: Mapping[InstanceKey, EndDate], policy: WorkspacePolicy, now: datetime
) -> bool:
    """True once `instance` is past its end date: no morning start, no start by its owner."""
    found = ends.get(InstanceKey(instance.workspace, instance.name.lower()))
    return found is not None and has_ended(policy, found.end, now, found.at)


def clamp_plan(plan: KeepPlan, end_instant: datetime, limits: KeepLimits) -> KeepPlan:
    """A keep-on plan cut at the instance's end (the end is a curfew: it stops the instance then)."""
    if plan.until <= end_instant:
        return plan
    needs = end_instant - plan.starts_at > timedelta(days=limits.approval_over_days)
    in_force = plan.starts_at + timedelta(days=limits.approval_over_days) if needs else None
    return replace(
        plan, until=end_instant, next_curfew=end_instant, needs_approval=needs, in_force_until=in_force
    )
