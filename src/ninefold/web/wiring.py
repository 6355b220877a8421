"""Mount the console on an app: routers under /ui, static assets, security headers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from ninefold.web.security import SecurityHeaders
from ninefold.web.viewcache import Changes

STATIC = Path(__file__).resolve().parent / "static"


def page_changes(factory: Any) -> Changes:
    """Changes to what the overview's lists and the incident console show: alerts, incidents
    and what hangs off them, postmortems, schedules and overrides."""
    from ninefold.alert.models import Alert
    from ninefold.incident import models as inc
    from ninefold.oncall.models import OverrideRow, ScheduleRow
    from ninefold.postmortem.models import Postmortem

    changes = Changes(
        (
            Alert,
            inc.Incident,
            inc.IncidentService,
            inc.IncidentAlert,
            inc.IncidentRoleAssignment,
            inc.IncidentResponder,
            inc.TimelineEntry,
            inc.IncidentUpdate,
            Postmortem,
            ScheduleRow,
            OverrideRow,
        )
    )
    changes.install(factory)
    return changes


def install(app: FastAPI) -> None:
    """Register the console's pages, its JSON for charts, static files and headers."""
    from ninefold.web import (
        alerts,
        incidents,
        login,
        oidc_login,
        oncall,
        pages,
        passwords_api,
        postmortems,
    )
    from ninefold.web.oidc import OidcClient

    app.state.oidc = OidcClient.from_settings(app.state.settings)
    app.state.web_changes = page_changes(app.state.session_factory)

    ui = APIRouter(prefix="/ui", include_in_schema=False)
    ui.include_router(login.router)
    ui.include_router(oidc_login.router)
    ui.include_router(pages.router)
    ui.include_router(alerts.router)
    ui.include_router(incidents.router)
    ui.include_router(oncall.router)
    ui.include_router(postmortems.router)

    @ui.get("")
    def _root() -> RedirectResponse:
        return RedirectResponse("/ui/", status_code=307)

    app.include_router(ui)
    app.include_router(passwords_api.router, prefix="/api/v1")
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="ui-static")
    app.add_middleware(SecurityHeaders)
