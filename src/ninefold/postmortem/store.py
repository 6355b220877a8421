"""Queries for postmortems, revisions, action items, policy checks and repeats.

Keyword-only arguments, session first; nothing commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ninefold.errors import NotFound
from ninefold.postmortem.models import (
    ActionItem,
    IncidentRepeat,
    Postmortem,
    PostmortemCheck,
    PostmortemRevision,
)
from ninefold.postmortem.states import OPEN_ITEM_STATUSES


def get_postmortem(session: Session, *, postmortem_id: int, lock: bool = False) -> Postmortem:
    """One postmortem, or NotFound."""
    stmt = select(Postmortem).where(Postmortem.id == postmortem_id)
    if lock:
        stmt = stmt.with_for_update()
    row = session.scalars(stmt).first()
    if row is None:
        raise NotFound(f"postmortem {postmortem_id} does not exist")
    return row


def postmortem_of(session: Session, *, incident_id: int) -> Postmortem | None:
    """The postmortem of an incident, if it has one."""
    return session.scalars(select(Postmortem).where(Postmortem.incident_id == incident_id)).first()


def list_postmortems(
    session: Session, *, status: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[Postmortem], int]:
    """Postmortems, newest first."""
    stmt = select(Postmortem)
    if status is not None:
        stmt = stmt.where(Postmortem.status == status)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(Postmortem.created_at.desc(), Postmortem.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows), int(total)


def revisions(session: Session, *, postmortem_id: int) -> list[PostmortemRevision]:
    """Recorded edits, oldest first."""
    return list(
        session.scalars(
            select(PostmortemRevision)
            .where(PostmortemRevision.postmortem_id == postmortem_id)
            .order_by(PostmortemRevision.at, PostmortemRevision.id)
        )
    )


def get_check(session: Session, *, incident_id: int) -> PostmortemCheck | None:
    """The policy decision recorded for an incident."""
    return session.get(PostmortemCheck, incident_id)


def resolved_unchecked(session: Session, *, since: datetime) -> list[int]:
    """Ids of incidents resolved since ``since`` whose current resolution was not decided yet."""
    from ninefold.incident.models import Incident

    checked = select(PostmortemCheck.incident_id).where(
        PostmortemCheck.incident_id == Incident.id,
        PostmortemCheck.resolved_at == Incident.resolved_at,
    )
    return list(
        session.scalars(
            select(Incident.id)
            .where(Incident.status == "resolved", Incident.resolved_at >= since)
            .where(~checked.exists())
            .order_by(Incident.id)
        )
    )


def get_item(session: Session, *, item_id: int, lock: bool = False) -> ActionItem:
    """One action item, or NotFound."""
    stmt = select(ActionItem).where(ActionItem.id == item_id)
    if lock:
        stmt = stmt.with_for_update()
    row = session.scalars(stmt).first()
    if row is None:
        raise NotFound(f"action item {item_id} does not exist")
    return row


def list_items(
    session: Session,
    *,
    status: Sequence[str] | None = None,
    owner_id: int | None = None,
    team_id: int | None = None,
    incident_ids: Sequence[int] | None = None,
    postmortem_id: int | None = None,
    overdue_on: date | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[ActionItem], int]:
    """Action items by due date (undated last), then id."""
    stmt = select(ActionItem)
    if status:
        stmt = stmt.where(ActionItem.status.in_(list(status)))
    if owner_id is not None:
        stmt = stmt.where(ActionItem.owner_id == owner_id)
    if team_id is not None:
        stmt = stmt.where(ActionItem.team_id == team_id)
    if incident_ids is not None:
        stmt = stmt.where(ActionItem.incident_id.in_(list(incident_ids)))
    if postmortem_id is not None:
        stmt = stmt.where(ActionItem.postmortem_id == postmortem_id)
    if overdue_on is not None:
        stmt = stmt.where(
            ActionItem.status.in_(OPEN_ITEM_STATUSES), ActionItem.due_date < overdue_on
        )
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(ActionItem.due_date.is_(None), ActionItem.due_date, ActionItem.id)
        .limit(limit)
        .offset(offset)
    )
    return list(rows), int(total)


def overdue_unreminded(session: Session, *, today: date, limit: int = 500) -> list[ActionItem]:
    """Open items due before ``today`` not yet reminded about today."""
    return list(
        session.scalars(
            select(ActionItem)
            .where(ActionItem.status.in_(OPEN_ITEM_STATUSES), ActionItem.due_date < today)
            .where((ActionItem.last_reminded_on.is_(None)) | (ActionItem.last_reminded_on < today))
            .order_by(ActionItem.id)
            .limit(limit)
        )
    )


def items_due_between(
    session: Session, *, start: date, end: date, team_id: int | None
) -> list[ActionItem]:
    """Items due in [start, end] (optionally of one team)."""
    stmt = select(ActionItem).where(ActionItem.due_date >= start, ActionItem.due_date <= end)
    if team_id is not None:
        stmt = stmt.where(ActionItem.team_id == team_id)
    return list(session.scalars(stmt))


def repeats_of(session: Session, *, incident_id: int) -> list[IncidentRepeat]:
    """Earlier incidents this one may repeat, best match first."""
    return list(
        session.scalars(
            select(IncidentRepeat)
            .where(IncidentRepeat.incident_id == incident_id)
            .order_by(IncidentRepeat.score.desc(), IncidentRepeat.earlier_id)
        )
    )


def repeat(session: Session, *, incident_id: int, earlier_id: int) -> IncidentRepeat | None:
    """One repeat link."""
    return session.get(IncidentRepeat, (incident_id, earlier_id))
