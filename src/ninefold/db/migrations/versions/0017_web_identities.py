"""web console: OpenID Connect identities (issuer, subject) of users

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-21 22:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ninefold.db.base

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_identities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", ninefold.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", ninefold.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_web_identities_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_identities")),
        sa.UniqueConstraint("issuer", "subject", name=op.f("uq_web_identities_issuer_subject")),
    )
    with op.batch_alter_table("web_identities", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_web_identities_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("web_identities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_identities_user_id"))
    op.drop_table("web_identities")
