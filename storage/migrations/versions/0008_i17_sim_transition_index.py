"""indexes on the simulated fleet: its transition times (every read of it first completes the
transitions that are due) and its owners and creators (chat reads one person's instances), which
without them scan the whole table on every chat turn

Revision ID: 0008_i17
Revises: 0007_i18
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_i17"
down_revision = "0007_i18"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sim_instance", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sim_instance_transition_at"), ["transition_at"], unique=False)
    op.create_index("ix_sim_instance_owner", "sim_instance", ["workspace", sa.text("lower(owner_object_id)")])
    op.create_index("ix_sim_instance_creator", "sim_instance", ["workspace", sa.text("lower(created_by_object_id)")])


def downgrade() -> None:
    op.drop_index("ix_sim_instance_creator", table_name="sim_instance")
    op.drop_index("ix_sim_instance_owner", table_name="sim_instance")
    with op.batch_alter_table("sim_instance", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sim_instance_transition_at"))
