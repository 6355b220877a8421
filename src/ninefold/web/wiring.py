"""Mount the console on an app: routers under /ui, static assets, security headers."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from ninefold.web.security import SecurityHeaders

STATIC = Path(__file__).resolve().parent / "static"


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
