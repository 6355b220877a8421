"""Alert endpoints: list, read, acknowledge, resolve; integrations and their keys (admin)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel

from ninefold.alert import flows, store
from ninefold.alert.models import Alert, Integration
from ninefold.alert.schemas import AlertRead, IntegrationCreate, IntegrationCreated, IntegrationRead
from ninefold.core.pagination import Page, PageDep
from ninefold.deps import Admin, ClockDep, Responder, SessionDep, Viewer
from ninefold.identity.tokens import new_token

router = APIRouter(tags=["alerts"])


def alert_read(alert: Alert) -> AlertRead:
    """An alert as the API shows it."""
    return AlertRead(
        id=alert.id,
        fingerprint=alert.fingerprint,
        dedup_key=alert.dedup_key,
        source=alert.source,
        status=alert.status,
        severity=alert.severity,
        summary=alert.summary,
        service=alert.service.name if alert.service else None,
        labels=alert.labels,
        annotations=alert.annotations,
        details=alert.details,
        generator_url=alert.generator_url,
        starts_at=alert.starts_at,
        ends_at=alert.ends_at,
        acknowledged_at=alert.acknowledged_at,
        acknowledged_by=alert.acknowledged_by,
        resolved_at=alert.resolved_at,
        last_received_at=alert.last_received_at,
        receive_count=alert.receive_count,
        suppression=alert.suppression,
    )


def _service_id(session: SessionDep, name: str | None) -> int | None:
    return None if name is None else store.service_id(session, name=name)


@router.get("/alerts")
def list_alerts(
    _: Viewer,
    session: SessionDep,
    page: PageDep,
    status_: Annotated[Literal["firing", "resolved"] | None, Query(alias="status")] = None,
    service: str | None = None,
    severity: Annotated[Literal["critical", "error", "warning", "info"] | None, Query()] = None,
    source: str | None = None,
) -> Page[AlertRead]:
    """Alerts, newest first, filtered by status, service, severity and source."""
    stmt = store.alert_query(
        status=status_, service_id=_service_id(session, service), severity=severity, source=source
    )
    rows, total = store.list_alerts(session, stmt=stmt, limit=page.limit, offset=page.offset)
    return Page(
        items=[alert_read(a) for a in rows], total=total, limit=page.limit, offset=page.offset
    )


class AlertDetail(AlertRead):
    """An alert with its history."""

    events: list[dict[str, Any]]


@router.get("/alerts/{alert_id}")
def get_alert(alert_id: int, _: Viewer, session: SessionDep) -> AlertDetail:
    """One alert and what happened to it."""
    alert = store.get_alert(session, alert_id=alert_id)
    events = [
        {"kind": e.kind, "at": e.at, "actor": e.actor, "details": e.details}
        for e in store.alert_events(session, alert_id=alert.id)
    ]
    return AlertDetail(**alert_read(alert).model_dump(), events=events)


@router.post("/alerts/{alert_id}/acknowledge")
def acknowledge(alert_id: int, who: Responder, session: SessionDep, clock: ClockDep) -> AlertRead:
    """Acknowledge a firing alert."""
    alert = store.get_alert(session, alert_id=alert_id)
    return alert_read(
        flows.acknowledge(session, alert=alert, actor=f"token:{who.name}", now=clock.now())
    )


@router.post("/alerts/{alert_id}/resolve")
def resolve(alert_id: int, who: Responder, session: SessionDep, clock: ClockDep) -> AlertRead:
    """Resolve an alert by hand."""
    alert = store.get_alert(session, alert_id=alert_id)
    now = clock.now()
    return alert_read(
        flows.resolve(session, alert=alert, at=now, actor=f"token:{who.name}", now=now)
    )


def _integration_read(row: Integration) -> IntegrationRead:
    return IntegrationRead(
        id=row.id,
        name=row.name,
        kind=row.kind,
        service=row.service.name if row.service else None,
        key_prefix=row.key_prefix,
        rate_limit_per_minute=row.rate_limit_per_minute,
        created_at=row.created_at,
        require_signature=bool((row.config or {}).get("require_signature")),
    )


@router.get("/integrations")
def list_integrations(_: Admin, session: SessionDep) -> list[IntegrationRead]:
    """Inbound integrations (never their keys)."""
    return [_integration_read(r) for r in store.list_integrations(session)]


@router.post("/integrations", status_code=status.HTTP_201_CREATED)
def create_integration(
    body: IntegrationCreate, _: Admin, session: SessionDep, clock: ClockDep
) -> IntegrationCreated:
    """Create an integration; its key is in the answer and nowhere else."""
    from ninefold.alert.keys import create
    from ninefold.alert.mapping import check_for_kind
    from ninefold.alert.signature_in import configure

    config, signing_secret = configure(
        check_for_kind(body.kind, body.mapping),
        kind=body.kind,
        require=body.require_signature,
        secret=body.signing_secret,
    )
    row, key = create(
        session,
        name=body.name,
        kind=body.kind,
        service_id=_service_id(session, body.service),
        rate_limit_per_minute=body.rate_limit_per_minute,
        now=clock.now(),
    )
    row.config = config
    return IntegrationCreated(
        key=key, signing_secret=signing_secret, **_integration_read(row).model_dump()
    )


class RotateRequest(BaseModel):
    """How long the old key keeps working."""

    grace_seconds: int = 3600


@router.post("/integrations/{name}/rotate")
def rotate_integration(
    name: str, body: RotateRequest, _: Admin, session: SessionDep, clock: ClockDep
) -> IntegrationCreated:
    """New key; the old one keeps working for ``grace_seconds`` so senders can switch."""
    row = store.get_integration(session, name=name)
    key, prefix, digest = new_token()
    row.previous_key_hash = row.key_hash
    row.previous_key_expires_at = clock.now() + timedelta(seconds=max(body.grace_seconds, 0))
    row.key_hash, row.key_prefix = digest, prefix
    return IntegrationCreated(key=key, **_integration_read(row).model_dump())
