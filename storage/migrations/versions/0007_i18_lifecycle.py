"""the end of an instance's life: end dates, the ledger of reminders and deletion cards sent, and the
request form's end date

Revision ID: 0007_i18
Revises: 0006_i12
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_i18"
down_revision = "0006_i12"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "instance_life",
        sa.Column("workspace", sa.String(length=64), nullable=False),
        sa.Column("instance", sa.String(length=64), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("kept", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("set_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pending_end", sa.Date(), nullable=True),
        sa.Column("pending_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("workspace", "instance", name=op.f("pk_instance_life")),
    )
    op.create_table(
        "life_notice",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("workspace", sa.String(length=64), nullable=False),
        sa.Column("instance", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_life_notice")),
        sa.UniqueConstraint("workspace", "instance", "kind", "day", name="uq_life_notice_once"),
    )
    with op.batch_alter_table("compute_request", schema=None) as batch_op:
        batch_op.add_column(sa.Column("end_date", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("compute_request", schema=None) as batch_op:
        batch_op.drop_column("end_date")
    op.drop_table("life_notice")
    op.drop_table("instance_life")
