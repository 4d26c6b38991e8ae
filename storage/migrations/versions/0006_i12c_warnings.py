"""warning cards: the warnings Curfew sent, so that a click names one by an opaque id (issue 12)

Revision ID: 0006_i12c
Revises: 0003_i19
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_i12c"
down_revision = "0003_i19"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "warning_card",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("recipient", sa.String(length=64), nullable=True),
        sa.Column("curfew_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("instances", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warning_card")),
    )
    op.create_index(op.f("ix_warning_card_curfew_at"), "warning_card", ["curfew_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_warning_card_curfew_at"), table_name="warning_card")
    op.drop_table("warning_card")
