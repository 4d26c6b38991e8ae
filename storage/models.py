"""SQLAlchemy 2 typed models: Curfew's tables.

Every timestamp is stored as UTC and read back aware (`UtcDateTime`), on SQLite as on PostgreSQL.
The schema is owned by the Alembic migrations in storage/migrations; keep both in step.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy import true as sa_true
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """An aware datetime, stored in UTC; naive values are refused, not guessed."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: Curfew stores aware datetimes only")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        instant = datetime.fromisoformat(value) if isinstance(value, str) else value
        assert isinstance(instant, datetime)
        return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


_ID = BigInteger().with_variant(Integer, "sqlite")


class KeepOnRow(Base):
    __tablename__ = "keep_on"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    workspace: Mapped[str] = mapped_column(String(64))
    instance: Mapped[str] = mapped_column(String(64))
    owner_object_id: Mapped[str | None] = mapped_column(String(64))
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime())
    until: Mapped[datetime] = mapped_column(UtcDateTime())
    in_force_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(64))
    created_by_name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    state: Mapped[str] = mapped_column(String(32))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    stop_at_end: Mapped[bool] = mapped_column(default=False)
    """A delay of tonight's curfew (Keep 1 hour): Curfew stops the instance when it ends."""

    __table_args__ = (Index("ix_keep_on_instance_state", "workspace", "instance", "state"),)


class ConversationRefRow(Base):
    __tablename__ = "conversation_ref"

    aad_object_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_name: Mapped[str | None] = mapped_column(String(200))
    reference: Mapped[dict[str, Any]] = mapped_column(JSON)
    local_timezone: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AuditRow(Base):
    """Append-only: rows are inserted, never updated or deleted."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(64))
    workspace: Mapped[str | None] = mapped_column(String(64))
    instance: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text, default="")
    run_id: Mapped[str | None] = mapped_column(String(128))

    __table_args__ = (Index("ix_audit_event_instance", "workspace", "instance", "at"),)


class ComputeRequestRow(Base):
    __tablename__ = "compute_request"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    requester_object_id: Mapped[str] = mapped_column(String(64), index=True)
    requester_tenant_id: Mapped[str] = mapped_column(String(64))
    requester_name: Mapped[str | None] = mapped_column(String(200))
    workspace: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64))
    size: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(Text)
    morning_start: Mapped[bool] = mapped_column(default=False)
    state: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    comment: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    keep_on_id: Mapped[int | None] = mapped_column(_ID)
    cards: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    end_date: Mapped[date | None] = mapped_column(Date)
    """The project's end date from the form: the instance's end date once it is created."""


class ScheduledRunRow(Base):
    """The run ledger: one row per (schedule, instant), claimed exactly once."""

    __tablename__ = "scheduled_run"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    schedule_id: Mapped[str] = mapped_column(String(128))
    scheduled_for: Mapped[datetime] = mapped_column(UtcDateTime())
    state: Mapped[str] = mapped_column(String(16))
    claimed_by: Mapped[str] = mapped_column(String(128))
    claimed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    heartbeat_at: Mapped[datetime] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    summary: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("schedule_id", "scheduled_for", name="uq_scheduled_run_slot"),)


class MorningStartRow(Base):
    __tablename__ = "morning_start"

    workspace: Mapped[str] = mapped_column(String(64), primary_key=True)
    instance: Mapped[str] = mapped_column(String(64), primary_key=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    at: Mapped[str | None] = mapped_column(String(5))
    set_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class SimInstanceRow(Base):
    """The simulated fleet's instances (demo mode), kept in Curfew's own database."""

    __tablename__ = "sim_instance"
    __table_args__ = (  # chat reads one owner's instances (an assigned user's, else a creator's)
        Index("ix_sim_instance_owner", "workspace", text("lower(owner_object_id)")),
        Index("ix_sim_instance_creator", "workspace", text("lower(created_by_object_id)")),
    )

    workspace: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(32))
    target_state: Mapped[str | None] = mapped_column(String(32))
    transition_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    """Indexed: every read of the simulated fleet first completes the transitions that are due."""
    owner_object_id: Mapped[str | None] = mapped_column(String(64))
    owner_tenant_id: Mapped[str | None] = mapped_column(String(64))
    last_started_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    idle_shutdown_minutes: Mapped[int | None] = mapped_column(Integer)
    tags: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_by_object_id: Mapped[str | None] = mapped_column(String(64))
    """Azure's createdBy: an instance with no assigned user (owner_object_id) belongs to its creator."""
    created_by_tenant_id: Mapped[str | None] = mapped_column(String(64))
    created_by_name: Mapped[str | None] = mapped_column(String(200))
    schedules: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    """Its own start/stop schedules, in the shape of Azure's `schedules.computeStartStop`."""
    last_operation: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """Azure's `lastOperation` shape: operationName, operationTime, operationStatus, operationTrigger."""


class SimJobRow(Base):
    __tablename__ = "sim_job"

    workspace: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    compute: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32))
    display_name: Mapped[str | None] = mapped_column(String(200))


class PriceListRow(Base):
    """Azure's estimated hourly prices for one region, cached for a day (compute/prices.py)."""

    __tablename__ = "price_list"

    region: Mapped[str] = mapped_column(String(64), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3))
    fetched_at: Mapped[datetime] = mapped_column(UtcDateTime())
    simulated: Mapped[bool] = mapped_column(default=False)
    prices: Mapped[dict[str, str | None]] = mapped_column(JSON, default=dict)
    """Size -> price per hour as a decimal string; null: Azure publishes no price for the size."""


