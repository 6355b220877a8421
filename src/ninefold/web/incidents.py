"""Incident console: list, declare, timeline, roles, severity/status, public updates with a
status-page preview, attached alerts, paging more responders, postmortem link."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from ninefold.catalog import store as catalog_store
from ninefold.deps import ClockDep, SessionDep
from ninefold.errors import InvalidInput, NinefoldError
from ninefold.incident import flows, store
from ninefold.incident.api import entry_read, incident_read
from ninefold.oncall import store as oncall_store
from ninefold.postmortem import flows as pm_flows
from ninefold.postmortem import store as pm_store
from ninefold.statuspage.flows import impact
from ninefold.web.render import page, render
from ninefold.web.session import ResponderAct, WebUserDep
from ninefold.web.viewcache import LIVE_TTL, view_cache

router = APIRouter()

PUBLIC_STATUSES = ("investigating", "identified", "monitoring", "resolved")
ACTIONS = ("acknowledge", "mitigate", "resolve", "reopen")


def _back(incident_id: int, *, msg: str = "", error: str = "") -> RedirectResponse:
    url = f"/ui/incidents/{incident_id}"
    if error:
        url += f"?error={quote(error)}"
    elif msg:
        url += f"?msg={quote(msg)}"
    return RedirectResponse(url, status_code=303)


@router.get("/incidents", response_class=HTMLResponse)
def incidents_page(
    request: Request, user: WebUserDep, session: SessionDep, status: str = "active"
) -> HTMLResponse:
    """Incidents, newest first, and the form to declare one."""
    rows, total = store.list_incidents(
        session, status=status if status != "all" else None, limit=100
    )
    return page(
        request,
        "incidents.html",
        user,
        incidents=rows,
        total=total,
        status=status,
        severities=flows.severity_defs(session),
        services=[s.name for s in catalog_store.all_services(session)],
    )


@router.post("/incidents/declare", response_model=None)
def declare(act: ResponderAct, session: SessionDep, clock: ClockDep) -> RedirectResponse:
    """Declare an incident from the form, or from an alert (``alert_id``)."""
    now = clock.now()
    severity = act.get("severity") or None
    try:
        if act.get("alert_id"):
            row = flows.declare_from_alert(
                session,
                alert_id=int(act.get("alert_id")),
                actor=act.user.name,
                now=now,
                title=act.get("title") or None,
                severity=severity,
            )
        else:
            title = act.get("title")
            if not title:
                raise InvalidInput("title: required")
            row = flows.declare(
                session,
                title=title,
                severity=severity,
                services=[s for s in act.form.get("services", "").split(",") if s.strip()],
                summary=act.get("summary"),
                alert_ids=[],
                actor=act.user.name,
                now=now,
            )
    except ValueError:
        raise InvalidInput("alert_id: a number") from None
    return _back(row.id, msg=f"Incident #{row.id} declared")


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
def incident_page(
    incident_id: int, request: Request, user: WebUserDep, session: SessionDep, clock: ClockDep
) -> HTMLResponse:
    """The incident console. What it shows of the incident is shared by the requests of this
    process for up to a second (:data:`LIVE_TTL`: responders watching one incident), and read
    anew at once when the incident's ``updated_at`` moved (every action taken on it, from any
    process) or this process changed anything the page shows; its pick lists for a few seconds.
    """
    row = store.get_incident(session, incident_id=incident_id)
    now = clock.now()
    key = (incident_id, row.updated_at, request.app.state.web_changes.count())
    view = view_cache(request.app.state, "incident-pages", INCIDENT_PAGES_KEPT, LIVE_TTL).get(
        key, now, lambda: incident_view(session, row)
    )
    choices = view_cache(request.app.state, "incident-choices", 1).get(
        "choices", now, lambda: _choices(session)
    )
    return page(request, "incident.html", user, public_statuses=PUBLIC_STATUSES, **view, **choices)


INCIDENT_PAGES_KEPT = 64
"""Incidents whose page data is kept for a second (the most recently viewed)."""


def incident_view(session: Any, row: Any) -> dict[str, Any]:
    """What the incident console shows of one incident, as plain values (no ORM rows: they
    outlive the session they were read in)."""
    pm = pm_store.postmortem_of(session, incident_id=row.id)
    return {
        "inc": incident_read(session, row),
        "timeline": [
            entry_read(e)
            for e in store.timeline(session, incident_id=row.id, key_moments_only=False)
        ],
        "postmortem": None if pm is None else {"id": pm.id, "status": pm.status},
    }


def _choices(session: Any) -> dict[str, Any]:
    """The incident console's pick lists: the same for every incident and user."""
    return {
        "severities": flows.severity_defs(session),
        "roles": flows.role_defs(session),
        "users": sorted(oncall_store.user_names(session)),
        "schedules": [s.name for s in oncall_store.list_schedules(session)],
    }


