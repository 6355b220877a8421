"""Signed action links from notifications: ``GET /a/{token}`` confirms, ``POST /a/{token}`` acts.

No bearer token: the signed link is the authority. GET never changes anything (mail scanners and
chat unfurlers fetch links); the confirmation page's button POSTs to the same URL. Every answer is
a small HTML page: 200 for a confirmation, a result or "already done", 403 for a forged or
tampered link, 410 for an expired one and 404 when the alert is gone; nothing changes on errors.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, Template

from ninefold.alert import store
from ninefold.alert.links import (
    LINK_ACTOR,
    LinkClaim,
    LinkExpired,
    current_state,
    link_secret,
    perform,
    read_token,
)
from ninefold.alert.models import Alert
from ninefold.audit.context import set_actor
from ninefold.core.clock import ensure_utc
from ninefold.errors import NotFound
from ninefold.integrations.notify.signing import AlertAction, InvalidSignature

router = APIRouter(tags=["action links"])

_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    ),
}
_VERB = {AlertAction.ACKNOWLEDGE: "Acknowledge", AlertAction.RESOLVE: "Resolve"}
_FORGED = (
    "This link is not valid: it was changed, cut short or not made by this ninefold. "
    "Nothing was done."
)


@cache
def _template() -> Template:
    env = Environment(loader=FileSystemLoader(_TEMPLATES), autoescape=True)
    return env.get_template("action_link.html")


def _when(at: datetime) -> str:
    return f"{ensure_utc(at):%Y-%m-%d %H:%M} UTC"


def _page(
    status_code: int, *, title: str, message: str = "", tone: str = "", **ctx: Any
) -> HTMLResponse:
    html = _template().render(title=title, message=message, tone=tone, **ctx)
    return HTMLResponse(html, status_code=status_code, headers=_HEADERS)


def _alert_ctx(alert: Alert) -> dict[str, Any]:
    # Read everything while the session is open, so that rendering needs no lazy loads.
    return {
        "alert": {
            "id": alert.id,
            "summary": alert.summary,
            "status": alert.status,
            "severity": alert.severity,
            "acknowledged_at": alert.acknowledged_at,
        },
        "service": alert.service.name if alert.service else alert.labels.get("service"),
        "started": _when(alert.starts_at),
    }


def _claim(request: Request, token: str) -> LinkClaim | HTMLResponse:
    state = request.app.state
    try:
        return read_token(link_secret(state), token, now=state.clock.now())
    except LinkExpired as exc:
        return _page(410, title="This link has expired", message=exc.message, tone="error")
    except InvalidSignature:
        return _page(403, title="Invalid link", message=_FORGED, tone="error")


def _gone(alert_id: int) -> HTMLResponse:
    return _page(
        404, title="Alert not found", message=f"Alert {alert_id} no longer exists.", tone="error"
    )


# HEAD too: link checkers use it; like GET it changes nothing. A route of its own, out of the
# schema: one route with both methods gave the OpenAPI schema a duplicate operation id.
@router.get("/a/{token}", response_class=HTMLResponse)
@router.head("/a/{token}", response_class=HTMLResponse, include_in_schema=False)
def confirm_action(token: str, request: Request) -> HTMLResponse:
    """Show the alert and a button that performs the link's action; changes nothing."""
    claim = _claim(request, token)
    if isinstance(claim, HTMLResponse):
        return claim
    verb = _VERB[claim.action]
    with request.app.state.session_factory() as session:
        try:
            alert = store.get_alert(session, alert_id=claim.alert_id)
        except NotFound:
            return _gone(claim.alert_id)
        ctx = _alert_ctx(alert)
        already = current_state(alert, claim.action)
    if already is not None:
        return _page(200, title=f"{verb} alert {claim.alert_id}", message=already, **ctx)
    return _page(
        200,
        title=f"{verb} alert {claim.alert_id}?",
        confirm=verb,
        expires=_when(claim.expires_at),
        **ctx,
    )


@router.post("/a/{token}", response_class=HTMLResponse)
def perform_action(token: str, request: Request) -> HTMLResponse:
    """Acknowledge or resolve the alert the link names, in one transaction; idempotent."""
    claim = _claim(request, token)
    if isinstance(claim, HTMLResponse):
        return claim
    state = request.app.state
    verb = _VERB[claim.action]
    set_actor(LINK_ACTOR)  # a person following a signed link: audited like a token holder
    try:
        with state.session_factory() as session, session.begin():
            outcome = perform(
                session, alert_id=claim.alert_id, action=claim.action, now=state.clock.now()
            )
            ctx = _alert_ctx(outcome.alert)
    except NotFound:
        return _gone(claim.alert_id)
    # Rendered after the commit: the page says "done" only once it is.
    title = f"Alert {claim.alert_id} {'acknowledged' if claim.action is AlertAction.ACKNOWLEDGE else 'resolved'}"
    if not outcome.done:
        title = f"{verb} alert {claim.alert_id}"
    return _page(
        200, title=title, message=outcome.message, tone="done" if outcome.done else "", **ctx
    )
