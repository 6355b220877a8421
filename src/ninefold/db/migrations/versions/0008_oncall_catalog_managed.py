"""managed flags for notification channels and personal notification rules (catalog apply)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-21 19:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("notification_channels", "notification_rules"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("managed", sa.Boolean(), nullable=False, server_default=sa.false())
            )


def downgrade() -> None:
    for table in ("notification_rules", "notification_channels"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("managed")