class WorkspaceRegionRow(Base):
    __tablename__ = "workspace_region"

    workspace_id: Mapped[str] = mapped_column(String(300), primary_key=True)
    """subscription/resource group/workspace, lower case."""
    region: Mapped[str] = mapped_column(String(64))
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime())


class MoneyLedgerRow(Base):
    """The savings ledger: what each curfew stop saved and what each keep-on cost (domain/money.py).

    An open entry (`ends_at` null) counts up to now; closing it stores its hours and amount."""

    __tablename__ = "money_ledger"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(8))
    workspace: Mapped[str] = mapped_column(String(64))
    instance: Mapped[str] = mapped_column(String(64))
    size: Mapped[str] = mapped_column(String(64))
    owner_object_id: Mapped[str | None] = mapped_column(String(64))
    run_id: Mapped[str | None] = mapped_column(String(128))
    keep_on_id: Mapped[int | None] = mapped_column(_ID, unique=True)
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    ends_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    end_reason: Mapped[str | None] = mapped_column(String(64))
    per_hour: Mapped[str | None] = mapped_column(String(32))
    currency: Mapped[str | None] = mapped_column(String(3))
    simulated: Mapped[bool] = mapped_column(default=False)
    hours: Mapped[str | None] = mapped_column(String(32))
    amount: Mapped[str | None] = mapped_column(String(32))
    trigger: Mapped[str] = mapped_column(String(16), default="curfew", server_default="curfew")
    """Who stopped it: curfew, idle_shutdown, schedule or person (domain.money_report.StopTrigger)."""
    credited: Mapped[bool] = mapped_column(default=True, server_default=sa_true())
    """Counted as Curfew's saving: the curfew's stops and the enforced idle shutdown's."""

    __table_args__ = (
        UniqueConstraint("kind", "workspace", "instance", "starts_at", name="uq_money_ledger_entry"),
        Index("ix_money_ledger_open", "ends_at"),
    )


class UsageSpanRow(Base):
    """When an instance ran, as Curfew observed it: from Azure's last start to the stop it saw."""

    __tablename__ = "usage_span"

    workspace: Mapped[str] = mapped_column(String(64), primary_key=True)
    instance: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), primary_key=True)
    size: Mapped[str] = mapped_column(String(64))
    owner_object_id: Mapped[str | None] = mapped_column(String(64))
    stopped_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    stop_exact: Mapped[bool] = mapped_column(default=False)
    """True when Curfew stopped it then; False when it was found stopped (an upper bound)."""


class OutboxRow(Base):
    """Work that must follow a state change, written in the change's transaction (storage/outbox.py).

    `claimed_by`/`claimed_until` are the claim and its lease; a row is done once `done_at` is set."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    due_at: Mapped[datetime] = mapped_column(UtcDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    claims: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    outcome: Mapped[str | None] = mapped_column(String(16))
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_outbox_due", "done_at", "due_at"),)


class InstanceLifeRow(Base):
    """An instance's end date and what Curfew decided about its end (domain/lifecycle.py)."""

    __tablename__ = "instance_life"

    workspace: Mapped[str] = mapped_column(String(64), primary_key=True)
    instance: Mapped[str] = mapped_column(String(64), primary_key=True)
    end_date: Mapped[date | None] = mapped_column(Date)
    ends_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    """The curfew of the end date, computed when it was set: no keep-on reaches past it."""
    kept: Mapped[bool] = mapped_column(default=False)
    """An admin chose Keep on the deletion card."""
    set_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    pending_end: Mapped[date | None] = mapped_column(Date)
    """An end date past `max_lifetime_days` that waits for an approver."""
    pending_by: Mapped[str | None] = mapped_column(String(64))


class LifeNoticeRow(Base):
    """A reminder, deletion card or notice sent: once per instance, kind and day, across replicas."""

    __tablename__ = "life_notice"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    workspace: Mapped[str] = mapped_column(String(64))
    instance: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    day: Mapped[date] = mapped_column(Date)
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (UniqueConstraint("workspace", "instance", "kind", "day", name="uq_life_notice_once"),)


class WarningRow(Base):
    """A warning card Curfew sent: its clicks name it by this opaque id, never by the curfew's instant."""

    __tablename__ = "warning_card"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    recipient: Mapped[str | None] = mapped_column(String(64))
    curfew_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime())
    instances: Mapped[list[list[str]]] = mapped_column(JSON)
    """The instances the card lists, as [workspace, name] pairs."""


class SecurityEventRow(Base):
    """A refused attempt (another tenant, not the owner, not an approver, a forged click): for admins,
    never in an instance's history. Repeats of one sender's attempt within a window share one row."""

    __tablename__ = "security_event"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    first_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    last_at: Mapped[datetime] = mapped_column(UtcDateTime())
    count: Mapped[int] = mapped_column(Integer, default=1)
    actor: Mapped[str] = mapped_column(String(64))
    tenant_id: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64))
    workspace: Mapped[str | None] = mapped_column(String(64))
    instance: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index("ix_security_event_actor", "actor", "last_at"),)
