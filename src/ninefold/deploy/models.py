"""Deployment table: one row per deploy event of a service."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ninefold.catalog.models import Service
from ninefold.db.base import Base

OUTCOMES = ("success", "failure", "rollback")
"""How a deploy ended."""


class Deployment(Base):
    """A deploy of ``version`` (``commit``) of a service at ``deployed_at``."""

    __tablename__ = "deployments"
    __table_args__ = (Index("ix_deployments_service_deployed", "service_id", "deployed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    version: Mapped[str] = mapped_column(String(200))
    commit: Mapped[str | None] = mapped_column(String(100))
    committed_at: Mapped[datetime | None]
    """When the deployed commit was made: lead time for changes is deployed_at - committed_at."""
    deployed_at: Mapped[datetime] = mapped_column(index=True)
    outcome: Mapped[str] = mapped_column(String(20))
    environment: Mapped[str | None] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(2000))
    url: Mapped[str | None] = mapped_column(String(2000))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]

    service: Mapped[Service] = relationship()
