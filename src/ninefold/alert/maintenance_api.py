"""Maintenance windows: a service's alerts are stored but not paged while one is active."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, Field

from ninefold.alert import store
from ninefold.alert.models import MaintenanceWindow
from ninefold.clock_utils import aware
from ninefold.deps import ClockDep, Responder, SessionDep, Viewer
from ninefold.errors import InvalidInput, NotFound

router = APIRouter(tags=["alerts"])


class WindowWrite(BaseModel):
    """A planned maintenance of one service over [start, end)."""

    start: datetime
    end: datetime
    reason: str = Field("", max_length=2000)


class WindowRead(BaseModel):
    """A stored maintenance window."""

    id: int
    service: str
    start: datetime
    end: datetime
    reason: str
    created_by: str


def _read(row: MaintenanceWindow) -> WindowRead:
    return WindowRead(
        id=row.id,
        service=row.service.name,
        start=row.starts_at,
        end=row.ends_at,
        reason=row.reason,
        created_by=row.created_by,
    )


@router.post("/services/{name}/maintenance", status_code=status.HTTP_201_CREATED)
def create_window(
    name: str, body: WindowWrite, who: Responder, session: SessionDep, clock: ClockDep
) -> WindowRead:
    """Plan a maintenance window; alerts of the service during it are held back and marked."""
    now = clock.now()
    start, end = aware(body.start), aware(body.end)
    if end <= start:
        raise InvalidInput("end: must be after start")
    if end <= now:
        raise InvalidInput("end: the window would be over already")
    row = MaintenanceWindow(
        service_id=store.service_id(session, name=name),
        starts_at=start,
        ends_at=end,
        reason=body.reason,
        created_by=f"token:{who.name}",
        created_at=now,
    )
    session.add(row)
    session.flush()
    session.refresh(row)
    return _read(row)


@router.get("/services/{name}/maintenance")
def list_windows(name: str, _: Viewer, session: SessionDep, clock: ClockDep) -> list[WindowRead]:
    """The service's maintenance windows that are not over yet."""
    sid = store.service_id(session, name=name)
    return [_read(r) for r in store.maintenance_windows(session, service_id=sid, now=clock.now())]


@router.delete("/services/{name}/maintenance/{window_id}", status_code=204)
def end_window(
    name: str, window_id: int, _: Responder, session: SessionDep, clock: ClockDep
) -> Response:
    """End a maintenance window now (held alerts page at their group's next flush)."""
    sid = store.service_id(session, name=name)
    row = session.get(MaintenanceWindow, window_id)
    if row is None or row.service_id != sid:
        raise NotFound(f"maintenance window {window_id} not found on service {name!r}")
    row.ends_at = min(row.ends_at, clock.now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)
