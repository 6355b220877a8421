"""Postmortem tables: postmortems with their sections and revisions, action items, the policy
decision taken when an incident resolved, and possible repeats between incidents."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ninefold.db.base import Base
from ninefold.identity.models import Team, User


class Postmortem(Base):
    """One postmortem per incident: draft → in_review → published.

    ``sections`` is the ordered list of ``{"key", "heading", "body"}`` rendered from the template;
    ``facts`` keeps the numbers the draft was generated from (budgets, counts, response times).
    """

    __tablename__ = "postmortems"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), unique=True
    )
    title: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(20), index=True)
    reason: Mapped[str] = mapped_column(String(500))
    sections: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    facts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    published_at: Mapped[datetime | None]


class PostmortemRevision(Base):
    """An edit of one section (or a state change, section ``status``): who, when, before, after."""

    __tablename__ = "postmortem_revisions"
    __table_args__ = (Index("ix_postmortem_revisions_pm_at", "postmortem_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    postmortem_id: Mapped[int] = mapped_column(ForeignKey("postmortems.id", ondelete="CASCADE"))
    section: Mapped[str] = mapped_column(String(100))
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime]
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)


class PostmortemCheck(Base):
    """The policy decision for an incident's resolution (so the engine decides once)."""

    __tablename__ = "postmortem_checks"

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    resolved_at: Mapped[datetime]
    required: Mapped[bool] = mapped_column(default=False)
    reason: Mapped[str | None] = mapped_column(String(500))
    consumed: Mapped[dict[str, Any]] = mapped_column(default=dict)
    checked_at: Mapped[datetime]


class ActionItem(Base):
    """A follow-up with an owner, due date, priority and status, from an incident or postmortem.

    ``closed_at`` is when it became done or won't-do (cleared when reopened); ``team_id`` is the
    team whose closure rate it counts for; ``last_reminded_on`` the UTC day of the last overdue
    reminder.
    """

    __tablename__ = "action_items"
    __table_args__ = (
        Index("ix_action_items_status_due", "status", "due_date"),
        Index("ix_action_items_team_due", "team_id", "due_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(String(10000), default="")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    due_date: Mapped[date | None]
    priority: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20))
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), index=True
    )
    postmortem_id: Mapped[int | None] = mapped_column(
        ForeignKey("postmortems.id", ondelete="SET NULL"), index=True
    )
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    last_reminded_on: Mapped[date | None]

    owner: Mapped[User | None] = relationship()
    team: Mapped[Team | None] = relationship()


class IncidentRepeat(Base):
    """``incident_id`` is a possible repeat of the earlier ``earlier_id`` (see similarity.py)."""

    __tablename__ = "incident_repeats"

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    earlier_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    reason: Mapped[str] = mapped_column(String(20))
    score: Mapped[float] = mapped_column(Float)
    detected_at: Mapped[datetime]
