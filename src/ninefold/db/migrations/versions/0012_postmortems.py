"""postmortems: drafts with sections, revisions, policy checks, action items, incident repeats

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-21 20:10:47.217150
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ninefold.db.base

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incident_repeats",
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("earlier_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("detected_at", ninefold.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["earlier_id"],
            ["incidents.id"],
            name=op.f("fk_incident_repeats_earlier_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_repeats_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("incident_id", "earlier_id", name=op.f("pk_incident_repeats")),
    )
    with op.batch_alter_table("incident_repeats", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incident_repeats_earlier_id"), ["earlier_id"], unique=False
        )

    op.create_table(
        "postmortem_checks",
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("resolved_at", ninefold.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("consumed", sa.JSON(), nullable=False),
        sa.Column("checked_at", ninefold.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_postmortem_checks_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_postmortem_checks")),
    )
    op.create_table(
        "postmortems",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("sections", sa.JSON(), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", ninefold.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ninefold.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("published_at", ninefold.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_postmortems_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_postmortems")),
        sa.UniqueConstraint("incident_id", name=op.f("uq_postmortems_incident_id")),
    )
    with op.batch_alter_table("postmortems", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_postmortems_status"), ["status"], unique=False)

    op.create_table(
        "action_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.String(length=10000), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("priority", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("postmortem_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", ninefold.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ninefold.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", ninefold.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_reminded_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_action_items_incident_id_incidents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_action_items_owner_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["postmortem_id"],
            ["postmortems.id"],
            name=op.f("fk_action_items_postmortem_id_postmortems"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_action_items_team_id_teams"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_items")),
    )
    with op.batch_alter_table("action_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_action_items_incident_id"), ["incident_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_action_items_postmortem_id"), ["postmortem_id"], unique=False
        )
        batch_op.create_index("ix_action_items_status_due", ["status", "due_date"], unique=False)
        batch_op.create_index("ix_action_items_team_due", ["team_id", "due_date"], unique=False)

    op.create_table(
        "postmortem_revisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("postmortem_id", sa.Integer(), nullable=False),
        sa.Column("section", sa.String(length=100), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("at", ninefold.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["postmortem_id"],
            ["postmortems.id"],
            name=op.f("fk_postmortem_revisions_postmortem_id_postmortems"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_postmortem_revisions")),
    )
    with op.batch_alter_table("postmortem_revisions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_postmortem_revisions_pm_at", ["postmortem_id", "at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("postmortem_revisions", schema=None) as batch_op:
        batch_op.drop_index("ix_postmortem_revisions_pm_at")

    op.drop_table("postmortem_revisions")
    with op.batch_alter_table("action_items", schema=None) as batch_op:
        batch_op.drop_index("ix_action_items_team_due")
        batch_op.drop_index("ix_action_items_status_due")
        batch_op.drop_index(batch_op.f("ix_action_items_postmortem_id"))
        batch_op.drop_index(batch_op.f("ix_action_items_incident_id"))

    op.drop_table("action_items")
    with op.batch_alter_table("postmortems", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_postmortems_status"))

    op.drop_table("postmortems")
    op.drop_table("postmortem_checks")
    with op.batch_alter_table("incident_repeats", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_repeats_earlier_id"))

    op.drop_table("incident_repeats")
