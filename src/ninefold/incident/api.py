"""Incidents API: declare (also from an alert), change, lifecycle, alerts, merge, roles,
responders, timeline and stakeholder updates. Reading needs a viewer token, writing a responder."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from sqlalchemy.orm import Session

from ninefold.deps import ClockDep, Responder, SessionDep, Viewer
from ninefold.incident import flows, store
from ninefold.incident.catalog import BUILTIN_ROLES
from ninefold.incident.models import Incident, TimelineEntry
from ninefold.incident.schemas import (
    ActionBody,
    AlertIds,
    AlertRef,
    EntryPatch,
    IncidentCreate,
    IncidentFromAlert,
    IncidentPage,
    IncidentPatch,
    IncidentRead,
    MergeBody,
    NoteCreate,
    ResponderAdd,
    ResponderRead,
    RoleAssign,
    RoleDefRead,
    RoleRead,
    SeverityRead,
    TimelineEntryRead,
    TimestampsPatch,
    UpdateCreate,
    UpdateRead,
)

router = APIRouter(tags=["incidents"])


def incident_read(session: Session, row: Incident, *, full: bool = True) -> IncidentRead:
    """The API view of an incident (``full`` adds alerts, roles, responders and updates)."""
    services = flows.services_named(session, store.service_ids(session, incident_id=row.id))
    read = IncidentRead(
        id=row.id,
        title=row.title,
        summary=row.summary,
        severity=row.severity,
        status=row.status,
        public_status=row.public_status,
        links=row.links,
        started_at=row.started_at,
        detected_at=row.detected_at,
        acknowledged_at=row.acknowledged_at,
        mitigated_at=row.mitigated_at,
        resolved_at=row.resolved_at,
        declared_at=row.declared_at,
        declared_by=row.declared_by,
        merged_into=row.merged_into_id,
        updated_at=row.updated_at,
        services=services,
    )
    if not full:
        return read
    read.alerts = [
        AlertRef(
            id=link.alert.id,
            summary=link.alert.summary,
            status=link.alert.status,
            source=link.alert.source,
            service=link.alert.service.name if link.alert.service else None,
            starts_at=link.alert.starts_at,
            attached_at=link.attached_at,
            attached_by=link.attached_by,
        )
        for link in store.alert_links(session, incident_id=row.id)
    ]
    read.roles = [
        RoleRead(
            role=r.role, user=r.user.name, assigned_at=r.assigned_at, assigned_by=r.assigned_by
        )
        for r in store.roles_of(session, incident_id=row.id)
    ]
    read.responders = [
        ResponderRead(
            user=p.user.name,
            source=p.source,
            source_name=p.source_name,
            added_at=p.added_at,
            paged_at=p.paged_at,
        )
        for p in store.responders_of(session, incident_id=row.id)
    ]
    read.updates = [update_read(u) for u in store.updates_of(session, incident_id=row.id)]
    return read


def update_read(row: object) -> UpdateRead:
    """The API view of a stakeholder update."""
    return UpdateRead.model_validate(row, from_attributes=True)


def entry_read(row: TimelineEntry) -> TimelineEntryRead:
    """The API view of a timeline entry."""
    return TimelineEntryRead.model_validate(row, from_attributes=True)


def _get(session: Session, incident_id: int, *, lock: bool = False) -> Incident:
    return store.get_incident(session, incident_id=incident_id, lock=lock)


@router.get("/incident-severities")
def list_severities(session: SessionDep, _: Viewer) -> list[SeverityRead]:
    """Severities in force (from catalog YAML, else SEV1–SEV4), worst first."""
    return [
        SeverityRead(name=d.name, rank=d.rank, description=d.description, channels=list(d.channels))
        for d in flows.severity_defs(session)
    ]


@router.get("/incident-roles")
def list_roles(session: SessionDep, _: Viewer) -> list[RoleDefRead]:
    """Built-in and custom incident roles."""
    builtin = {r.name for r in BUILTIN_ROLES}
    return [
        RoleDefRead(name=d.name, description=d.description, builtin=d.name in builtin)
        for d in flows.role_defs(session)
    ]


@router.post("/incidents", status_code=status.HTTP_201_CREATED)
def declare(
    body: IncidentCreate, session: SessionDep, clock: ClockDep, who: Responder
) -> IncidentRead:
    """Declare an incident (optionally from alerts)."""
    row = flows.declare(
        session,
        title=body.title,
        severity=body.severity,
        services=body.services,
        summary=body.summary,
        alert_ids=body.alert_ids,
        actor=who.name,
        now=clock.now(),
        started_at=body.started_at,
        detected_at=body.detected_at,
        links=body.links,
    )
    return incident_read(session, row)


@router.post("/alerts/{alert_id}/incident", status_code=status.HTTP_201_CREATED)
def declare_from_alert(
    alert_id: int,
    session: SessionDep,
    clock: ClockDep,
    who: Responder,
    body: IncidentFromAlert | None = None,
) -> IncidentRead:
    """Declare an incident from an alert."""
    body = body or IncidentFromAlert()
    row = flows.declare_from_alert(
        session,
        alert_id=alert_id,
        actor=who.name,
        now=clock.now(),
        title=body.title,
        severity=body.severity,
        summary=body.summary,
    )
    return incident_read(session, row)


@router.get("/incidents")
def list_incidents(
    session: SessionDep,
    _: Viewer,
    status_: Annotated[
        Literal["active", "open", "acknowledged", "mitigated", "resolved", "merged"] | None,
        Query(alias="status"),
    ] = None,
    severity: str | None = None,
    service: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> IncidentPage:
    """Incidents, newest first; ``status=active`` is everything not resolved."""
    service_id = None if service is None else flows.service_id(session, service)
    rows, total = store.list_incidents(
        session,
        status=status_,
        severity=severity,
        service_id=service_id,
        limit=limit,
        offset=offset,
    )
    return IncidentPage(items=[incident_read(session, r, full=False) for r in rows], total=total)


@router.get("/incidents/{incident_id}")
def get_incident(incident_id: int, session: SessionDep, _: Viewer) -> IncidentRead:
    """One incident with alerts, roles, responders and updates."""
    return incident_read(session, _get(session, incident_id))


@router.patch("/incidents/{incident_id}")
def patch_incident(
    incident_id: int, body: IncidentPatch, session: SessionDep, clock: ClockDep, who: Responder
) -> IncidentRead:
    """Change title, summary, severity, services, links or public status."""
    row = _get(session, incident_id, lock=True)
    flows.update_fields(
        session,
        incident=row,
        actor=who.name,
        now=clock.now(),
        title=body.title,
        summary=body.summary,
        severity=body.severity,
        services=body.services,
        links=body.links,
        public_status=body.public_status,
    )
    return incident_read(session, row)


@router.patch("/incidents/{incident_id}/timestamps")
def correct_timestamps(
    incident_id: int, body: TimestampsPatch, session: SessionDep, clock: ClockDep, who: Responder
) -> IncidentRead:
    """Correct lifecycle timestamps (order started ≤ detected ≤ acknowledged ≤ mitigated ≤
    resolved is kept)."""
    row = _get(session, incident_id, lock=True)
    flows.correct(session, incident=row, changes=body.changes(), actor=who.name, now=clock.now())
    return incident_read(session, row)


@router.post("/incidents/{incident_id}/alerts")
def attach_alerts(
    incident_id: int, body: AlertIds, session: SessionDep, clock: ClockDep, who: Responder
) -> IncidentRead:
    """Attach alerts."""
    row = _get(session, incident_id, lock=True)
    flows.attach(session, incident=row, alert_ids=body.alert_ids, actor=who.name, now=clock.now())
    return incident_read(session, row)


@router.delete("/incidents/{incident_id}/alerts/{alert_id}")
def detach_alert(
    incident_id: int, alert_id: int, session: SessionDep, clock: ClockDep, who: Responder
) -> IncidentRead:
    """Detach an alert."""
    row = _get(session, incident_id, lock=True)
    flows.detach(session, incident=row, alert_id=alert_id, actor=who.name, now=clock.now())
    return incident_read(session, row)


@router.post("/incidents/{incident_id}/merge")
def merge(
    incident_id: int, body: MergeBody, session: SessionDep, clock: ClockDep, who: Responder
) -> IncidentRead:
    """Merge this incident into ``into``; returns the survivor."""
    first, second = sorted((incident_id, body.into))
    locked = {i: _get(session, i, lock=True) for i in (first, second)}
    try:
        target = locked[body.into]
    except KeyError:  # pragma: no cover - same id; the flow explains
        target = locked[incident_id]
    flows.merge(session, source=locked[incident_id], target=target, actor=who.name, now=clock.now())
    return incident_read(session, target)


@router.put("/incidents/{incident_id}/roles/{role}")
def assign_role(
    incident_id: int,
    role: str,
    body: RoleAssign,
    session: SessionDep,
    clock: ClockDep,
    who: Responder,
) -> IncidentRead:
    """Give a role to a user; they are paged through their personal notification rules."""
    row = _get(session, incident_id, lock=True)
    flows.assign_role(
        session, incident=row, role=role, user=body.user, actor=who.name, now=clock.now()
    )
    return incident_read(session, row)


@router.delete("/incidents/{incident_id}/roles/{role}")
def unassign_role(
    incident_id: int, role: str, session: SessionDep, clock: ClockDep, who: Responder
) -> IncidentRead:
    """Take a role away."""
    row = _get(session, incident_id, lock=True)
    flows.unassign_role(session, incident=row, role=role, actor=who.name, now=clock.now())
    return incident_read(session, row)


@router.post("/incidents/{incident_id}/responders")
def add_responders(
    incident_id: int, body: ResponderAdd, session: SessionDep, clock: ClockDep, who: Responder
) -> IncidentRead:
    """Add and page a user, whoever a schedule has on call, or a policy's first level."""
    row = _get(session, incident_id, lock=True)
    flows.add_responders(
        session,
        incident=row,
        actor=who.name,
        now=clock.now(),
        user=body.user,
        schedule=body.schedule,
        escalation_policy=body.escalation_policy,
    )
    return incident_read(session, row)


