"""outbox: work that must follow a state change, done by a worker on every replica

Requests a process left approved or creating (their follow-ups lived in memory before this
revision) become outbox rows, so the worker finishes them.

Revision ID: 0003_i13
Revises: 0002
Create Date: 2026-12-03 10:40:00
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0003_i13"
down_revision = "0002"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_RESUMED = {"approved": "request.create", "creating": "request.follow"}


def upgrade() -> None:
    outbox = op.create_table(
        "outbox",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=200), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claims", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_index("ix_outbox_due", "outbox", ["done_at", "due_at"], unique=False)
    requests = sa.table(
        "compute_request",
        sa.column("id", _ID),
        sa.column("state", sa.String()),
        sa.column("keep_on_id", _ID),
    )
    now = datetime.now(UTC)
    found = op.get_bind().execute(
        sa.select(requests.c.id, requests.c.state).where(
            requests.c.state.in_(list(_RESUMED)), requests.c.keep_on_id.is_(None)
        )
    )
    rows = [
        {"kind": _RESUMED[state], "payload": {"request": int(request_id)}, "created_at": now, "due_at": now}
        for request_id, state in found
    ]
    if rows:
        op.bulk_insert(outbox, rows)


def downgrade() -> None:
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.drop_table("outbox")
