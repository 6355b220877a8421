"""Alert tables: integrations (inbound keys), alerts (deduplicated, durable) and their events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ninefold.catalog.models import Service
from ninefold.db.base import Base


class Integration(Base):
    """An inbound source with its own key: Alertmanager, PagerDuty Events v2, webhook …"""

    __tablename__ = "integrations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(30))
    service_id: Mapped[int | None] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), index=True
    )
    key_prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    previous_key_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    previous_key_expires_at: Mapped[datetime | None]
    rate_limit_per_minute: Mapped[int] = mapped_column(Integer, default=6000)
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]

    service: Mapped[Service | None] = relationship()


class Alert(Base):
    """One alert: re-sent alerts update it; ``dedup_key`` is unique among open alerts."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index(
            "uq_alerts_open_dedup_key",
            "dedup_key",
            unique=True,
            sqlite_where=text("status = 'firing'"),
            postgresql_where=text("status = 'firing'"),
        ),
        Index("ix_alerts_status_starts_at", "status", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(300))
    fingerprint: Mapped[str] = mapped_column(String(16), index=True)
    source: Mapped[str] = mapped_column(String(30))
    integration_id: Mapped[int | None] = mapped_column(
        ForeignKey("integrations.id", ondelete="SET NULL"), index=True
    )
    service_id: Mapped[int | None] = mapped_column(
        ForeignKey("services.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(20))
    severity: Mapped[str] = mapped_column(String(20), default="error")
    summary: Mapped[str] = mapped_column(String(1024))
    labels: Mapped[dict[str, Any]] = mapped_column()
    annotations: Mapped[dict[str, Any]] = mapped_column(default=dict)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    generator_url: Mapped[str | None] = mapped_column(String(2000))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    resolved_at: Mapped[datetime | None]
    last_received_at: Mapped[datetime]
    receive_count: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]
    snoozed_until: Mapped[datetime | None]
    suppression: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    """Why the alert was not paged: silence, inhibition, maintenance or a failing dependency."""

    service: Mapped[Service | None] = relationship()


class AlertEvent(Base):
    """Something that happened to an alert (received, updated, acknowledged, resolved …)."""

    __tablename__ = "alert_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    at: Mapped[datetime]
    actor: Mapped[str | None] = mapped_column(String(200))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class SilenceRow(Base):
    """A silence: alerts matching every matcher between start and end are not notified."""

    __tablename__ = "alert_silences"

    id: Mapped[int] = mapped_column(primary_key=True)
    matchers: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime] = mapped_column(index=True)
    created_by: Mapped[str] = mapped_column(String(200))
    comment: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AlertGroup(Base):
    """An aggregation group: the alerts one route sends to one receiver under one group key.

    Notifications are per group, on Alertmanager's timers: the first flush ``group_wait`` after
    the group opens, then at most every ``group_interval`` when something changed, and every
    ``repeat_interval`` while unchanged and firing. ``last_firing``/``last_resolved`` are the
    alert ids of the last notification. A group closes once everything in it was notified as
    resolved; the next alert with the same key opens a new one.
    """

    __tablename__ = "alert_groups"
    __table_args__ = (
        Index(
            "uq_alert_groups_open_hash",
            "group_hash",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
        Index("ix_alert_groups_status_next", "status", "next_flush_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_hash: Mapped[str] = mapped_column(String(64))
    route_id: Mapped[str] = mapped_column(String(500))
    receiver: Mapped[str] = mapped_column(String(100))
    group_labels: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20))
    group_wait_s: Mapped[int] = mapped_column(Integer)
    group_interval_s: Mapped[int] = mapped_column(Integer)
    repeat_interval_s: Mapped[int] = mapped_column(Integer)
    next_flush_at: Mapped[datetime | None]
    last_flush_at: Mapped[datetime | None]
    last_notified_at: Mapped[datetime | None]
    last_firing: Mapped[list[int] | None] = mapped_column(JSON)
    last_resolved: Mapped[list[int]] = mapped_column(JSON, default=list)
    notify_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]


class AlertGroupMember(Base):
    """An alert in a group (an alert can be in several: one per matching route)."""

    __tablename__ = "alert_group_members"

    group_id: Mapped[int] = mapped_column(
        ForeignKey("alert_groups.id", ondelete="CASCADE"), primary_key=True
    )
    alert_id: Mapped[int] = mapped_column(
        ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    added_at: Mapped[datetime]


class MaintenanceWindow(Base):
    """A service under planned maintenance: its alerts are stored but not paged meanwhile."""

    __tablename__ = "maintenance_windows"

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), index=True
    )
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime] = mapped_column(index=True)
    reason: Mapped[str] = mapped_column(String(2000), default="")
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]

    service: Mapped[Service] = relationship()


class IntakeBatch(Base):
    """An accepted batch of inbound alerts, committed before the answer, not yet processed.

    The intake log (ADR 0009): a request validates and authenticates, writes one row and
    answers; the intake processor turns rows into alerts in id order and deletes them in the
    same transaction. A row that keeps failing is kept with ``failed_at`` set (dead letter).
    """

    __tablename__ = "alert_intake"

    id: Mapped[int] = mapped_column(primary_key=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    format: Mapped[str] = mapped_column(String(30))
    payload: Mapped[str] = mapped_column(Text)
    """The validated items as JSON text, in the sender's own format."""
    items: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    failed_at: Mapped[datetime | None]
