"""deployments.committed_at: commit time for lead time for changes

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-21 20:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ninefold.db.base

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.add_column(
            sa.Column("committed_at", ninefold.db.base.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.drop_column("committed_at")
