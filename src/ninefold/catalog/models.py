"""Catalog tables: services and their dependencies (teams live in identity)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ninefold.db.base import Base
from ninefold.identity.models import Team


class Service(Base):
    """A service in the catalog."""

    __tablename__ = "services"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    tier: Mapped[int] = mapped_column(default=2)
    owner_team_id: Mapped[int] = mapped_column(
        ForeignKey("teams.id", ondelete="RESTRICT"), index=True
    )
    description: Mapped[str | None] = mapped_column(String(4000))
    lifecycle: Mapped[str | None] = mapped_column(String(50))
    system: Mapped[str | None] = mapped_column(String(100))
    runbook_url: Mapped[str | None] = mapped_column(String(2000))
    dashboard_url: Mapped[str | None] = mapped_column(String(2000))
    repository_url: Mapped[str | None] = mapped_column(String(2000))
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    gate_min_budget: Mapped[float | None] = mapped_column(Float)
    gate_block_on_no_data: Mapped[bool] = mapped_column(default=False)
    managed: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    owner: Mapped[Team] = relationship()
    dependencies: Mapped[list[ServiceDependency]] = relationship(
        foreign_keys="ServiceDependency.service_id",
        cascade="all, delete-orphan",
        order_by="ServiceDependency.depends_on_id",
    )


class ServiceDependency(Base):
    """``service`` depends on ``depends_on``."""

    __tablename__ = "service_dependencies"

    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), primary_key=True
    )
    depends_on_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), primary_key=True, index=True
    )

    depends_on: Mapped[Service] = relationship(foreign_keys=[depends_on_id])
