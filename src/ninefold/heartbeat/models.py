"""Heartbeat monitor table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ninefold.catalog.models import Service
from ninefold.db.base import Base


class HeartbeatMonitor(Base):
    """A job that promises to ping every ``interval_seconds``; late by more than the grace: alert.

    ``deadline_at`` is (last beat, or creation) + interval + grace, kept in the row so the
    engine job finds overdue monitors with one indexed query. ``status`` is ``new`` (never
    pinged), ``up`` or ``down`` (an alert is firing for it).
    """

    __tablename__ = "heartbeat_monitors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    service_id: Mapped[int | None] = mapped_column(
        ForeignKey("services.id", ondelete="SET NULL"), index=True
    )
    interval_seconds: Mapped[int] = mapped_column(Integer)
    grace_seconds: Mapped[int] = mapped_column(Integer)
    severity: Mapped[str] = mapped_column(String(20), default="critical")
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    key_prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(10), default="new")
    last_beat_at: Mapped[datetime | None]
    deadline_at: Mapped[datetime] = mapped_column(index=True)
    beat_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    service: Mapped[Service | None] = relationship()
