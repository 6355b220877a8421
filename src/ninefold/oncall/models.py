"""On-call tables: schedules (layers as documents), overrides, escalation policies, personal
notification rules, and the running escalations of alert groups."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ninefold.db.base import Base
from ninefold.identity.models import Team, User


class ScheduleRow(Base):
    """A schedule: ordered layers (rotations, stored as their YAML/JSON document) and overrides."""

    __tablename__ = "schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str | None] = mapped_column(String(2000))
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    layers: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    managed: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    team: Mapped[Team | None] = relationship()
    overrides: Mapped[list[OverrideRow]] = relationship(
        back_populates="schedule", cascade="all, delete-orphan", order_by="OverrideRow.id"
    )


class OverrideRow(Base):
    """``user`` takes the schedule from ``starts_at`` to ``ends_at`` (later overrides win)."""

    __tablename__ = "schedule_overrides"

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(
        ForeignKey("schedules.id", ondelete="CASCADE"), index=True
    )
    user_name: Mapped[str] = mapped_column(String(100))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime] = mapped_column(index=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]

    schedule: Mapped[ScheduleRow] = relationship(back_populates="overrides")


class EscalationPolicyRow(Base):
    """Ordered levels, each ``{delay_minutes, targets: [{type, name}]}``, run ``repeat`` more times."""

    __tablename__ = "escalation_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str | None] = mapped_column(String(2000))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    levels: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    repeat: Mapped[int] = mapped_column(Integer, default=0)
    managed: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    team: Mapped[Team | None] = relationship()


class NotificationRuleRow(Base):
    """A personal rule: notify ``user`` through ``channel`` ``delay_seconds`` after being paged."""

    __tablename__ = "notification_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    delay_seconds: Mapped[int] = mapped_column(Integer, default=0)
    channel: Mapped[str] = mapped_column(String(100))
    managed: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime]

    user: Mapped[User] = relationship()


class EscalationRow(Base):
    """The escalation of one alert group through a policy.

    ``status``: ``triggered`` (paging and escalating), ``acknowledged``, ``snoozed`` (until
    ``next_step_at``, then paged again), ``resolved``. ``level``/``loop`` say where it is,
    ``level_started_at`` when that level was paged, ``paged`` the users that level paged.
    """

    __tablename__ = "escalations"
    __table_args__ = (
        Index(
            "uq_escalations_open_group",
            "group_id",
            unique=True,
            sqlite_where=text("status <> 'resolved'"),
            postgresql_where=text("status <> 'resolved'"),
        ),
        Index("ix_escalations_status_next", "status", "next_step_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("alert_groups.id", ondelete="CASCADE"))
    policy_id: Mapped[int | None] = mapped_column(
        ForeignKey("escalation_policies.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(20))
    level: Mapped[int] = mapped_column(Integer, default=0)
    loop: Mapped[int] = mapped_column(Integer, default=0)
    level_started_at: Mapped[datetime]
    next_step_at: Mapped[datetime | None]
    paged: Mapped[list[str]] = mapped_column(JSON, default=list)
    assignee: Mapped[str | None] = mapped_column(String(100))
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    resolved_at: Mapped[datetime | None]
    created_at: Mapped[datetime]

    policy: Mapped[EscalationPolicyRow | None] = relationship()
