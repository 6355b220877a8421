"""Manual alerts: a person (or a script with a responder token) raises an alert by hand.

``POST /api/v1/alerts`` with ``summary``, optional ``service``, ``severity``, ``labels``,
``details`` and ``dedup_key`` (re-sending the same dedup_key updates the open alert instead of
opening another). Like every alert it goes through ``dispatch.intake`` (routing, silences,
notifications) and is committed before the answer.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.orm import Session

from ninefold.alert import dispatch, store
from ninefold.alert.api import alert_read
from ninefold.alert.dispatch import Routing
from ninefold.alert.fingerprint import fingerprint_hex
from ninefold.alert.normalize import Incoming
from ninefold.alert.schemas import AlertRead
from ninefold.audit import capture as audit
from ninefold.deps import Responder
from ninefold.errors import InvalidInput, NotFound

SOURCE = "manual"
ALERTNAME = "ManualAlert"
_LABEL = r"^[a-zA-Z_][a-zA-Z0-9_]*$"

router = APIRouter(tags=["alerts"])


class ManualAlert(BaseModel):
    """An alert raised by hand."""

    model_config = ConfigDict(extra="forbid")

    summary: str = Field(min_length=1, max_length=1024)
    service: str | None = Field(None, min_length=1, max_length=200)
    severity: Literal["critical", "error", "warning", "info"] = "error"
    labels: dict[
        Annotated[str, Field(pattern=_LABEL, max_length=200)],
        Annotated[str, Field(max_length=2000)],
    ] = Field(default_factory=dict, max_length=50)
    details: dict[str, Any] = Field(default_factory=dict)
    description: str | None = Field(None, max_length=10_000)
    dedup_key: str | None = Field(None, min_length=1, max_length=200)

    @field_validator("summary")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


def build(
    body: ManualAlert, *, actor: str, service_id: int | None, now: datetime, new_id: str
) -> Incoming:
    """The Incoming alert for a manual alert (pure; ``new_id`` names it when no dedup_key)."""
    labels = {"alertname": ALERTNAME, **body.labels, "severity": body.severity}
    if body.service:
        labels["service"] = body.service
    key = body.dedup_key or new_id
    annotations = {"summary": body.summary}
    if body.description:
        annotations["description"] = body.description
    return Incoming(
        action="trigger",
        dedup_key=f"{SOURCE}:{key}",
        fingerprint=fingerprint_hex({**labels, "dedup_key": key}),
        source=SOURCE,
        severity=body.severity,
        summary=body.summary,
        labels=labels,
        annotations=annotations,
        details={**body.details, "created_by": actor},
        starts_at=now,
        service_id=service_id,
    )


def raise_alert(
    session: Session,
    *,
    body: ManualAlert,
    actor: str,
    routing: Routing | None,
    now: datetime,
    public_url: str,
) -> tuple[int, str, int]:
    """Store a manual alert in the caller's transaction: (alert id, outcome, queued)."""
    service_id = None
    if body.service is not None:
        try:
            service_id = store.service_id(session, name=body.service)
        except NotFound:
            raise InvalidInput(f"service: no service {body.service!r} in the catalog") from None
    item = build(body, actor=actor, service_id=service_id, now=now, new_id=uuid.uuid4().hex)
    (received,), queued = dispatch.intake(
        session, items=[item], integration=None, routing=routing, now=now, public_url=public_url
    )
    assert received.alert_id is not None
    if received.outcome == "created":
        # New alerts go in with a Core INSERT the ORM audit does not see: record it here.
        audit.record(
            session,
            action="create",
            object_type="alerts",
            object_id=received.alert_id,
            object_name=item.summary,
            after={
                "dedup_key": item.dedup_key,
                "source": SOURCE,
                "status": "firing",
                "severity": item.severity,
                "summary": item.summary,
                "service_id": service_id,
                "labels": item.labels,
            },
            actor=actor,
        )
    return received.alert_id, received.outcome, queued


@router.post("/alerts", status_code=status.HTTP_201_CREATED)
def create_alert(body: ManualAlert, who: Responder, request: Request) -> AlertRead:
    """Raise an alert by hand (201; re-sending a dedup_key updates the open alert)."""
    state = request.app.state
    with state.session_factory() as session, session.begin():
        alert_id, _outcome, queued = raise_alert(
            session,
            body=body,
            actor=f"token:{who.name}",
            routing=state.routing,
            now=state.clock.now(),
            public_url=state.settings.public_url,
        )
        answer = alert_read(store.get_alert(session, alert_id=alert_id))
    runner = state.engine_runner
    if queued and runner is not None:
        runner.wake_delivery()
    return answer
