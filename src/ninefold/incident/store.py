"""Queries for the incident tables. Keyword-only arguments, session first; nothing commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, load_only

from ninefold.errors import NotFound
from ninefold.incident.models import (
    Incident,
    IncidentAlert,
    IncidentResponder,
    IncidentRoleAssignment,
    IncidentRoleRow,
    IncidentService,
    IncidentSeverityRow,
    IncidentUpdate,
    TimelineEntry,
)

OPEN_STATUSES = ("open", "acknowledged", "mitigated")


def get_incident(session: Session, *, incident_id: int, lock: bool = False) -> Incident:
    """One incident, or NotFound."""
    stmt = select(Incident).where(Incident.id == incident_id)
    if lock:
        stmt = stmt.with_for_update()
    row = session.scalars(stmt).first()
    if row is None:
        raise NotFound(f"incident {incident_id} does not exist")
    return row


def list_incidents(
    session: Session,
    *,
    status: str | None = None,
    severity: str | None = None,
    service_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[Incident], int]:
    """Incidents, newest first; ``status`` ``active`` means open, acknowledged or mitigated."""
    stmt = select(Incident)
    if status == "active":
        stmt = stmt.where(Incident.status.in_(OPEN_STATUSES))
    elif status is not None:
        stmt = stmt.where(Incident.status == status)
    if severity is not None:
        stmt = stmt.where(Incident.severity == severity)
    if service_id is not None:
        stmt = stmt.where(
            Incident.id.in_(
                select(IncidentService.incident_id).where(IncidentService.service_id == service_id)
            )
        )
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(Incident.declared_at.desc(), Incident.id.desc()).limit(limit).offset(offset)
    )
    return list(rows), int(total)


def open_incidents_of_service(session: Session, *, service_id: int) -> list[Incident]:
    """Incidents not yet resolved that list ``service_id`` as affected."""
    return list(
        session.scalars(
            select(Incident)
            .join(IncidentService, IncidentService.incident_id == Incident.id)
            .where(IncidentService.service_id == service_id)
            .where(Incident.status.in_(OPEN_STATUSES))
            .order_by(Incident.id)
        )
    )


def active_incidents(session: Session, *, heads_only: bool = False) -> list[Incident]:
    """Every incident not yet resolved (nor merged); ``heads_only`` loads id, title, status and
    severity alone (lists), the rest loads on access."""
    stmt = select(Incident).where(Incident.status.in_(OPEN_STATUSES)).order_by(Incident.id)
    if heads_only:
        stmt = stmt.options(
            load_only(Incident.id, Incident.title, Incident.status, Incident.severity)
        )
    return list(session.scalars(stmt))


def service_ids(session: Session, *, incident_id: int) -> list[int]:
    """Ids of the affected services."""
    return list(
        session.scalars(
            select(IncidentService.service_id).where(IncidentService.incident_id == incident_id)
        )
    )


def set_services(
    session: Session, *, incident_id: int, ids: Sequence[int], now: datetime
) -> tuple[list[int], list[int]]:
    """Make the affected services exactly ``ids``; returns (added, removed)."""
    current = set(service_ids(session, incident_id=incident_id))
    wanted = set(ids)
    added = sorted(wanted - current)
    removed = sorted(current - wanted)
    for sid in added:
        session.add(IncidentService(incident_id=incident_id, service_id=sid, added_at=now))
    if removed:
        session.execute(
            delete(IncidentService)
            .where(IncidentService.incident_id == incident_id)
            .where(IncidentService.service_id.in_(removed))
        )
    session.flush()
    session.expire_all()
    return added, removed


def alert_links(session: Session, *, incident_id: int) -> list[IncidentAlert]:
    """The alerts attached to an incident, oldest attachment first."""
    return list(
        session.scalars(
            select(IncidentAlert)
            .where(IncidentAlert.incident_id == incident_id)
            .order_by(IncidentAlert.attached_at, IncidentAlert.alert_id)
        )
    )


def incident_of_alert(session: Session, *, alert_id: int) -> IncidentAlert | None:
    """The attachment of an alert, if it is attached to an incident."""
    return session.scalars(select(IncidentAlert).where(IncidentAlert.alert_id == alert_id)).first()


def move_children(session: Session, *, source_id: int, target_id: int) -> None:
    """Move attached alerts and timeline entries of ``source_id`` to ``target_id``.

    Timeline entries whose ``ref`` the target already has stay behind (recorded once per incident).
    """
    session.execute(
        update(IncidentAlert)
        .where(IncidentAlert.incident_id == source_id)
        .values(incident_id=target_id)
    )
    taken = select(TimelineEntry.ref).where(
        TimelineEntry.incident_id == target_id, TimelineEntry.ref.is_not(None)
    )
    session.execute(
        update(TimelineEntry)
        .where(TimelineEntry.incident_id == source_id)
        .where((TimelineEntry.ref.is_(None)) | (TimelineEntry.ref.not_in(taken)))
        .values(incident_id=target_id)
        .execution_options(synchronize_session=False)
    )
    session.expire_all()


def roles_of(session: Session, *, incident_id: int) -> list[IncidentRoleAssignment]:
    """Current role holders."""
    return list(
        session.scalars(
            select(IncidentRoleAssignment)
            .where(IncidentRoleAssignment.incident_id == incident_id)
            .order_by(IncidentRoleAssignment.role)
        )
    )


def role_of(session: Session, *, incident_id: int, role: str) -> IncidentRoleAssignment | None:
    """Who holds ``role`` now, if anyone."""
    return session.scalars(
        select(IncidentRoleAssignment)
        .where(IncidentRoleAssignment.incident_id == incident_id)
        .where(IncidentRoleAssignment.role == role)
    ).first()


def responders_of(session: Session, *, incident_id: int) -> list[IncidentResponder]:
    """People working the incident, in the order they joined."""
    return list(
        session.scalars(
            select(IncidentResponder)
            .where(IncidentResponder.incident_id == incident_id)
            .order_by(IncidentResponder.id)
        )
    )


def responder(session: Session, *, incident_id: int, user_id: int) -> IncidentResponder | None:
    """One responder row."""
    return session.scalars(
        select(IncidentResponder)
        .where(IncidentResponder.incident_id == incident_id)
        .where(IncidentResponder.user_id == user_id)
    ).first()


def has_ref(session: Session, *, incident_id: int, ref: str) -> bool:
    """Whether the timeline already holds the automatic entry ``ref``."""
    found = session.scalar(
        select(TimelineEntry.id)
        .where(TimelineEntry.incident_id == incident_id)
        .where(TimelineEntry.ref == ref)
    )
    return found is not None


def add_entry(
    session: Session,
    *,
    incident_id: int,
    kind: str,
    at: datetime,
    message: str,
    now: datetime,
    actor: str | None = None,
    details: dict[str, Any] | None = None,
    ref: str | None = None,
    key_moment: bool = False,
) -> TimelineEntry | None:
    """Append a timeline entry; with ``ref``, only when the incident does not have it yet."""
    if ref is not None and has_ref(session, incident_id=incident_id, ref=ref):
        return None
    entry = TimelineEntry(
        incident_id=incident_id,
        kind=kind,
        at=at,
        actor=actor,
        message=message,
        details=details or {},
        ref=ref,
        key_moment=key_moment,
        created_at=now,
    )
    session.add(entry)
    session.flush()
    return entry


def timeline(
    session: Session, *, incident_id: int, key_moments_only: bool = False
) -> list[TimelineEntry]:
    """The timeline in time order."""
    stmt = select(TimelineEntry).where(TimelineEntry.incident_id == incident_id)
    if key_moments_only:
        stmt = stmt.where(TimelineEntry.key_moment.is_(True))
    return list(session.scalars(stmt.order_by(TimelineEntry.at, TimelineEntry.id)))


def get_entry(session: Session, *, incident_id: int, entry_id: int) -> TimelineEntry:
    """One timeline entry of an incident, or NotFound."""
    row = session.get(TimelineEntry, entry_id)
    if row is None or row.incident_id != incident_id:
        raise NotFound(f"incident {incident_id} has no timeline entry {entry_id}")
    return row


def updates_of(session: Session, *, incident_id: int) -> list[IncidentUpdate]:
    """Stakeholder updates, oldest first."""
    return list(
        session.scalars(
            select(IncidentUpdate)
            .where(IncidentUpdate.incident_id == incident_id)
            .order_by(IncidentUpdate.created_at, IncidentUpdate.id)
        )
    )


def severities(session: Session) -> list[IncidentSeverityRow]:
    """Severities defined in the database, worst first."""
    return list(session.scalars(select(IncidentSeverityRow).order_by(IncidentSeverityRow.rank)))


def roles(session: Session) -> list[IncidentRoleRow]:
    """Role definitions in the database, by name."""
    return list(session.scalars(select(IncidentRoleRow).order_by(IncidentRoleRow.name)))
