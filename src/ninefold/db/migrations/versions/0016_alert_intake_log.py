"""alert_intake: the durable intake log of accepted, not yet processed alert batches

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-21 22:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ninefold.db.base

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_intake",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "integration_id",
            sa.Integer(),
            sa.ForeignKey("integrations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("format", sa.String(30), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("received_at", ninefold.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("failed_at", ninefold.db.base.UTCDateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("alert_intake")
