"""Queries for alert tables. Keyword-only arguments, Session first; never commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, bindparam, func, or_, select, text
from sqlalchemy.orm import Session

from ninefold.alert.models import (
    Alert,
    AlertEvent,
    AlertGroup,
    AlertGroupMember,
    Integration,
    MaintenanceWindow,
    SilenceRow,
)
from ninefold.alert.silence import Silence, from_api
from ninefold.catalog.models import Service, ServiceDependency
from ninefold.errors import NotFound
from ninefold.identity.tokens import hash_token


@dataclass(frozen=True, slots=True)
class AlertHead:
    """What grouping needs of a new alert."""

    id: int
    labels: dict[str, str]
    starts_at: datetime


def integration_by_key(session: Session, *, key: str, now: datetime) -> Integration | None:
    """The enabled integration whose current (or not yet expired previous) key is ``key``."""
    digest = hash_token(key)
    row = session.scalar(
        select(Integration).where(
            or_(Integration.key_hash == digest, Integration.previous_key_hash == digest)
        )
    )
    return row if row is not None and key_valid(row, digest, now) else None


def key_valid(row: Integration, digest: str, now: datetime) -> bool:
    """Whether the key hashed to ``digest`` opens ``row`` at ``now`` (pure)."""
    if row.disabled_at is not None:
        return False
    if row.key_hash == digest:
        return True
    return (
        row.previous_key_hash == digest
        and row.previous_key_expires_at is not None
        and row.previous_key_expires_at > now
    )


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
    wanted = list(set(keys))
    if session.get_bind().dialect.name == "sqlite":
        # Without statistics SQLite's planner prefers the (status, starts_at) index for a few
        # keys and then reads every firing alert: name the partial unique index on open alerts'
        # dedup keys (its WHERE is written literally, as the index requires).
        stmt = text(
            "SELECT alerts.* FROM alerts INDEXED BY uq_alerts_open_dedup_key "
            "WHERE alerts.status = 'firing' AND alerts.dedup_key IN :keys"
        ).bindparams(bindparam("keys", expanding=True))
        rows = session.scalars(select(Alert).from_statement(stmt), {"keys": wanted})
    else:
        # One array parameter (a short statement the driver parses once), not one per key, and
        # one probe of the partial unique index per key: with ``dedup_key = ANY(...)`` and
        # statistics from a smaller table (a fresh database, a burst of new alerts before
        # autovacuum's ANALYZE) the planner read every firing alert through the status index.
        stmt = text(
            "SELECT alerts.* FROM unnest(CAST(:keys AS text[])) AS wanted(key) "
            "CROSS JOIN LATERAL (SELECT * FROM alerts WHERE alerts.status = 'firing' "
            "AND alerts.dedup_key = wanted.key LIMIT 1) AS alerts"
        )
        rows = session.scalars(select(Alert).from_statement(stmt), {"keys": wanted})
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


# --- aggregation groups and what mutes their alerts -----------------------------------------


def open_groups_by_hash(session: Session, *, hashes: Sequence[str]) -> dict[str, AlertGroup]:
    """Open groups by their hash, for the hashes given."""
    out: dict[str, AlertGroup] = {}
    for start in range(0, len(hashes), 500):
        chunk = hashes[start : start + 500]
        rows = session.scalars(
            select(AlertGroup).where(AlertGroup.status == "open", AlertGroup.group_hash.in_(chunk))
        )
        out.update({g.group_hash: g for g in rows})
    return out


def open_groups_of(session: Session, *, alert_ids: Sequence[int]) -> list[AlertGroup]:
    """Open groups holding any of ``alert_ids``."""
    members = select(AlertGroupMember.group_id).where(AlertGroupMember.alert_id.in_(alert_ids))
    stmt = select(AlertGroup).where(AlertGroup.status == "open", AlertGroup.id.in_(members))
    return list(session.scalars(stmt))


def group_alerts(session: Session, *, group_id: int) -> list[Alert]:
    """The alerts of a group, oldest first."""
    stmt = (
        select(Alert)
        .join(AlertGroupMember, AlertGroupMember.alert_id == Alert.id)
        .where(AlertGroupMember.group_id == group_id)
        .order_by(Alert.id)
    )
    return list(session.scalars(stmt))


def first_alert_id(session: Session, *, group_id: int) -> int | None:
    """The oldest alert of a group (where its escalation records its events)."""
    return session.scalar(
        select(func.min(AlertGroupMember.alert_id)).where(AlertGroupMember.group_id == group_id)
    )


def groups_of_alert(session: Session, *, alert_id: int) -> list[AlertGroup]:
    """Every group (open or closed) an alert was put in."""
    stmt = (
        select(AlertGroup)
        .join(AlertGroupMember, AlertGroupMember.group_id == AlertGroup.id)
        .where(AlertGroupMember.alert_id == alert_id)
        .order_by(AlertGroup.id)
    )
    return list(session.scalars(stmt))


def firing_labels(session: Session) -> list[dict[str, str]]:
    """Labels of every firing alert (inhibition sources)."""
    rows = session.scalars(select(Alert.labels).where(Alert.status == "firing"))
    return [{k: str(v) for k, v in labels.items()} for labels in rows]


def services_in_maintenance(session: Session, *, now: datetime) -> dict[int, int]:
    """Service id → id of a maintenance window covering ``now``."""
    rows = session.execute(
        select(MaintenanceWindow.service_id, MaintenanceWindow.id).where(
            MaintenanceWindow.starts_at <= now, MaintenanceWindow.ends_at > now
        )
    )
    return {service_id: window_id for service_id, window_id in rows}


def dependency_edges(session: Session) -> list[tuple[int, int]]:
    """(service id, depends-on service id) pairs of the catalog graph."""
    rows = session.execute(select(ServiceDependency.service_id, ServiceDependency.depends_on_id))
    return [(a, b) for a, b in rows]


def paging_alert_of(session: Session, *, service_id: int) -> int | None:
    """The oldest firing, critical, unsuppressed alert on a service, if any."""
    return session.scalar(
        select(func.min(Alert.id)).where(
            Alert.service_id == service_id,
            Alert.status == "firing",
            Alert.severity == "critical",
            Alert.suppression.is_(None),
        )
    )


def service_names(session: Session) -> dict[int, str]:
    """Service id → name."""
    return {i: n for i, n in session.execute(select(Service.id, Service.name))}


def maintenance_windows(
    session: Session, *, service_id: int | None = None, now: datetime | None = None
) -> list[MaintenanceWindow]:
    """Maintenance windows, optionally of one service and only those not yet over at ``now``."""
    stmt = select(MaintenanceWindow).order_by(MaintenanceWindow.starts_at, MaintenanceWindow.id)
    if service_id is not None:
        stmt = stmt.where(MaintenanceWindow.service_id == service_id)
    if now is not None:
        stmt = stmt.where(MaintenanceWindow.ends_at > now)
    return list(session.scalars(stmt))


def lock_alert(session: Session, *, alert_id: int) -> Alert | None:
    """An alert by id, its row locked until the transaction ends (PostgreSQL), or None."""
    return session.get(Alert, alert_id, with_for_update=True, populate_existing=True)


def alerts_by_ids(session: Session, *, ids: Sequence[int]) -> list[Alert]:
    """Alerts with the given ids, in id order."""
    if not ids:
        return []
    return list(session.scalars(select(Alert).where(Alert.id.in_(list(ids))).order_by(Alert.id)))


def alert_heads(session: Session, *, ids: Sequence[int]) -> list[AlertHead]:
    """Id, labels and start of alerts (what grouping needs), without loading ORM objects."""
    if not ids:
        return []
    rows = session.execute(
        select(Alert.id, Alert.labels, Alert.starts_at)
        .where(Alert.id.in_(list(ids)))
        .order_by(Alert.id)
    )
    return [
        AlertHead(i, {k: str(v) for k, v in labels.items()}, start) for i, labels, start in rows
    ]
