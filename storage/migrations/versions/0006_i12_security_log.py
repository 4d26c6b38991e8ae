"""security log: refused attempts, for admins, out of the instances' history

Revision ID: 0006_i12
Revises: 0006_i12c
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_i12"
down_revision = "0006_i12c"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "security_event",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("workspace", sa.String(length=64), nullable=True),
        sa.Column("instance", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_event")),
    )
    op.create_index(op.f("ix_security_event_first_at"), "security_event", ["first_at"])
    op.create_index("ix_security_event_actor", "security_event", ["actor", "last_at"])


def downgrade() -> None:
    op.drop_index("ix_security_event_actor", table_name="security_event")
    op.drop_index(op.f("ix_security_event_first_at"), table_name="security_event")
    op.drop_table("security_event")
