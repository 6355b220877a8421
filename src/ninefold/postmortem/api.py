"""Postmortems API: create on demand, read, change state, edit sections (revisions), refresh,
Markdown export; possible repeats of an incident. Reads need viewer, writes responder."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.responses import PlainTextResponse
from sqlalchemy.orm import Session

from ninefold.deps import ClockDep, Responder, SessionDep, Viewer
from ninefold.errors import NotFound
from ninefold.incident import store as incident_store
from ninefold.incident.models import Incident
from ninefold.postmortem import draft, flows, store
from ninefold.postmortem.action_api import item_read
from ninefold.postmortem.models import Postmortem
from ninefold.postmortem.schemas import (
    PostmortemPage,
    PostmortemRead,
    PostmortemStatus,
    PostmortemSummary,
    RepeatRead,
    RevisionRead,
    SectionBody,
    SectionRead,
    StatusBody,
)
from ninefold.postmortem.states import OPEN_ITEM_STATUSES

router = APIRouter(tags=["postmortems"])


def postmortem_read(row: Postmortem) -> PostmortemRead:
    """The API view of a postmortem."""
    sections = flows.sections_of(row)
    return PostmortemRead(
        id=row.id,
        incident_id=row.incident_id,
        title=row.title,
        status=row.status,
        reason=row.reason,
        sections=[SectionRead.model_validate(s) for s in row.sections],
        facts=row.facts,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        published_at=row.published_at,
        blame_warnings=draft.blame_findings(sections),
    )


def _get(session: Session, postmortem_id: int, *, lock: bool = False) -> Postmortem:
    return store.get_postmortem(session, postmortem_id=postmortem_id, lock=lock)


def _incident(session: Session, incident_id: int, *, lock: bool = False) -> Incident:
    return incident_store.get_incident(session, incident_id=incident_id, lock=lock)


@router.post("/incidents/{incident_id}/postmortem", status_code=status.HTTP_201_CREATED)
def create(
    incident_id: int, session: SessionDep, clock: ClockDep, who: Responder
) -> PostmortemRead:
    """Draft a postmortem for an incident on demand (409 if it has one)."""
    row = flows.create_postmortem(
        session,
        incident=_incident(session, incident_id, lock=True),
        actor=who.name,
        now=clock.now(),
        reason=f"requested by {who.name}",
    )
    return postmortem_read(row)


@router.get("/incidents/{incident_id}/postmortem")
def of_incident(incident_id: int, session: SessionDep, _: Viewer) -> PostmortemRead:
    """The postmortem of an incident."""
    _incident(session, incident_id)
    row = store.postmortem_of(session, incident_id=incident_id)
    if row is None:
        raise NotFound(f"incident {incident_id} has no postmortem")
    return postmortem_read(row)


@router.get("/incidents/{incident_id}/repeats")
def repeats(
    incident_id: int, session: SessionDep, clock: ClockDep, _: Responder
) -> list[RepeatRead]:
    """Earlier incidents this one may repeat (detected now if not yet), with open action items."""
    incident = _incident(session, incident_id, lock=True)
    flows.link_repeats(session, incident=incident, now=clock.now())
    out = []
    for link in store.repeats_of(session, incident_id=incident_id):
        earlier = _incident(session, link.earlier_id)
        items, _n = store.list_items(
            session, status=list(OPEN_ITEM_STATUSES), incident_ids=[earlier.id], limit=500
        )
        out.append(
            RepeatRead(
                incident_id=earlier.id,
                title=earlier.title,
                reason=link.reason,
                score=link.score,
                detected_at=link.detected_at,
                open_action_items=[item_read(i, now=clock.now()) for i in items],
            )
        )
    return out


@router.get("/postmortems")
def list_postmortems(
    session: SessionDep,
    _: Viewer,
    status_: Annotated[PostmortemStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> PostmortemPage:
    """Postmortems, newest first."""
    rows, total = store.list_postmortems(session, status=status_, limit=limit, offset=offset)
    return PostmortemPage(
        items=[PostmortemSummary.model_validate(r, from_attributes=True) for r in rows],
        total=total,
    )


@router.get("/postmortems/{postmortem_id}")
def get_postmortem(postmortem_id: int, session: SessionDep, _: Viewer) -> PostmortemRead:
    """One postmortem."""
    return postmortem_read(_get(session, postmortem_id))


@router.get("/postmortems/{postmortem_id}/markdown", response_class=PlainTextResponse)
def export_markdown(postmortem_id: int, session: SessionDep, _: Viewer) -> PlainTextResponse:
    """The postmortem as Markdown."""
    text = flows.markdown(session, pm=_get(session, postmortem_id))
    return PlainTextResponse(text, media_type="text/markdown; charset=utf-8")


@router.post("/postmortems/{postmortem_id}/status")
def set_status(
    postmortem_id: int, body: StatusBody, session: SessionDep, clock: ClockDep, who: Responder
) -> PostmortemRead:
    """draft → in_review → published, in_review → draft; anything else is 409."""
    row = _get(session, postmortem_id, lock=True)
    flows.set_status(session, pm=row, status=body.status, actor=who.name, now=clock.now())
    return postmortem_read(row)


@router.put("/postmortems/{postmortem_id}/sections/{key}")
def edit_section(
    postmortem_id: int,
    key: str,
    body: SectionBody,
    session: SessionDep,
    clock: ClockDep,
    who: Responder,
) -> PostmortemRead:
    """Replace a section's body (recorded as a revision); 409 once published."""
    row = _get(session, postmortem_id, lock=True)
    flows.edit_section(
        session,
        pm=row,
        key=key,
        body=body.body,
        heading=body.heading,
        actor=who.name,
        now=clock.now(),
    )
    return postmortem_read(row)


@router.post("/postmortems/{postmortem_id}/refresh")
def refresh(
    postmortem_id: int, session: SessionDep, clock: ClockDep, who: Responder
) -> PostmortemRead:
    """Re-generate the sections nobody edited by hand from the incident as it is now."""
    row = _get(session, postmortem_id, lock=True)
    flows.refresh(session, pm=row, actor=who.name, now=clock.now())
    return postmortem_read(row)


@router.get("/postmortems/{postmortem_id}/revisions")
def revisions(postmortem_id: int, session: SessionDep, _: Viewer) -> list[RevisionRead]:
    """Recorded edits and state changes, oldest first."""
    _get(session, postmortem_id)
    return [
        RevisionRead.model_validate(r)
        for r in store.revisions(session, postmortem_id=postmortem_id)
    ]
