"""idle shutdown: who stopped each saved instance (trigger), the demo fleet's schedules and last operation

Revision ID: 0003_i19
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_i19"
down_revision = "0003_i14"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("money_ledger", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("trigger", sa.String(length=16), nullable=False, server_default="curfew")
        )
        batch_op.add_column(sa.Column("credited", sa.Boolean(), nullable=False, server_default=sa.true()))
    with op.batch_alter_table("sim_instance", schema=None) as batch_op:
        batch_op.add_column(sa.Column("schedules", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("last_operation", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sim_instance", schema=None) as batch_op:
        batch_op.drop_column("last_operation")
        batch_op.drop_column("schedules")
    with op.batch_alter_table("money_ledger", schema=None) as batch_op:
        batch_op.drop_column("credited")
        batch_op.drop_column("trigger")
