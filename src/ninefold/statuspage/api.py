"""Status page routes.

Public (no login): ``GET /status`` (HTML), ``/status/history.atom`` and the Statuspage-shaped JSON
under ``/status/api/v2/`` (summary, status, components, incidents, incidents/unresolved,
scheduled-maintenances, …/upcoming, …/active, and ninefold's uptime). Public answers carry
``Access-Control-Allow-Origin: *`` so widgets on other sites can read them.

Admin: ``GET /api/v1/status-page/components`` shows derived and effective states;
``PUT /api/v1/status-page/components/{id}/override`` sets or clears a manual state.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, FileSystemLoader, Template
from pydantic import BaseModel

from ninefold.core.clock import ensure_utc
from ninefold.deps import Admin, ClockDep, SessionDep, SettingsDep, TeamAdmin
from ninefold.statuspage import atom, flows
from ninefold.statuspage.schemas import (
    AdminComponentRead,
    ComponentsResponse,
    ComponentUptimeOut,
    IncidentsResponse,
    MaintenancesResponse,
    OverrideBody,
    StatusResponse,
    SummaryResponse,
    UptimeDayOut,
    UptimeResponse,
)

router = APIRouter(prefix="/status", tags=["status page"])
admin_router = APIRouter(prefix="/status-page", tags=["status page"])

_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
_PUBLIC = {"Access-Control-Allow-Origin": "*", "Cache-Control": "public, max-age=30"}
_HTML_HEADERS = {
    "Cache-Control": "public, max-age=30",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:;"
        " frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "Referrer-Policy": "no-referrer",
}
_LABELS = {
    "operational": "Operational",
    "degraded_performance": "Degraded performance",
    "partial_outage": "Partial outage",
    "major_outage": "Major outage",
    "under_maintenance": "Under maintenance",
}
BAR_WIDTH = 4


@cache
def _template() -> Template:
    env = Environment(loader=FileSystemLoader(_TEMPLATES), autoescape=True)
    env.globals.update(
        when=lambda at: f"{ensure_utc(at):%b %d, %Y %H:%M} UTC",
        iso=lambda at: ensure_utc(at).isoformat(),
        pct=lambda v: "no data" if v is None else f"{v:.2f}%".replace("100.00%", "100%"),
        minutes=lambda s: f"{round(s / 60)} min",
        state_label=lambda s: _LABELS.get(s, s),
    )
    return env.get_template("status_page.html")


def _view(
    session: SessionDep, clock: ClockDep, settings: SettingsDep, *, uptime: bool = False
) -> flows.PublicView:
    return flows.build_view(
        session, now=clock.now(), public_url=settings.public_url, with_uptime=uptime
    )


def _json(model: BaseModel) -> JSONResponse:
    return JSONResponse(model.model_dump(mode="json"), headers=_PUBLIC)


@router.get("", response_class=HTMLResponse)
def status_page(session: SessionDep, clock: ClockDep, settings: SettingsDep) -> HTMLResponse:
    """The public status page (HTML, no JavaScript)."""
    view = _view(session, clock, settings, uptime=True)
    banner: str = view.status.indicator
    if banner == "none" and any(v.status == "under_maintenance" for v in view.components):
        banner = "maintenance"
    ctx: dict[str, Any] = {
        "page": view.page,
        "description": view.description,
        "status": view.status,
        "banner": banner,
        "groups": view.groups,
        "unresolved": view.unresolved,
        "past": view.past(),
        "past_days": flows.PAST_INCIDENT_DAYS,
        "upcoming": view.maintenances_in("scheduled"),
        "active_maintenances": view.maintenances_in("in_progress"),
        "bar_width": BAR_WIDTH,
        "base": "/status",
    }
    return HTMLResponse(_template().render(**ctx), headers=_HTML_HEADERS)


@router.get("/history.atom", response_class=Response)
def history_atom(session: SessionDep, clock: ClockDep, settings: SettingsDep) -> Response:
    """Incidents and maintenance of the last 90 days as an Atom feed."""
    view = _view(session, clock, settings)
    body = atom.feed(
        view.page, [*view.incidents, *view.maintenances], self_url=f"{view.page.url}/history.atom"
    )
    return Response(body, media_type="application/atom+xml; charset=utf-8", headers=_PUBLIC)


@router.get("/api/v2/summary.json", response_model=SummaryResponse)
def summary(session: SessionDep, clock: ClockDep, settings: SettingsDep) -> JSONResponse:
    """Page, status, components, unresolved incidents, upcoming and active maintenance."""
    v = _view(session, clock, settings)
    return _json(
        SummaryResponse(
            page=v.page,
            components=v.component_list,
            incidents=v.unresolved,
            scheduled_maintenances=v.maintenances_in("scheduled", "in_progress"),
            status=v.status,
        )
    )


@router.get("/api/v2/status.json", response_model=StatusResponse)
def status_json(session: SessionDep, clock: ClockDep, settings: SettingsDep) -> JSONResponse:
    """The overall indicator (none, minor, major, critical) and its description."""
    v = _view(session, clock, settings)
    return _json(StatusResponse(page=v.page, status=v.status))


@router.get("/api/v2/components.json", response_model=ComponentsResponse)
def components_json(session: SessionDep, clock: ClockDep, settings: SettingsDep) -> JSONResponse:
    """Every component (groups first, as components with ``group`` true)."""
    v = _view(session, clock, settings)
    return _json(ComponentsResponse(page=v.page, components=v.component_list))


@router.get("/api/v2/incidents.json", response_model=IncidentsResponse)
def incidents_json(session: SessionDep, clock: ClockDep, settings: SettingsDep) -> JSONResponse:
    """The 50 most recently updated public incidents of the last 90 days."""
    v = _view(session, clock, settings)
    return _json(IncidentsResponse(page=v.page, incidents=v.incidents))


@router.get("/api/v2/incidents/unresolved.json", response_model=IncidentsResponse)
def unresolved_json(session: SessionDep, clock: ClockDep, settings: SettingsDep) -> JSONResponse:
    """Public incidents not resolved yet."""
    v = _view(session, clock, settings)
    return _json(IncidentsResponse(page=v.page, incidents=v.unresolved))


def _maintenances(
    session: SessionDep, clock: ClockDep, settings: SettingsDep, *statuses: str
) -> JSONResponse:
    v = _view(session, clock, settings)
    items = v.maintenances_in(*statuses) if statuses else v.maintenances
    return _json(MaintenancesResponse(page=v.page, scheduled_maintenances=items))


@router.get("/api/v2/scheduled-maintenances.json", response_model=MaintenancesResponse)
def maintenances_json(session: SessionDep, clock: ClockDep, settings: SettingsDep) -> JSONResponse:
    """Maintenance windows on the page's services: upcoming, active and ended in 14 days."""
    return _maintenances(session, clock, settings)


