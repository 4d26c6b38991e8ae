"""The simulated fleet: a demo workspace kept in Curfew's own database.

It is the embedded default whenever no workspace is configured, so a newcomer can talk to Curfew at
once. Instances move through believable states (Running -> Stopping -> Stopped over a few seconds),
and the fleet honours the same contract as the Azure ML fleet (tests/test_fleet_contract.py).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import Select, bindparam, delete, func, or_, select
from sqlalchemy.orm import Session

from compute import azure_shapes as shapes
from compute.port import ActionResult, Busy, CreateSpec, InvalidRequest, NotFound, Workspace
from compute.prices import simulated_prices
from domain.model import Instance, InstanceState, Job, Person, owner_of
from domain.money import PriceList
from storage.models import InstanceLifeRow, SimInstanceRow, SimJobRow
from storage.repositories import Store

log = logging.getLogger(__name__)

DEMO_ALIAS = "demo"
DEMO_OWNER = "00000000-0000-0000-0000-000000000020"
DEMO_COLLEAGUE = "00000000-0000-0000-0000-000000000021"
DEMO_TENANT = "00000000-0000-0000-0000-000000000001"


@dataclass(frozen=True, slots=True)
class Timings:
    """Seconds each simulated operation takes."""

    stop: float = 5.0
    start: float = 6.0
    create: float = 10.0


def demo_workspace(timezone: str) -> Workspace:
    return Workspace(DEMO_ALIAS, DEMO_TENANT, "rg-curfew-demo", "ml-curfew-demo", timezone)


DEMO_OWNER_NAME = "Dana Scientist"
SELF_MADE = frozenset({"cpu-ci"})
"""Demo instances their owner created for themselves: no assigned user, the owner is the creator
(Azure's createdBy), as for most instances in a real workspace (DECISIONS rule 3)."""

# name, size, state, owner, hours since start, job on it, idle shutdown minutes
DEMO_INSTANCES = (
    ("gpu-ci", "Standard_NC6s_v3", InstanceState.RUNNING, DEMO_OWNER, 9, None, None),
    ("cpu-ci", "Standard_DS3_v2", InstanceState.RUNNING, DEMO_OWNER, 3, None, 60),
    ("train-ci", "Standard_NC6s_v3", InstanceState.RUNNING, DEMO_OWNER, 30, "train-42", 60),
    ("old-ci", "Standard_DS11_v2", InstanceState.STOPPED, DEMO_OWNER, 72, None, 60),
    ("alex-gpu", "Standard_NC6s_v3", InstanceState.RUNNING, DEMO_COLLEAGUE, 5, None, 120),
    ("proj-old", "Standard_DS3_v2", InstanceState.STOPPED, DEMO_COLLEAGUE, 21 * 24, None, 60),
)
DEMO_ENDS = {"train-ci": 3, "proj-old": -20}
"""End dates, in days from the day the demo is seeded: train-ci ends in three days (its owner gets a
reminder), proj-old ended twenty days ago and is stopped (past its grace: a deletion proposal);
the others have none."""
DEMO_STOPPED_DAYS = {"proj-old": 20}
"""Stopped instances whose last operation is a Stop this many days ago (stale ones)."""
"""gpu-ci has no idle shutdown; cpu-ci has its own Azure ML schedule, which started it this morning."""
DEMO_SCHEDULES = {
    "cpu-ci": [
        {
            "action": "Start",
            "status": "Enabled",
            "triggerType": "Cron",
            "cron": {"expression": "0 7 * * 1-5", "timeZone": "W. Europe Standard Time"},
        }
    ]
}


class SimulatedFleet:
    def __init__(
        self,
        store: Store,
        workspace: Workspace,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        timings: Timings = Timings(),
    ) -> None:
        self._store = store
        self._workspace = workspace
        self._clock = clock
        self._timings = timings

    @property
    def workspaces(self) -> Sequence[Workspace]:
        return (self._workspace,)

    def seed_demo(self, ends_at: Callable[[date], datetime] | None = None) -> bool:
        """Create the demo instances once; False when the demo workspace already has instances.
        `ends_at`: the instant an end date ends (its curfew), for the demo's end dates."""
        now = self._clock()
        with self._store.sessions.begin() as session:
            if session.scalars(select(SimInstanceRow).where(SimInstanceRow.workspace == DEMO_ALIAS)).first():
                return False
            for name, size, state, owner, hours, job, idle in DEMO_INSTANCES:
                self_made = name in SELF_MADE
                started = now - timedelta(hours=hours)
                trigger = "Schedule" if name in DEMO_SCHEDULES else "User"
                session.add(
                    SimInstanceRow(
                        workspace=DEMO_ALIAS,
                        name=name,
                        size=size,
                        state=state.value,
                        owner_object_id=None if self_made else owner,
                        owner_tenant_id=None if self_made else DEMO_TENANT,
                        last_started_at=started,
                        idle_shutdown_minutes=idle,
                        tags={},
                        created_by_object_id=owner if self_made else None,
                        created_by_tenant_id=DEMO_TENANT if self_made else None,
                        created_by_name=DEMO_OWNER_NAME if self_made else None,
                        schedules=DEMO_SCHEDULES.get(name),
                        last_operation=_operation("Start", started, "Succeeded", trigger)
                        if state.is_running
                        else _stopped(name, now),
                    )
                )
                if job:
                    session.add(
                        SimJobRow(
                            workspace=DEMO_ALIAS,
                            name=job,
                            compute=name,
                            status="Running",
                            display_name=f"{job} (fine-tuning)",
                        )
                    )
            self._seed_ends(session, now, ends_at)
        log.info("seeded the simulated demo fleet with %d instances", len(DEMO_INSTANCES))
        return True

    def _seed_ends(self, session: Session, now: datetime, ends_at: Callable[[date], datetime] | None) -> None:
        zone = ZoneInfo(self._workspace.timezone)
        today = now.astimezone(zone).date()
        for name, days in DEMO_ENDS.items():
            end = today + timedelta(days=days)
            instant = ends_at(end) if ends_at else datetime.combine(end + timedelta(days=1), time(), zone)
            session.add(
                InstanceLifeRow(
                    workspace=DEMO_ALIAS,
                    instance=name,
                    end_date=end,
                    ends_at=instant,
                    kept=False,
                    set_by=DEMO_OWNER,
                    updated_at=now,
                )
            )

    async def list_instances(self, workspace: str | None = None) -> list[Instance]:
        return await self._store.call(self._list, workspace)

    async def list_pages(self, workspace: str) -> AsyncIterator[list[Instance]]:
        """The demo fleet is one query: one page."""
        yield await self.list_instances(workspace)

    async def recent_instances(
        self, workspace: str | None = None, *, owner: str | None = None, name: str | None = None
    ) -> list[Instance]:
        """The demo fleet lives in the database: one query, narrowed there (an owner's few rows of
        however many), so no cache is needed."""
        if workspace is not None:
            self._check_workspace(workspace)
        return await self._store.call(self._list_where, owner, name)

    async def get_instance(self, workspace: str, name: str) -> Instance:
        return await self._store.call(self._get, workspace, name)

    async def reserve_write(self, workspace: str) -> None:
        """The demo fleet has no write budget."""
        self._check_workspace(workspace)

    async def stop(self, workspace: str, name: str) -> ActionResult:
        return await self._store.call(self._transition, workspace, name, "stop")

    async def start(self, workspace: str, name: str) -> ActionResult:
        return await self._store.call(self._transition, workspace, name, "start")

    async def create(self, workspace: str, spec: CreateSpec) -> None:
        await self._store.call(self._create, workspace, spec)

    async def delete(self, workspace: str, name: str) -> None:
        await self._store.call(self._delete, workspace, name)

    async def set_idle_shutdown(self, workspace: str, name: str, minutes: int | None) -> None:
        await self._store.call(self._set_idle, workspace, name, minutes)

    async def list_active_jobs(self, workspace: str) -> list[Job]:
        return await self._store.call(self._jobs, workspace)

    async def recent_jobs(self, workspace: str) -> list[Job]:
        return await self.list_active_jobs(workspace)

    async def hourly_prices(self, workspace: str) -> PriceList:
        """The demo's own price list, marked simulated wherever it is shown."""
        self._check_workspace(workspace)
        return simulated_prices(self._clock())

    async def close(self) -> None:
        return None

    # -- synchronous parts, run in a worker thread -------------------------------------------

    def _list(self, workspace: str | None) -> list[Instance]:
        if workspace is not None:
            self._check_workspace(workspace)
        with self._store.sessions.begin() as session:
            self._advance(session)
            rows = session.scalars(select(SimInstanceRow).order_by(SimInstanceRow.name)).all()
            return [_instance(r) for r in rows if r.workspace == self._workspace.alias]

    def _list_where(self, owner: str | None, name: str | None) -> list[Instance]:
        kind = "any" if owner is None else "nobody" if owner == "" else "owner"
        params = {
            "workspace": self._workspace.alias,
            "owner": (owner or "").lower(),
            "name": (name or "").lower(),
        }
        with self._store.sessions.begin() as session:
            self._advance(session)
            # sorted here, not in SQL: an ORDER BY name makes SQLite walk the primary key instead
            rows = sorted(session.execute(_narrowed(kind, name is not None), params), key=lambda r: r.name)
            return [_instance(r) for r in rows]

    def _get(self, workspace: str, name: str) -> Instance:
        with self._store.sessions.begin() as session:
            self._advance(session)
            return _instance(self._row(session, workspace, name))

    def _transition(self, workspace: str, name: str, verb: str) -> ActionResult:
        now = self._clock()
        with self._store.sessions.begin() as session:
            self._advance(session)
            row = self._row(session, workspace, name)
            state = InstanceState.parse(row.state)
            wanted, via, seconds = _TRANSITIONS[verb]
            if state in wanted or state is via:
                return ActionResult.ALREADY
            allowed = state.is_running if verb == "stop" else state is InstanceState.STOPPED
            if not allowed:
                raise Busy(f"{name} is {state.value}; it cannot {verb} now. Try again in a few minutes.")
            row.state, row.target_state = via.value, wanted[0].value
            row.last_operation = _operation(verb.capitalize(), now, "InProgress", "User")
            row.transition_at = now + timedelta(seconds=getattr(self._timings, seconds))
            if verb == "stop":
                session.execute(
                    delete(SimJobRow).where(SimJobRow.workspace == workspace, SimJobRow.compute == row.name)
                )
            return ActionResult.ACCEPTED

    def _create(self, workspace: str, spec: CreateSpec) -> None:
        self._check_workspace(workspace)
        now = self._clock()
        with self._store.sessions.begin() as session:
            if session.get(SimInstanceRow, (workspace, spec.name.lower())):
                raise InvalidRequest(f"The name {spec.name} is already taken in {workspace}; choose another.")
            session.add(
                SimInstanceRow(
                    workspace=workspace,
                    name=spec.name.lower(),
                    size=spec.size,
                    state=InstanceState.CREATING.value,
                    target_state=InstanceState.RUNNING.value,
                    transition_at=now + timedelta(seconds=self._timings.create),
                    owner_object_id=spec.owner_object_id,
                    owner_tenant_id=spec.owner_tenant_id,
                    idle_shutdown_minutes=spec.idle_shutdown_minutes,
                    tags=dict(spec.tags),
                )
            )

    def _set_idle(self, workspace: str, name: str, minutes: int | None) -> None:
        if minutes is not None and not 15 <= minutes <= 3 * 24 * 60:
            raise InvalidRequest("Azure ML accepts an idle shutdown from 15 minutes to 3 days.")
        with self._store.sessions.begin() as session:
            self._row(session, workspace, name).idle_shutdown_minutes = minutes

    def _delete(self, workspace: str, name: str) -> None:
        with self._store.sessions.begin() as session:
            session.delete(self._row(session, workspace, name))

    def _jobs(self, workspace: str) -> list[Job]:
        self._check_workspace(workspace)
        with self._store.sessions() as session:
            rows = session.execute(_JOBS, {"workspace": workspace})
            return [Job(r.workspace, r.name, r.compute, r.status, r.display_name) for r in rows]

    def _advance(self, session: Session) -> None:
        """Complete every transition whose time has come (most reads find none: one indexed look)."""
        now = self._clock()
        if session.execute(_ANY_DUE, {"now": now}).first() is None:
            return
        due = session.scalars(select(SimInstanceRow).where(SimInstanceRow.transition_at <= now))
        for row in due:
            if row.target_state == InstanceState.RUNNING.value:
                row.last_started_at = row.transition_at
            if row.last_operation and row.last_operation.get("operationStatus") == "InProgress":
                row.last_operation = {**row.last_operation, "operationStatus": "Succeeded"}
            row.state, row.target_state, row.transition_at = row.target_state or row.state, None, None

    def _row(self, session: Session, workspace: str, name: str) -> SimInstanceRow:
        self._check_workspace(workspace)
        row = session.get(SimInstanceRow, (workspace, name.lower()))
        if row is None:
            raise NotFound(f"No compute instance {name} in workspace {workspace}.")
        return row

    def _check_workspace(self, workspace: str) -> None:
        if workspace != self._workspace.alias:
            raise NotFound(f"No workspace {workspace}; the simulated fleet has only {self._workspace.alias}.")


_TRANSITIONS = {
    "stop": ((InstanceState.STOPPED,), InstanceState.STOPPING, "stop"),
    "start": ((InstanceState.RUNNING, InstanceState.JOB_RUNNING), InstanceState.STARTING, "start"),
}


_SIM: Final = SimInstanceRow.__table__.c
_JOBS: Final = select(SimJobRow.__table__).where(SimJobRow.__table__.c.workspace == bindparam("workspace"))
_ANY_DUE: Final = select(_SIM.name).where(_SIM.transition_at <= bindparam("now")).limit(1)


@cache
def _narrowed(kind: str, named: bool) -> Select[Any]:
    """The demo fleet's rows of an owner ("owner"), of nobody ("nobody") or of anyone ("any"), with
    `named` of one name; built once per shape (bound: workspace, owner, name), read as Core rows."""
    here = _SIM.workspace == bindparam("workspace")
    query = select(SimInstanceRow.__table__)
    if kind == "owner":
        owner: Any = bindparam("owner")
        assigned = func.lower(_SIM.owner_object_id) == owner
        creator = func.lower(_SIM.created_by_object_id) == owner
        # the workspace in each branch, so that each uses its index (ix_sim_instance_owner/_creator)
        query = query.where(or_(here & assigned, here & _SIM.owner_object_id.is_(None) & creator))
    else:
        query = query.where(here)
    if kind == "nobody":  # neither an assigned user nor a creator
        query = query.where(
            func.coalesce(_SIM.owner_object_id, "") == "", func.coalesce(_SIM.created_by_object_id, "") == ""
        )
    if named:
        query = query.where(_SIM.name == bindparam("name"))
    return query


def _instance(row: Any) -> Instance:
    """A `SimInstanceRow`, or a Core row of its table."""
    assigned = Person(row.owner_object_id, row.owner_tenant_id) if row.owner_object_id else None
    creator = (
        Person(row.created_by_object_id, row.created_by_tenant_id, row.created_by_name)
        if row.created_by_object_id
        else None
    )
    owner, source = owner_of(assigned, creator)
    return Instance(
        workspace=row.workspace,
        name=row.name,
        size=row.size,
        state=InstanceState.parse(row.state),
        owner_object_id=owner.object_id if owner else None,
        owner_tenant_id=owner.tenant_id if owner else None,
        last_started_at=row.last_started_at,
        location="simulated",
        idle_shutdown_minutes=row.idle_shutdown_minutes,
        tags=dict(row.tags or {}),
        owner_name=owner.name if owner else None,
        owner_source=source,
        created_by=creator,
        last_operation=shapes.last_operation(row.last_operation),
        schedules=shapes.schedules(row.schedules),
    )


def _stopped(name: str, now: datetime) -> dict[str, str] | None:
    days = DEMO_STOPPED_DAYS.get(name)
    return _operation("Stop", now - timedelta(days=days), "Succeeded", "User") if days else None


def _operation(name: str, at: datetime, status: str, trigger: str) -> dict[str, str]:
    """Azure's `lastOperation` shape."""
    return {
        "operationName": name,
        "operationTime": at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "operationStatus": status,
        "operationTrigger": trigger,
    }
