"""creator of simulated instances: who created a self-made instance (createdBy), DECISIONS rule 3

Revision ID: 0003_i14
Revises: 0002
Create Date: 2026-12-03 10:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_i14"
down_revision = "0003_i13"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sim_instance") as batch:
        batch.add_column(sa.Column("created_by_object_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("created_by_tenant_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("created_by_name", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sim_instance") as batch:
        batch.drop_column("created_by_name")
        batch.drop_column("created_by_tenant_id")
        batch.drop_column("created_by_object_id")
