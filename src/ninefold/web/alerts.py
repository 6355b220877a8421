"""Alerts: filtered list (flat or grouped), detail, and acknowledge/resolve/snooze via htmx."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ninefold.alert import flows as alert_flows
from ninefold.alert import store as alert_store
from ninefold.alert.models import Alert, SilenceRow
from ninefold.alert.silence import check_new, from_api
from ninefold.deps import ClockDep, SessionDep
from ninefold.errors import Forbidden, InvalidInput, NotFound
from ninefold.identity import guard
from ninefold.incident import store as incident_store
from ninefold.web.render import page, render
from ninefold.web.session import ResponderAct, WebUserDep, same_origin

router = APIRouter()

SEVERITIES = ("critical", "error", "warning", "info")
LABEL_SCAN = 1000


def _labels_match(alert: Alert, wanted: list[tuple[str, str]]) -> bool:
    labels = alert.labels or {}
    return all(str(labels.get(k)) == v for k, v in wanted)


def _parse_labels(text: str) -> list[tuple[str, str]]:
    out = []
    for part in text.split(","):
        key, sep, value = part.strip().partition("=")
        if sep and key.strip():
            out.append((key.strip(), value.strip().strip('"')))
    return out


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(
    request: Request,
    user: WebUserDep,
    session: SessionDep,
    clock: ClockDep,
    status: str = "firing",
    service: str = "",
    severity: str = "",
    label: str = "",
    group: str = "",
) -> HTMLResponse:
    """Alerts filtered by state, service, severity and labels (``key=value,…``)."""
    error = ""
    service_id = None
    if service:
        try:
            service_id = alert_store.service_id(session, name=service)
        except NotFound:
            error = f"unknown service {service!r}"
    stmt = alert_store.alert_query(
        status=status if status in ("firing", "resolved") else None,
        service_id=service_id,
        severity=severity if severity in SEVERITIES else None,
    )
    wanted = _parse_labels(label)
    if wanted:
        rows, _ = alert_store.list_alerts(session, stmt=stmt, limit=LABEL_SCAN, offset=0)
        alerts = [a for a in rows if _labels_match(a, wanted)][:200]
        total = len(alerts)
    else:
        found, total = alert_store.list_alerts(session, stmt=stmt, limit=200, offset=0)
        alerts = list(found)
    groups: dict[str, list[Alert]] = defaultdict(list)
    if group in ("service", "alertname"):
        for a in alerts:
            key = (
                (a.service.name if a.service else "no service")
                if group == "service"
                else str((a.labels or {}).get("alertname", a.summary))
            )
            groups[key].append(a)
    services = sorted(alert_store.service_names(session).values())
    return page(
        request,
        "alerts.html",
        user,
        alerts=alerts,
        total=total,
        groups=sorted(groups.items()),
        f={"status": status, "service": service, "severity": severity, "label": label},
        group=group,
        services=services,
        severities=SEVERITIES,
        now=clock.now(),
        error=error,
    )


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(
    alert_id: int, request: Request, user: WebUserDep, session: SessionDep, clock: ClockDep
) -> HTMLResponse:
    """One alert: labels, annotations, history and its incident."""
    alert = alert_store.get_alert(session, alert_id=alert_id)
    link = incident_store.incident_of_alert(session, alert_id=alert_id)
    return page(
        request,
        "alert.html",
        user,
        a=alert,
        events=alert_store.alert_events(session, alert_id=alert_id),
        incident_id=link.incident_id if link is not None else None,
        now=clock.now(),
    )


def _silence(session: Any, alert: Alert, *, hours: int, actor: str, now: datetime) -> None:
    """Silence every alert with exactly this alert's labels for ``hours`` (Alertmanager's
    "silence this alert")."""
    guard.check_alert(session, alert)
    labels = {str(k): str(v) for k, v in (alert.labels or {}).items()}
    if not labels:
        raise InvalidInput("this alert has no labels to silence by")
    doc = {
        "matchers": [
            {"name": k, "value": v, "isRegex": False, "isEqual": True}
            for k, v in sorted(labels.items())
        ],
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(hours=hours)).isoformat(),
        "createdBy": actor,
        "comment": f"silenced from the console (alert {alert.id})",
    }
    try:
        silence = from_api(doc)
        check_new(silence, now)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    session.add(
        SilenceRow(
            matchers=doc["matchers"],
            starts_at=silence.starts_at,
            ends_at=silence.ends_at,
            created_by=actor,
            comment=str(doc["comment"]),
            created_at=now,
            updated_at=now,
        )
    )
    session.flush()


def _answer(request: Request, alert: Alert, act: ResponderAct, now: Any, msg: str) -> Response:
    if request.headers.get("hx-request") == "true":
        html = render(
            "_alert_row.html",
            a=alert,
            can=lambda role: True,
            csrf=act.user.csrf,
            now=now,
        )
        return HTMLResponse(html)
    back = request.headers.get("referer", "")
    target = back if back and same_origin(request) and "/ui/" in back else "/ui/alerts"
    return RedirectResponse(target, status_code=303)


@router.post("/alerts/{alert_id}/{action}", response_model=None)
def alert_action(
    alert_id: int,
    action: str,
    request: Request,
    act: ResponderAct,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    """Acknowledge, resolve, snooze (``minutes``) or silence (``hours``) an alert."""
    now = clock.now()
    alert = alert_store.lock_alert(session, alert_id=alert_id)
    if alert is None:
        raise NotFound(f"alert {alert_id} not found")
    actor = act.user.name
    try:
        guard.check_alert(session, alert)  # before anything changes (the flows check it too)
    except Forbidden as exc:
        if request.headers.get("hx-request") == "true":
            raise  # 403: the page's script shows the message
        return RedirectResponse(f"/ui/alerts/{alert_id}?error={quote(exc.message)}", 303)
    try:
        if action == "acknowledge":
            alert_flows.acknowledge(session, alert=alert, actor=actor, now=now)
        elif action == "resolve":
            alert_flows.resolve(session, alert=alert, at=now, actor=actor, now=now)
        elif action == "snooze":
            minutes = int(act.get("minutes", "60") or 60)
            if not 1 <= minutes <= 7 * 24 * 60:
                raise InvalidInput("minutes: between 1 and 10080")
            until = now + timedelta(minutes=minutes)
            alert_flows.snooze(session, alert=alert, until=until, actor=actor, now=now)
        elif action == "silence":
            hours = int(act.get("hours", "4") or 4)
            if not 1 <= hours <= 24 * 30:
                raise InvalidInput("hours: between 1 and 720")
            _silence(session, alert, hours=hours, actor=act.user.name, now=now)
        else:
            raise NotFound(f"no alert action {action!r}")
    except ValueError:
        raise InvalidInput("minutes: a whole number") from None
    return _answer(request, alert, act, now, action)