@router.get("/api/v2/scheduled-maintenances/upcoming.json", response_model=MaintenancesResponse)
def upcoming_json(session: SessionDep, clock: ClockDep, settings: SettingsDep) -> JSONResponse:
    """Maintenance that has not started yet."""
    return _maintenances(session, clock, settings, "scheduled")


@router.get("/api/v2/scheduled-maintenances/active.json", response_model=MaintenancesResponse)
def active_json(session: SessionDep, clock: ClockDep, settings: SettingsDep) -> JSONResponse:
    """Maintenance in progress."""
    return _maintenances(session, clock, settings, "in_progress")


@router.get("/api/v2/uptime.json", response_model=UptimeResponse)
def uptime_json(session: SessionDep, clock: ClockDep, settings: SettingsDep) -> JSONResponse:
    """90 days of daily uptime per component (ninefold's own shape)."""
    v = _view(session, clock, settings, uptime=True)
    items = [
        ComponentUptimeOut(
            id=str(c.row.id),
            name=c.row.name,
            uptime=c.uptime,
            days=[
                UptimeDayOut(
                    date=d.day,
                    uptime=d.uptime,
                    major_outage_seconds=d.major,
                    partial_outage_seconds=d.partial,
                    degraded_performance_seconds=d.degraded,
                )
                for d in c.days
            ],
        )
        for c in v.components
    ]
    return _json(UptimeResponse(page=v.page, components=items))


@admin_router.get("/components")
def admin_components(
    session: SessionDep, clock: ClockDep, settings: SettingsDep, _: Admin
) -> list[AdminComponentRead]:
    """Components with derived state, effective state and manual override."""
    return flows.admin_components(session, now=clock.now(), public_url=settings.public_url)


@admin_router.put("/components/{component_id}/override")
def set_override(
    component_id: int,
    body: OverrideBody,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    who: TeamAdmin,
) -> AdminComponentRead:
    """Set a component's state by hand (``status`` null: back to the derived state)."""
    now: datetime = clock.now()
    flows.set_override(
        session, component_id=component_id, status=body.status, actor=who.name, now=now
    )
    rows = flows.admin_components(session, now=now, public_url=settings.public_url)
    return next(r for r in rows if r.id == component_id)