@router.get("/incidents/{incident_id}/timeline")
def get_timeline(
    incident_id: int, session: SessionDep, _: Viewer, key_moments: bool = False
) -> list[TimelineEntryRead]:
    """The timeline in time order (``key_moments=true`` for key moments only)."""
    _get(session, incident_id)
    rows = store.timeline(session, incident_id=incident_id, key_moments_only=key_moments)
    return [entry_read(r) for r in rows]


@router.post("/incidents/{incident_id}/timeline", status_code=status.HTTP_201_CREATED)
def add_note(
    incident_id: int, body: NoteCreate, session: SessionDep, clock: ClockDep, who: Responder
) -> TimelineEntryRead:
    """Add a manual note."""
    row = _get(session, incident_id, lock=True)
    entry = flows.add_note(
        session,
        incident=row,
        message=body.message,
        actor=who.name,
        now=clock.now(),
        at=body.at,
        key_moment=body.key_moment,
    )
    return entry_read(entry)


@router.patch("/incidents/{incident_id}/timeline/{entry_id}")
def mark_entry(
    incident_id: int,
    entry_id: int,
    body: EntryPatch,
    session: SessionDep,
    clock: ClockDep,
    _: Responder,
) -> TimelineEntryRead:
    """Mark or unmark a timeline entry as a key moment."""
    entry = store.get_entry(session, incident_id=incident_id, entry_id=entry_id)
    entry.key_moment = body.key_moment
    _get(session, incident_id).updated_at = clock.now()
    return entry_read(entry)