@router.get("/incidents/{incident_id}/timeline", response_class=HTMLResponse)
def timeline_fragment(incident_id: int, _: WebUserDep, session: SessionDep) -> HTMLResponse:
    """The timeline alone (htmx polls it)."""
    store.get_incident(session, incident_id=incident_id)
    rows = store.timeline(session, incident_id=incident_id, key_moments_only=False)
    return HTMLResponse(render("_timeline.html", timeline=rows))


@router.post("/incidents/{incident_id}/preview", response_class=HTMLResponse)
def preview(
    incident_id: int, act: ResponderAct, session: SessionDep, clock: ClockDep
) -> HTMLResponse:
    """How the update will look on the public status page."""
    row = store.get_incident(session, incident_id=incident_id)
    rank = flows.severity_def(session, row.severity).rank
    status = act.get("public_status") or "investigating"
    return HTMLResponse(
        render(
            "_preview.html",
            inc=row,
            impact=impact(rank),
            status=status,
            message=act.get("message"),
            publish=act.get("publish", "") == "on",
            now=clock.now(),
        )
    )


def _change(act: ResponderAct, session: Any, row: Any, kind: str, now: Any) -> str:
    """Apply one console form to an incident; returns the confirmation text."""
    name = act.user.name
    if kind == "action":
        action = act.get("action")
        if action not in ACTIONS:
            raise InvalidInput(f"action: one of {', '.join(ACTIONS)}")
        flows.act(session, incident=row, action=action, actor=name, now=now)
        return f"Incident {action}d" if action.endswith("e") else f"Incident {action}ed"
    if kind == "severity":
        flows.update_fields(
            session, incident=row, actor=name, now=now, severity=act.get("severity")
        )
        return f"Severity set to {act.get('severity')}"
    if kind == "update":
        status = act.get("public_status")
        if status not in PUBLIC_STATUSES:
            raise InvalidInput(f"public_status: one of {', '.join(PUBLIC_STATUSES)}")
        if not act.get("message"):
            raise InvalidInput("message: required")
        flows.post_update(
            session,
            incident=row,
            public_status=status,
            message=act.get("message"),
            channels=None,
            publish=act.get("publish", "") == "on",
            actor=name,
            now=now,
        )
        return "Update posted"
    if kind == "note":
        if not act.get("message"):
            raise InvalidInput("message: required")
        flows.add_note(
            session,
            incident=row,
            message=act.get("message"),
            actor=name,
            now=now,
            at=None,
            key_moment=act.get("key_moment", "") == "on",
        )
        return "Note added"
    if kind == "role":
        if act.get("user"):
            flows.assign_role(
                session,
                incident=row,
                role=act.get("role"),
                user=act.get("user"),
                actor=name,
                now=now,
            )
            return f"{act.get('user')} is {act.get('role')}"
        flows.unassign_role(session, incident=row, role=act.get("role"), actor=name, now=now)
        return f"{act.get('role')} unassigned"
    if kind == "page":
        flows.add_responders(
            session,
            incident=row,
            actor=name,
            now=now,
            user=act.get("user") or None,
            schedule=act.get("schedule") or None,
            escalation_policy=None,
        )
        return "Responders paged"
    if kind == "postmortem":
        pm = pm_flows.create_postmortem(
            session, incident=row, actor=name, now=now, reason=f"requested by {name}"
        )
        return f"Postmortem #{pm.id} drafted"
    raise InvalidInput(f"unknown change {kind!r}")


@router.post("/incidents/{incident_id}/{kind}", response_model=None)
def change(
    incident_id: int, kind: str, act: ResponderAct, session: SessionDep, clock: ClockDep
) -> RedirectResponse:
    """Status actions, severity, public updates, notes, roles, paging, postmortem drafts."""
    row = store.get_incident(session, incident_id=incident_id, lock=True)
    try:
        with session.begin_nested():
            msg = _change(act, session, row, kind, clock.now())
    except NinefoldError as exc:
        return _back(incident_id, error=exc.message)
    return _back(incident_id, msg=msg)
