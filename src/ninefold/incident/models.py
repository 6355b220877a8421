"""Incident tables: incidents, their services, alerts, roles, responders, timeline and public
updates, and the severity and role definitions applied from catalog YAML.

Later domains build on these: the status page reads ``public_status`` and ``incident_updates``
(only rows with ``published``), postmortems read the named timestamps and the timeline's
``key_moment`` entries, action items point at ``incidents.id``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ninefold.alert.models import Alert
from ninefold.catalog.models import Service
from ninefold.db.base import Base
from ninefold.identity.models import User


class IncidentSeverityRow(Base):
    """A severity level (``SEV1`` …); ``rank`` 1 is the worst. Applied from catalog YAML."""

    __tablename__ = "incident_severities"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    rank: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(2000), default="")
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Notification channels stakeholder updates go to when the request names none."""
    managed: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class IncidentRoleRow(Base):
    """A custom incident role (or a re-described built-in one), applied from catalog YAML."""

    __tablename__ = "incident_roles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    description: Mapped[str] = mapped_column(String(2000), default="")
    managed: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Incident(Base):
    """An incident with its named lifecycle timestamps.

    ``status`` is derived by ``lifecycle.py`` from the timestamps (``open``, ``acknowledged``,
    ``mitigated``, ``resolved``) or is ``merged`` once folded into ``merged_into_id``.
    ``public_status`` (investigating, identified, monitoring, resolved) is what stakeholders see.
    """

    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_status_declared", "status", "declared_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(String(10000), default="")
    severity: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20))
    public_status: Mapped[str] = mapped_column(String(20))
    links: Mapped[dict[str, Any]] = mapped_column(default=dict)
    started_at: Mapped[datetime]
    detected_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    mitigated_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    declared_at: Mapped[datetime]
    declared_by: Mapped[str] = mapped_column(String(200))
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), index=True
    )
    updated_at: Mapped[datetime]

    services: Mapped[list[Service]] = relationship(
        secondary="incident_services", order_by="Service.name"
    )


class IncidentService(Base):
    """A service affected by an incident (many-to-many)."""

    __tablename__ = "incident_services"

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    added_at: Mapped[datetime]


class IncidentAlert(Base):
    """An alert attached to an incident; an alert belongs to at most one incident."""

    __tablename__ = "incident_alerts"

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    alert_id: Mapped[int] = mapped_column(
        ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True, unique=True
    )
    attached_at: Mapped[datetime]
    attached_by: Mapped[str] = mapped_column(String(200))

    alert: Mapped[Alert] = relationship()


class IncidentRoleAssignment(Base):
    """Who holds a role on an incident now (one person per role; history is in the timeline)."""

    __tablename__ = "incident_role_assignments"
    __table_args__ = (UniqueConstraint("incident_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(50))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    assigned_at: Mapped[datetime]
    assigned_by: Mapped[str] = mapped_column(String(200))

    user: Mapped[User] = relationship()


class IncidentResponder(Base):
    """A person working the incident; ``source`` says how they joined (manual, role, schedule …)."""

    __tablename__ = "incident_responders"
    __table_args__ = (UniqueConstraint("incident_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(30))
    source_name: Mapped[str | None] = mapped_column(String(100))
    added_at: Mapped[datetime]
    added_by: Mapped[str] = mapped_column(String(200))
    paged_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class TimelineEntry(Base):
    """Something that happened during an incident; internal (never shown on the status page).

    ``ref`` names the source of automatic entries (``alert:12``, ``deploy:4`` …) so that each is
    recorded once per incident; manual notes have none.
    """

    __tablename__ = "incident_timeline"
    __table_args__ = (
        UniqueConstraint("incident_id", "ref"),
        Index("ix_incident_timeline_incident_at", "incident_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))
    at: Mapped[datetime]
    actor: Mapped[str | None] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(String(10000))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    ref: Mapped[str | None] = mapped_column(String(100))
    key_moment: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]


class IncidentUpdate(Base):
    """A stakeholder update: a public status and a message, sent to ``channels``.

    ``published`` updates are the ones a status page may show.
    """

    __tablename__ = "incident_updates"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    public_status: Mapped[str] = mapped_column(String(20))
    message: Mapped[str] = mapped_column(String(10000))
    published: Mapped[bool] = mapped_column(default=True)
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