@router.get("/incidents/{incident_id}/updates")
def list_updates(incident_id: int, session: SessionDep, _: Viewer) -> list[UpdateRead]:
    """Stakeholder updates, oldest first."""
    _get(session, incident_id)
    return [update_read(u) for u in store.updates_of(session, incident_id=incident_id)]


@router.post("/incidents/{incident_id}/updates", status_code=status.HTTP_201_CREATED)
def post_update(
    incident_id: int, body: UpdateCreate, session: SessionDep, clock: ClockDep, who: Responder
) -> UpdateRead:
    """Post a stakeholder update: set the public status, send the message to channels."""
    row = _get(session, incident_id, lock=True)
    update = flows.post_update(
        session,
        incident=row,
        public_status=body.public_status,
        message=body.message,
        channels=body.channels,
        publish=body.publish,
        actor=who.name,
        now=clock.now(),
    )
    return update_read(update)


# registered last: the other POST /incidents/{id}/<word> routes must match first
@router.post("/incidents/{incident_id}/{action}")
def transition(
    incident_id: int,
    action: Literal["acknowledge", "mitigate", "resolve", "reopen"],
    session: SessionDep,
    clock: ClockDep,
    who: Responder,
    body: ActionBody | None = None,
) -> IncidentRead:
    """Acknowledge, mitigate, resolve or reopen (``at`` defaults to now)."""
    row = _get(session, incident_id, lock=True)
    at = body.at if body is not None else None
    flows.act(session, incident=row, action=action, actor=who.name, now=clock.now(), at=at)
    return incident_read(session, row)
