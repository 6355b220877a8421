"""slo_snapshots: the engine's latest evaluation of every SLO, read by the console's overview

Revision ID: 0019
Revises: 0017
Create Date: 2026-11-22 01:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ninefold.db.base

revision = "0019"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "slo_snapshots",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("evaluated_at", ninefold.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("statuses", sa.Text(), nullable=False),
        sa.Column("versions", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("slo_snapshots")
