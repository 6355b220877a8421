"""Maintenance windows: a service's alerts are stored but not paged while one is active."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, Field

from ninefold.alert import flows, store
from ninefold.alert.models import MaintenanceWindow
from ninefold.deps import ClockDep, Responder, SessionDep, Viewer

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
    row = flows.plan_maintenance(
        session,
        service=name,
        start=body.start,
        end=body.end,
        reason=body.reason,
        actor=f"token:{who.name}",
        now=clock.now(),
    )
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
    flows.end_maintenance(session, window_id=window_id, service=name, now=clock.now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)
