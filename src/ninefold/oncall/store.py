"""Queries for on-call tables. Keyword-only arguments, Session first; never commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ninefold.errors import NotFound
from ninefold.identity.models import Team, TeamMember, User
from ninefold.oncall.models import (
    EscalationPolicyRow,
    EscalationRow,
    NotificationRuleRow,
    OverrideRow,
    ScheduleRow,
)


def get_schedule(session: Session, *, name: str) -> ScheduleRow:
    """The schedule called ``name`` with its overrides, or NotFound."""
    row = session.scalars(
        select(ScheduleRow)
        .where(ScheduleRow.name == name)
        .options(selectinload(ScheduleRow.overrides))
    ).first()
    if row is None:
        raise NotFound(f"schedule {name!r} not found")
    return row


def list_schedules(session: Session) -> Sequence[ScheduleRow]:
    """Every schedule, by name, with overrides and team loaded."""
    return session.scalars(
        select(ScheduleRow)
        .order_by(ScheduleRow.name)
        .options(selectinload(ScheduleRow.overrides), selectinload(ScheduleRow.team))
    ).all()


def get_override(session: Session, *, schedule: ScheduleRow, override_id: int) -> OverrideRow:
    """One override of ``schedule``, or NotFound."""
    row = session.get(OverrideRow, override_id)
    if row is None or row.schedule_id != schedule.id:
        raise NotFound(f"override {override_id} not found on schedule {schedule.name!r}")
    return row


def get_policy(session: Session, *, name: str) -> EscalationPolicyRow:
    """The escalation policy called ``name``, or NotFound."""
    row = session.scalars(
        select(EscalationPolicyRow).where(EscalationPolicyRow.name == name)
    ).first()
    if row is None:
        raise NotFound(f"escalation policy {name!r} not found")
    return row


def list_policies(session: Session) -> Sequence[EscalationPolicyRow]:
    """Every escalation policy, by name."""
    return session.scalars(
        select(EscalationPolicyRow)
        .order_by(EscalationPolicyRow.name)
        .options(selectinload(EscalationPolicyRow.team))
    ).all()


def team_policy(session: Session, *, team_id: int) -> EscalationPolicyRow | None:
    """The first escalation policy owned by a team (its default), by name."""
    return session.scalars(
        select(EscalationPolicyRow)
        .where(EscalationPolicyRow.team_id == team_id)
        .order_by(EscalationPolicyRow.name)
    ).first()


def team_by_name(session: Session, *, name: str) -> Team:
    """The team called ``name``, or NotFound."""
    row = session.scalars(select(Team).where(Team.name == name)).first()
    if row is None:
        raise NotFound(f"team {name!r} not found")
    return row


def user_by_name(session: Session, *, name: str) -> User:
    """The user called ``name``, or NotFound."""
    row = session.scalars(select(User).where(User.name == name)).first()
    if row is None:
        raise NotFound(f"user {name!r} not found")
    return row


def user_names(session: Session) -> set[str]:
    """Every user name."""
    return set(session.scalars(select(User.name)))


def team_member_names(session: Session, *, team: str) -> list[str]:
    """Names of a team's members, in membership order (empty for an unknown team)."""
    stmt = (
        select(User.name)
        .join(TeamMember, TeamMember.user_id == User.id)
        .join(Team, Team.id == TeamMember.team_id)
        .where(Team.name == team)
        .order_by(TeamMember.id)
    )
    return list(session.scalars(stmt))


def rules_by_user(
    session: Session, *, names: Sequence[str]
) -> dict[str, list[NotificationRuleRow]]:
    """Personal notification rules of the named users, by delay then position."""
    stmt = (
        select(User.name, NotificationRuleRow)
        .join(NotificationRuleRow, NotificationRuleRow.user_id == User.id)
        .where(User.name.in_(list(names)))
        .order_by(NotificationRuleRow.delay_seconds, NotificationRuleRow.position)
    )
    out: dict[str, list[NotificationRuleRow]] = {n: [] for n in names}
    for name, rule in session.execute(stmt):
        out[name].append(rule)
    return out


def rules_of(session: Session, *, user_id: int) -> list[NotificationRuleRow]:
    """One user's rules in order."""
    return list(
        session.scalars(
            select(NotificationRuleRow)
            .where(NotificationRuleRow.user_id == user_id)
            .order_by(NotificationRuleRow.delay_seconds, NotificationRuleRow.position)
        )
    )


def open_escalation(session: Session, *, group_id: int) -> EscalationRow | None:
    """The escalation of a group that is not resolved, if any."""
    return session.scalars(
        select(EscalationRow).where(
            EscalationRow.group_id == group_id, EscalationRow.status != "resolved"
        )
    ).first()


def escalations_of_groups(session: Session, *, group_ids: Sequence[int]) -> list[EscalationRow]:
    """Unresolved escalations of the given groups."""
    if not group_ids:
        return []
    return list(
        session.scalars(
            select(EscalationRow).where(
                EscalationRow.group_id.in_(list(group_ids)), EscalationRow.status != "resolved"
            )
        )
    )


def due_escalations(session: Session, *, now: datetime, limit: int = 500) -> list[EscalationRow]:
    """Triggered or snoozed escalations whose next step is due, locked where possible."""
    stmt = (
        select(EscalationRow)
        .where(
            EscalationRow.status.in_(("triggered", "snoozed")),
            EscalationRow.next_step_at <= now,
        )
        .order_by(EscalationRow.next_step_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return list(session.scalars(stmt))


def list_escalations(
    session: Session, *, status: str | None = None, limit: int = 100
) -> Sequence[EscalationRow]:
    """Escalations, newest first."""
    stmt = select(EscalationRow).order_by(EscalationRow.id.desc()).limit(limit)
    if status is not None:
        stmt = stmt.where(EscalationRow.status == status)
    return session.scalars(stmt).all()
