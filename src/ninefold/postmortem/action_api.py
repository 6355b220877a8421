"""Action items API: list, create, change, close; on-time closure rate per team."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, status

from ninefold.deps import ClockDep, Responder, SessionDep, Viewer
from ninefold.errors import InvalidInput
from ninefold.postmortem import action_flows, store
from ninefold.postmortem.action_flows import UNSET
from ninefold.postmortem.models import ActionItem
from ninefold.postmortem.schemas import (
    ActionItemCreate,
    ActionItemPage,
    ActionItemPatch,
    ActionItemRead,
    ClosureRead,
    ItemStatus,
)
from ninefold.postmortem.states import OPEN_ITEM_STATUSES

router = APIRouter(tags=["action items"])


def item_read(row: ActionItem, *, now: datetime) -> ActionItemRead:
    """The API view of an action item."""
    today = now.astimezone(UTC).date()
    return ActionItemRead(
        id=row.id,
        title=row.title,
        description=row.description,
        owner=row.owner.name if row.owner is not None else None,
        team=row.team.name if row.team is not None else None,
        due_date=row.due_date,
        priority=row.priority,
        status=row.status,
        incident_id=row.incident_id,
        postmortem_id=row.postmortem_id,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        closed_at=row.closed_at,
        overdue=row.status in OPEN_ITEM_STATUSES
        and row.due_date is not None
        and row.due_date < today,
    )


@router.get("/action-items/stats")
def stats(
    session: SessionDep,
    clock: ClockDep,
    _: Viewer,
    team: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> ClosureRead:
    """On-time closure rate = items due in [start, end] closed (done or won't do) on or before
    their due date ÷ items due in [start, end]; ``null`` when nothing was due.

    The period defaults to the 90 days up to today (UTC); ``team`` filters by the item's team.
    """
    today = clock.now().astimezone(UTC).date()
    end = end or today
    start = start or end - timedelta(days=89)
    if start > end:
        raise InvalidInput("start: must not be after end")
    s = action_flows.closure_stats(session, team=team, start=start, end=end)
    return ClosureRead(
        team=team,
        start=start,
        end=end,
        due=s.due,
        closed_on_time=s.closed_on_time,
        closed_late=s.closed_late,
        still_open=s.still_open,
        rate=s.rate,
    )


@router.get("/action-items")
def list_items(
    session: SessionDep,
    clock: ClockDep,
    _: Viewer,
    status_: Annotated[list[ItemStatus] | None, Query(alias="status")] = None,
    owner: str | None = None,
    team: str | None = None,
    incident_id: int | None = None,
    postmortem_id: int | None = None,
    overdue: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ActionItemPage:
    """Action items by due date; ``overdue=true`` for open items past their due date."""
    from ninefold.oncall import store as oncall_store

    now = clock.now()
    owner_id = oncall_store.user_by_name(session, name=owner).id if owner else None
    rows, total = store.list_items(
        session,
        status=status_,
        owner_id=owner_id,
        team_id=action_flows.team_id_of(session, team) if team else None,
        incident_ids=[incident_id] if incident_id is not None else None,
        postmortem_id=postmortem_id,
        overdue_on=now.astimezone(UTC).date() if overdue else None,
        limit=limit,
        offset=offset,
    )
    return ActionItemPage(items=[item_read(r, now=now) for r in rows], total=total)


@router.post("/action-items", status_code=status.HTTP_201_CREATED)
def create_item(
    body: ActionItemCreate, session: SessionDep, clock: ClockDep, who: Responder
) -> ActionItemRead:
    """Create an action item (from an incident or a postmortem, or on its own)."""
    now = clock.now()
    row = action_flows.create_item(
        session,
        title=body.title,
        actor=who.name,
        now=now,
        owner=body.owner,
        due_date=body.due_date,
        priority=body.priority,
        incident_id=body.incident_id,
        postmortem_id=body.postmortem_id,
        team=body.team,
        description=body.description,
    )
    return item_read(row, now=now)


@router.get("/action-items/{item_id}")
def get_item(item_id: int, session: SessionDep, clock: ClockDep, _: Viewer) -> ActionItemRead:
    """One action item."""
    return item_read(store.get_item(session, item_id=item_id), now=clock.now())


@router.patch("/action-items/{item_id}")
def patch_item(
    item_id: int, body: ActionItemPatch, session: SessionDep, clock: ClockDep, _: Responder
) -> ActionItemRead:
    """Change fields or status (done and wont_do close the item, open reopens it)."""
    now = clock.now()
    given = body.model_fields_set
    row = action_flows.update_item(
        session,
        item=store.get_item(session, item_id=item_id, lock=True),
        now=now,
        title=body.title,
        description=body.description,
        owner=body.owner if "owner" in given else UNSET,
        team=body.team if "team" in given else UNSET,
        due_date=body.due_date if "due_date" in given else UNSET,
        priority=body.priority,
        status=body.status,
    )
    return item_read(row, now=now)


@router.delete("/action-items/{item_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_item(item_id: int, session: SessionDep, _: Responder) -> None:
    """Delete an action item (prefer ``wont_do``, which keeps the record)."""
    item = store.get_item(session, item_id=item_id, lock=True)
    action_flows.check_item(session, item)
    session.delete(item)
