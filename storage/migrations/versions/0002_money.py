"""money: price lists per region, workspace regions, the savings ledger, observed usage spans

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 12:31:59.648648
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "money_ledger",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("workspace", sa.String(length=64), nullable=False),
        sa.Column("instance", sa.String(length=64), nullable=False),
        sa.Column("size", sa.String(length=64), nullable=False),
        sa.Column("owner_object_id", sa.String(length=64), nullable=True),
        sa.Column("run_id", sa.String(length=128), nullable=True),
        sa.Column("keep_on_id", _ID, nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=64), nullable=True),
        sa.Column("per_hour", sa.String(length=32), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("simulated", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("hours", sa.String(length=32), nullable=True),
        sa.Column("amount", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_money_ledger")),
        sa.UniqueConstraint("keep_on_id", name=op.f("uq_money_ledger_keep_on_id")),
        sa.UniqueConstraint("kind", "workspace", "instance", "starts_at", name="uq_money_ledger_entry"),
    )
    with op.batch_alter_table("money_ledger", schema=None) as batch_op:
        batch_op.create_index("ix_money_ledger_open", ["ends_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_money_ledger_starts_at"), ["starts_at"], unique=False)

    op.create_table(
        "price_list",
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("simulated", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("prices", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("region", name=op.f("pk_price_list")),
    )
    op.create_table(
        "usage_span",
        sa.Column("workspace", sa.String(length=64), nullable=False),
        sa.Column("instance", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("size", sa.String(length=64), nullable=False),
        sa.Column("owner_object_id", sa.String(length=64), nullable=True),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stop_exact", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.PrimaryKeyConstraint("workspace", "instance", "started_at", name=op.f("pk_usage_span")),
    )
    op.create_table(
        "workspace_region",
        sa.Column("workspace_id", sa.String(length=300), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", name=op.f("pk_workspace_region")),
    )


def downgrade() -> None:
    op.drop_table("workspace_region")
    op.drop_table("usage_span")
    op.drop_table("price_list")
    with op.batch_alter_table("money_ledger", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_money_ledger_starts_at"))
        batch_op.drop_index("ix_money_ledger_open")
    op.drop_table("money_ledger")
