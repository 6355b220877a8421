"""report indexes: paged events by time, alerts and incidents by start

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-21 20:30:00.000000

The monthly scorecard reads ``paged`` alert events, alerts and incidents of one period; without
these indexes each read scans the whole table (seconds at a million alerts, bench/report.py).
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_alert_events_kind_at", "alert_events", ["kind", "at"])
    op.create_index("ix_alerts_starts_at", "alerts", ["starts_at"])
    op.create_index("ix_incidents_started_at", "incidents", ["started_at"])


def downgrade() -> None:
    op.drop_index("ix_incidents_started_at", table_name="incidents")
    op.drop_index("ix_alerts_starts_at", table_name="alerts")
    op.drop_index("ix_alert_events_kind_at", table_name="alert_events")
