"""Curfew's domain values: compute instances, jobs, keep-on exceptions, policies.

Pure values only: no SDK, no database, no clock. Every datetime is aware.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from enum import StrEnum
from zoneinfo import ZoneInfo


class InstanceState(StrEnum):
    """Azure ML compute-instance states, spelled as Azure spells them."""

    CREATING = "Creating"
    CREATE_FAILED = "CreateFailed"
    DELETING = "Deleting"
    RUNNING = "Running"
    RESTARTING = "Restarting"
    RESIZING = "Resizing"
    JOB_RUNNING = "JobRunning"
    SETTING_UP = "SettingUp"
    SETUP_FAILED = "SetupFailed"
    STARTING = "Starting"
    STOPPED = "Stopped"
    STOPPING = "Stopping"
    USER_SETTING_UP = "UserSettingUp"
    USER_SETUP_FAILED = "UserSetupFailed"
    UNKNOWN = "Unknown"
    UNUSABLE = "Unusable"

    @classmethod
    def parse(cls, value: str | None) -> InstanceState:
        for state in cls:
            if value is not None and state.value.lower() == value.lower():
                return state
        return cls.UNKNOWN

    @property
    def is_running(self) -> bool:
        return self in (InstanceState.RUNNING, InstanceState.JOB_RUNNING)

    @property
    def is_stopped(self) -> bool:
        return self is InstanceState.STOPPED

    @property
    def is_transitional(self) -> bool:
        return self in _TRANSITIONAL


_TRANSITIONAL = frozenset(
    {
        InstanceState.CREATING,
        InstanceState.DELETING,
        InstanceState.RESTARTING,
        InstanceState.RESIZING,
        InstanceState.SETTING_UP,
        InstanceState.STARTING,
        InstanceState.STOPPING,
        InstanceState.USER_SETTING_UP,
    }
)


@dataclass(frozen=True, slots=True)
class InstanceKey:
    """An instance is named by its workspace alias and its name."""

    workspace: str
    name: str

    def __str__(self) -> str:
        return f"{self.name}@{self.workspace}"


class OperationTrigger(StrEnum):
    """Who started an instance's last operation, as Azure ML says (`lastOperation.operationTrigger`)."""

    USER = "User"
    SCHEDULE = "Schedule"
    IDLE_SHUTDOWN = "IdleShutdown"


@dataclass(frozen=True, slots=True)
class ComputeSchedule:
    """One of the instance's own Azure ML start/stop schedules (`schedules.computeStartStop[]`).

    `hours`/`minutes`/`weekdays` describe when it fires for a Recurrence (weekdays Monday=0) or for
    a simple Cron expression "M H * * D"; `expression` keeps a Cron as Azure has it."""

    action: str
    """Start or Stop."""
    enabled: bool = True
    zone: str = "UTC"
    hours: tuple[int, ...] = ()
    minutes: tuple[int, ...] = (0,)
    weekdays: frozenset[int] = frozenset(range(7))
    expression: str | None = None

    def describe(self) -> str:
        at = ", ".join(f"{h:02d}:{m:02d}" for h in self.hours for m in self.minutes) or (
            self.expression or "?"
        )
        days = (
            "every day" if len(self.weekdays) == 7 else ",".join(WEEKDAYS[d] for d in sorted(self.weekdays))
        )
        state = "" if self.enabled else " (disabled)"
        return f"{self.action} at {at} {self.zone}, {days}{state}"


@dataclass(frozen=True, slots=True)
class Person:
    """A user as Azure names them: AAD object id, tenant, and a display name when Azure has one."""

    object_id: str
    tenant_id: str | None = None
    name: str | None = None


class OwnerSource(StrEnum):
    ASSIGNED = "assigned user"
    """`personalComputeInstanceSettings.assignedUser`: created on someone's behalf."""
    CREATOR = "creator"
    """`createdBy`: a user who created the instance for themselves."""


UNNAMED_PERSON = "someone Curfew has no name for yet"
"""Shown instead of an AAD object id: a card never shows a bare GUID."""


def display_name(object_id: str | None, names: Mapping[str, str]) -> str:
    """A person's name from `names` (object id, lower case -> name); never the bare id."""
    if not object_id:
        return "nobody"
    return names.get(object_id.lower()) or UNNAMED_PERSON


def owner_of(assigned: Person | None, creator: Person | None) -> tuple[Person | None, OwnerSource | None]:
    """DECISIONS rule 3: the assigned user, else the creator, else nobody (its admins act on it)."""
    if assigned is not None:
        return assigned, OwnerSource.ASSIGNED
    if creator is not None:
        return creator, OwnerSource.CREATOR
    return None, None


_STARTING_OPERATIONS = frozenset({"start", "restart", "create"})


@dataclass(frozen=True, slots=True)
class LastOperation:
    """Azure's `lastOperation` of a compute instance, spelled as Azure spells it.

    name: Create, Start, Stop, Restart, Resize, Reimage, Delete (or a newer one); status: InProgress,
    Succeeded, <Name>Failed; trigger: User, Schedule, IdleShutdown. Any part may be missing.
    """

    name: str | None
    at: datetime | None = None
    status: str | None = None
    trigger: str | None = None

    @property
    def succeeded(self) -> bool:
        return (self.status or "").casefold() == "succeeded"

    @property
    def started_at(self) -> datetime | None:
        """When the instance last started, if this operation is a start that succeeded."""
        if self.succeeded and (self.name or "").casefold() in _STARTING_OPERATIONS:
            return self.at
        return None


