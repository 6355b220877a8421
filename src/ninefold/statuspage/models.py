"""Status page tables: the page's settings, component groups, components and their services.

Components, groups and the page's title are applied from the ``status_page`` key of catalog YAML
(``managed`` rows); a component's manual state override is runtime data set through the admin API
and survives re-applies.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ninefold.catalog.models import Service
from ninefold.db.base import Base


class StatusPageRow(Base):
    """The page's title and description (one row, id 1)."""

    __tablename__ = "status_pages"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(2000), default="")
    show_maintenance_reason: Mapped[bool] = mapped_column(default=False)
    """Whether maintenance windows' ``reason`` text is shown publicly (off: a generic text)."""
    managed: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class StatusComponentGroup(Base):
    """A heading that gathers components on the page."""

    __tablename__ = "status_component_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    managed: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class StatusComponent(Base):
    """A public component covering one or more catalog services.

    ``override_status`` (a component state) wins over the derived state while set.
    """

    __tablename__ = "status_components"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(String(2000), default="")
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("status_component_groups.id", ondelete="SET NULL"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    override_status: Mapped[str | None] = mapped_column(String(30))
    override_set_at: Mapped[datetime | None]
    override_set_by: Mapped[str | None] = mapped_column(String(200))
    managed: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    group: Mapped[StatusComponentGroup | None] = relationship()
    services: Mapped[list[Service]] = relationship(
        secondary="status_component_services", order_by="Service.name"
    )


class StatusComponentService(Base):
    """A service covered by a component (many-to-many)."""

    __tablename__ = "status_component_services"

    component_id: Mapped[int] = mapped_column(
        ForeignKey("status_components.id", ondelete="CASCADE"), primary_key=True
    )
    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), primary_key=True, index=True
    )
