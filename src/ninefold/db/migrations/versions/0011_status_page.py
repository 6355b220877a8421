"""status page: page settings, component groups, components and the services they cover

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-21 20:07:18.748494
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ninefold.db.base

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "status_component_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("managed", sa.Boolean(), nullable=False),
        sa.Column("created_at", ninefold.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ninefold.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_component_groups")),
        sa.UniqueConstraint("name", name=op.f("uq_status_component_groups_name")),
    )
    op.create_table(
        "status_pages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=False),
        sa.Column("show_maintenance_reason", sa.Boolean(), nullable=False),
        sa.Column("managed", sa.Boolean(), nullable=False),
        sa.Column("created_at", ninefold.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ninefold.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_pages")),
    )
    op.create_table(
        "status_components",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("override_status", sa.String(length=30), nullable=True),
        sa.Column("override_set_at", ninefold.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("override_set_by", sa.String(length=200), nullable=True),
        sa.Column("managed", sa.Boolean(), nullable=False),
        sa.Column("created_at", ninefold.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ninefold.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["status_component_groups.id"],
            name=op.f("fk_status_components_group_id_status_component_groups"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_components")),
        sa.UniqueConstraint("name", name=op.f("uq_status_components_name")),
    )
    with op.batch_alter_table("status_components", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_status_components_group_id"), ["group_id"], unique=False
        )

    op.create_table(
        "status_component_services",
        sa.Column("component_id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["component_id"],
            ["status_components.id"],
            name=op.f("fk_status_component_services_component_id_status_components"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_status_component_services_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "component_id", "service_id", name=op.f("pk_status_component_services")
        ),
    )
    with op.batch_alter_table("status_component_services", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_status_component_services_service_id"), ["service_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("status_component_services", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_status_component_services_service_id"))

    op.drop_table("status_component_services")
    with op.batch_alter_table("status_components", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_status_components_group_id"))

    op.drop_table("status_components")
    op.drop_table("status_pages")
    op.drop_table("status_component_groups")