@dataclass(frozen=True, slots=True)
class Instance:
    workspace: str
    name: str
    size: str
    state: InstanceState
    owner_object_id: str | None = None
    """The owner by DECISIONS rule 3 (assigned user, else creator); `owner_source` says which."""
    owner_tenant_id: str | None = None
    last_started_at: datetime | None = None
    """When it last started, when known exactly (Azure's last operation, or Curfew's own start)."""
    location: str | None = None
    idle_shutdown_minutes: int | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    owner_name: str | None = None
    """The owner's display name, when Azure (createdBy.userName) or Teams gave one."""
    owner_source: OwnerSource | None = None
    created_by: Person | None = None
    last_operation: LastOperation | None = None
    started_before: datetime | None = None
    """When the start time is unknown: an instant it was already running at (Curfew saw it), if any."""
    reported_state: str | None = None
    """Azure's state text when Curfew does not know it (a value newer than this code)."""
    unreadable: str | None = None
    """Why Azure's answer for this instance could not be read; then only name and workspace are real."""
    schedules: tuple[ComputeSchedule, ...] = ()
    """Its own Azure ML start/stop schedules."""

    @property
    def key(self) -> InstanceKey:
        return InstanceKey(self.workspace, self.name)

    @property
    def state_text(self) -> str:
        return self.reported_state or self.state.value


def with_known_start(
    instance: Instance, curfew_started: datetime | None, seen_since: datetime | None
) -> Instance:
    """Fill an unknown start time from what Curfew knows: its own last start (exact), unless Azure
    reports a later operation; else a bound, the first instant Curfew saw it running."""
    if instance.last_started_at is not None:
        return instance
    later = instance.last_operation.at if instance.last_operation else None
    if curfew_started is not None and (later is None or curfew_started >= later):
        return replace(instance, last_started_at=curfew_started)
    if seen_since is not None:
        return replace(instance, started_before=seen_since)
    return instance


@dataclass(frozen=True, slots=True)
class Job:
    """A job that is active (not finished) on some compute."""

    workspace: str
    name: str
    compute: str
    status: str
    display_name: str | None = None


class KeepOnState(StrEnum):
    ACTIVE = "active"
    PENDING_APPROVAL = "pending_approval"
    RELEASED = "released"
    EXPIRED = "expired"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class KeepOn:
    """An exception to the curfew: keep `instance` running from `starts_at` until `until`."""

    id: int
    workspace: str
    instance: str
    owner_object_id: str | None
    starts_at: datetime
    until: datetime
    reason: str
    created_by: str
    state: KeepOnState
    in_force_until: datetime | None = None
    """For a pending exception: the part that holds without approval. None means `until`."""
    stop_at_end: bool = False
    """A delay of tonight's curfew (Keep 1 hour): the instance is stopped when it ends."""

    @property
    def key(self) -> InstanceKey:
        return InstanceKey(self.workspace, self.instance)

    @property
    def effective_until(self) -> datetime:
        """Where the exception stops holding: `until`, or for a pending one its unapproved part."""
        if self.state is KeepOnState.PENDING_APPROVAL:
            return min(self.until, self.in_force_until or self.starts_at)
        return self.until

    def covers(self, instant: datetime, as_of: datetime | None = None) -> bool:
        """True when this exception keeps the instance running at `instant`.

        `as_of` is when the question is asked: an exception made after the curfew instant but before
        the run reached the instance (a click at 00:00:03 during the 00:00 sweep) still covers it.
        """
        if self.state not in (KeepOnState.ACTIVE, KeepOnState.PENDING_APPROVAL):
            return False
        asked = instant if as_of is None else max(instant, as_of)
        return self.starts_at <= asked and instant < self.effective_until


@dataclass(frozen=True, slots=True)
class MorningStart:
    """An owner's wish that Curfew start an instance on weekday mornings."""

    workspace: str
    instance: str
    enabled: bool
    at: time | None = None

    @property
    def key(self) -> InstanceKey:
        return InstanceKey(self.workspace, self.instance)


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class CurfewPolicy:
    stop_at: time
    warn_minutes: int = 30
    days: frozenset[int] = frozenset(range(7))
    """Weekday numbers, Monday is 0."""
    skip_when_job_running: bool = True
    skip_dates: frozenset[date] = frozenset()
    catch_up_minutes: int = 120


@dataclass(frozen=True, slots=True)
class MorningPolicy:
    at: time
    days: frozenset[int] = frozenset(range(5))
    skip_dates: frozenset[date] = frozenset()


@dataclass(frozen=True, slots=True)
class WorkspacePolicy:
    """The schedule rules that apply to one workspace, in its own zone."""

    zone: ZoneInfo
    curfew: CurfewPolicy
    morning: MorningPolicy
