"""Queries for alert tables. Keyword-only arguments, Session first; never commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from ninefold.alert.models import Alert, AlertEvent, Integration, SilenceRow
from ninefold.alert.silence import Silence, from_api
from ninefold.catalog.models import Service
from ninefold.errors import NotFound
from ninefold.identity.tokens import hash_token


def integration_by_key(session: Session, *, key: str, now: datetime) -> Integration | None:
    """The enabled integration whose current (or not yet expired previous) key is ``key``."""
    digest = hash_token(key)
    row = session.scalar(
        select(Integration).where(
            or_(Integration.key_hash == digest, Integration.previous_key_hash == digest)
        )
    )
    if row is None or row.disabled_at is not None:
        return None
    if row.key_hash != digest and (
        row.previous_key_expires_at is None or row.previous_key_expires_at <= now
    ):
        return None
    return row


def get_integration(session: Session, *, name: str) -> Integration:
    """The integration called ``name``."""
    row = session.scalar(select(Integration).where(Integration.name == name))
    if row is None:
        raise NotFound(f"integration {name!r} not found")
    return row


def list_integrations(session: Session) -> Sequence[Integration]:
    """All integrations by name."""
    return session.scalars(select(Integration).order_by(Integration.name)).all()


def open_alerts_by_key(session: Session, *, keys: Sequence[str]) -> dict[str, Alert]:
    """Firing alerts keyed by dedup key."""
    if not keys:
        return {}
    rows = session.scalars(
        select(Alert).where(Alert.status == "firing", Alert.dedup_key.in_(list(set(keys))))
    )
    return {a.dedup_key: a for a in rows}


def get_alert(session: Session, *, alert_id: int) -> Alert:
    """An alert by id."""
    row = session.get(Alert, alert_id)
    if row is None:
        raise NotFound(f"alert {alert_id} not found")
    return row


def alert_query(
    *,
    status: str | None = None,
    service_id: int | None = None,
    severity: str | None = None,
    source: str | None = None,
) -> Select[Alert]:
    """SELECT of alerts with filters."""
    stmt = select(Alert)
    if status:
        stmt = stmt.where(Alert.status == status)
    if service_id is not None:
        stmt = stmt.where(Alert.service_id == service_id)
    if severity:
        stmt = stmt.where(Alert.severity == severity)
    if source:
        stmt = stmt.where(Alert.source == source)
    return stmt


def list_alerts(
    session: Session, *, stmt: Select[Alert], limit: int, offset: int
) -> tuple[Sequence[Alert], int]:
    """A page of alerts, newest first, and the total."""
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(Alert.starts_at.desc(), Alert.id.desc()).limit(limit).offset(offset)
    ).all()
    return rows, total


def expired_alerts(session: Session, *, now: datetime, limit: int = 1000) -> Sequence[Alert]:
    """Firing alerts whose endsAt passed without a re-send (Alertmanager's resolve timeout)."""
    return session.scalars(
        select(Alert)
        .where(Alert.status == "firing", Alert.ends_at.is_not(None), Alert.ends_at <= now)
        .limit(limit)
    ).all()


def add_event(
    session: Session,
    *,
    alert: Alert,
    kind: str,
    at: datetime,
    actor: str | None = None,
    details: dict[str, object] | None = None,
) -> None:
    """Append to an alert's history."""
    session.add(AlertEvent(alert_id=alert.id, kind=kind, at=at, actor=actor, details=details or {}))


def alert_events(session: Session, *, alert_id: int) -> Sequence[AlertEvent]:
    """An alert's history, oldest first."""
    return session.scalars(
        select(AlertEvent).where(AlertEvent.alert_id == alert_id).order_by(AlertEvent.id)
    ).all()


def to_silence(row: SilenceRow) -> Silence:
    """The pure Silence for a stored row."""
    return from_api(
        {
            "matchers": row.matchers,
            "startsAt": row.starts_at.isoformat(),
            "endsAt": row.ends_at.isoformat(),
            "createdBy": row.created_by,
            "comment": row.comment,
            "id": str(row.id),
        }
    )


def active_silences(session: Session, *, now: datetime) -> list[Silence]:
    """Silences in force at ``now``."""
    rows = session.scalars(
        select(SilenceRow).where(SilenceRow.starts_at <= now, SilenceRow.ends_at > now)
    )
    return [to_silence(r) for r in rows]


def service_id(session: Session, *, name: str) -> int:
    """The id of the catalog service called ``name``."""
    sid = session.scalar(select(Service.id).where(Service.name == name))
    if sid is None:
        raise NotFound(f"service {name!r} not found")
    return sid


def lock_alert(session: Session, *, alert_id: int) -> Alert | None:
    """An alert by id, its row locked until the transaction ends (PostgreSQL), or None."""
    return session.get(Alert, alert_id, with_for_update=True, populate_existing=True)
