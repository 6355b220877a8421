"""Queries for the status page. Keyword-only arguments, session first; nothing commits.

Besides the status-page tables, this module holds the read-only queries over the incident tables
that decide what becomes public (incidents with a published update, their published updates and
affected services), so that the whole public surface is selected in one place. It never reads
timeline entries, alerts, roles or responders.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Exists, exists, or_, select
from sqlalchemy.orm import Session, selectinload

from ninefold.errors import NotFound
from ninefold.incident.models import Incident, IncidentService, IncidentUpdate
from ninefold.statuspage.models import (
    StatusComponent,
    StatusComponentGroup,
    StatusPageRow,
)

PAGE_ID = 1


def page(session: Session) -> StatusPageRow | None:
    """The page's settings row, if the catalog defined one."""
    return session.get(StatusPageRow, PAGE_ID)


def groups(session: Session) -> list[StatusComponentGroup]:
    """Component groups in display order."""
    return list(
        session.scalars(
            select(StatusComponentGroup).order_by(
                StatusComponentGroup.position, StatusComponentGroup.id
            )
        )
    )


def components(session: Session) -> list[StatusComponent]:
    """Components in display order, with their services and group loaded."""
    return list(
        session.scalars(
            select(StatusComponent)
            .options(selectinload(StatusComponent.services), selectinload(StatusComponent.group))
            .order_by(StatusComponent.position, StatusComponent.id)
        )
    )


def component(session: Session, *, component_id: int, lock: bool = False) -> StatusComponent:
    """One component, or NotFound."""
    stmt = select(StatusComponent).where(StatusComponent.id == component_id)
    if lock:
        stmt = stmt.with_for_update()
    row = session.scalar(stmt)
    if row is None:
        raise NotFound(f"status page component {component_id} not found")
    return row


def _published() -> Exists:
    return exists().where(
        IncidentUpdate.incident_id == Incident.id, IncidentUpdate.published.is_(True)
    )


def public_incidents(session: Session, *, since: datetime) -> list[Incident]:
    """Incidents with at least one published update, not merged, unresolved or resolved since
    ``since``; newest first."""
    return list(
        session.scalars(
            select(Incident)
            .where(
                _published(),
                Incident.status != "merged",
                or_(Incident.resolved_at.is_(None), Incident.resolved_at >= since),
            )
            .order_by(Incident.started_at.desc(), Incident.id.desc())
        )
    )


def public_incident(session: Session, *, incident_id: int) -> Incident:
    """One incident with a published update (and not merged), or NotFound."""
    row = session.scalar(
        select(Incident).where(
            Incident.id == incident_id,
            Incident.status != "merged",
            _published(),
        )
    )
    if row is None:
        raise NotFound(f"incident {incident_id} not found")
    return row


def incident_service_ids(session: Session, *, incident_ids: Sequence[int]) -> dict[int, set[int]]:
    """Incident id → ids of its affected services."""
    out: dict[int, set[int]] = {i: set() for i in incident_ids}
    if not incident_ids:
        return out
    rows = session.execute(
        select(IncidentService.incident_id, IncidentService.service_id).where(
            IncidentService.incident_id.in_(list(incident_ids))
        )
    )
    for incident_id, service_id in rows:
        out[incident_id].add(service_id)
    return out


def published_updates(
    session: Session, *, incident_ids: Sequence[int]
) -> dict[int, list[IncidentUpdate]]:
    """Incident id → its published updates, oldest first."""
    out: dict[int, list[IncidentUpdate]] = {i: [] for i in incident_ids}
    if not incident_ids:
        return out
    rows = session.scalars(
        select(IncidentUpdate)
        .where(
            IncidentUpdate.incident_id.in_(list(incident_ids)),
            IncidentUpdate.published.is_(True),
        )
        .order_by(IncidentUpdate.created_at, IncidentUpdate.id)
    )
    for row in rows:
        out[row.incident_id].append(row)
    return out
