"""Outbox tables: notification channels and the queued notifications (the transactional outbox)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ninefold.db.base import Base

CHANNEL_KINDS = ("webhook", "slack", "teams", "mattermost", "email")
"""Channel kinds: four webhook dialects and email."""

OUTBOX_STATUSES = ("pending", "sending", "sent", "dead")
"""Outbox item states: ``pending`` → ``sending`` (claimed, leased) → ``sent`` or back, or ``dead``."""


class NotificationChannel(Base):
    """Where notifications go: a webhook URL (in one of four formats) or an email address.

    ``secret`` is the HMAC key that signs generic webhooks. It is stored as given for now; issue 7
    will encrypt it at rest. The API never returns it.
    """

    __tablename__ = "notification_channels"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    target: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str | None] = mapped_column(String(500))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    managed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime]


class OutboxItem(Base):
    """One notification to one channel, with its delivery state.

    While ``sending``, ``next_attempt_at`` is the claim's lease expiry and ``lease_id`` identifies
    the claim: a worker that crashed leaves the row to be claimed again once the lease expires, and
    a result recorded under a lease that is no longer current is ignored.
    """

    __tablename__ = "notification_outbox"
    __table_args__ = (Index("ix_notification_outbox_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(300), unique=True)
    channel_id: Mapped[int] = mapped_column(
        ForeignKey("notification_channels.id", ondelete="CASCADE"), index=True
    )
    notification: Mapped[dict[str, Any]] = mapped_column()
    status: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    lease_id: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(String(1000))
    last_status_code: Mapped[int | None]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]

    channel: Mapped[NotificationChannel] = relationship()
