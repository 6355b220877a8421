"""Alert use cases: receive (dedup, update, resolve), acknowledge, resolve, expire."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table
from sqlalchemy.orm import Session

from ninefold.alert import bulk, groups, store
from ninefold.alert.models import Alert, AlertEvent, Integration, MaintenanceWindow
from ninefold.alert.normalize import Incoming
from ninefold.errors import InvalidInput, NotFound
from ninefold.identity import guard


@dataclass(frozen=True)
class Received:
    """What happened to one incoming alert."""

    dedup_key: str
    outcome: str  # created, updated, resolved, acknowledged, ignored
    alert_id: int | None


def receive(
    session: Session, *, items: Sequence[Incoming], integration: Integration | None, now: datetime
) -> list[Received]:
    """Store incoming alerts: re-sent alerts update the open one, resolves close it.

    New alerts (and their ``created`` events) are inserted together at the end, in batched
    multi-row INSERTs, so a batch of 100 alerts costs a handful of statements.
    """
    open_by_key = store.open_alerts_by_key(session, keys=[i.dedup_key for i in items])
    counts = Counter(i.dedup_key for i in items)
    # New alerts whose key appears once in the batch cannot interact with anything else in it:
    # they go in with one INSERT … RETURNING, without ORM objects.
    simple = [
        i
        for i in items
        if i.action == "trigger" and counts[i.dedup_key] == 1 and i.dedup_key not in open_by_key
    ]
    inserted = _insert_new(session, simple, integration, now)
    slots: list[tuple[str, str, Alert | None]] = []
    created: list[tuple[Alert, str]] = []
    for item in items:
        if item.dedup_key in inserted:
            continue
        alert = open_by_key.get(item.dedup_key)
        if item.action == "trigger":
            if alert is None:
                alert = _new(item, integration, now)
                session.add(alert)
                open_by_key[item.dedup_key] = alert
                created.append((alert, item.source))
                slots.append((item.dedup_key, "created", alert))
            else:
                _update(alert, item, now)
                slots.append((item.dedup_key, "updated", alert))
        elif alert is None:
            slots.append((item.dedup_key, "ignored", None))
        else:
            if alert.id is None:
                session.flush()  # created earlier in this batch: it needs its id now
            if item.action == "resolve":
                _update(alert, item, now)
                resolve(session, alert=alert, at=item.ends_at or now, actor=item.source, now=now)
                del open_by_key[item.dedup_key]
                slots.append((item.dedup_key, "resolved", alert))
            else:
                acknowledge(session, alert=alert, actor=item.source, now=now)
                slots.append((item.dedup_key, "acknowledged", alert))
    session.flush()
    if created:
        session.add_all(
            AlertEvent(alert_id=a.id, kind="created", at=now, actor=source, details={})
            for a, source in created
        )
        session.flush()
    return _in_order(items, slots, inserted)


def _in_order(
    items: Sequence[Incoming],
    slots: list[tuple[str, str, Alert | None]],
    inserted: dict[str, int],
) -> list[Received]:
    """One Received per item, in the order of ``items``."""
    pending = iter(slots)
    out: list[Received] = []
    for item in items:
        if item.dedup_key in inserted:
            out.append(Received(item.dedup_key, "created", inserted[item.dedup_key]))
        else:
            key, outcome, alert = next(pending)
            out.append(Received(key, outcome, alert.id if alert else None))
    return out


def _insert_new(
    session: Session, items: Sequence[Incoming], integration: Integration | None, now: datetime
) -> dict[str, int]:
    """INSERT new alerts and their ``created`` events in two statements; key → alert id."""
    if not items:
        return {}
    rows = [
        {
            "dedup_key": i.dedup_key,
            "fingerprint": i.fingerprint,
            "source": i.source,
            "integration_id": integration.id if integration else None,
            "service_id": i.service_id
            if i.service_id is not None
            else (integration.service_id if integration else None),
            "status": "firing",
            "severity": i.severity,
            "summary": i.summary,
            "labels": i.labels,
            "annotations": i.annotations,
            "details": i.details,
            "generator_url": i.generator_url,
            "starts_at": i.starts_at or now,
            "ends_at": i.ends_at,
            "last_received_at": now,
            "receive_count": 1,
            "created_at": now,
        }
        for i in items
    ]
    # Core INSERTs on the tables (not the ORM's bulk path): a third of the cost per row; arrays
    # in one JSON document on PostgreSQL (see ninefold.alert.bulk).
    alerts, events = cast(Table, Alert.__table__), cast(Table, AlertEvent.__table__)
    returned = bulk.insert_rows(session, alerts, rows, returning=("id", "dedup_key"))
    ids: dict[str, int] = {key: alert_id for alert_id, key in returned}
    bulk.insert_rows(
        session,
        events,
        [
            {
                "alert_id": ids[i.dedup_key],
                "kind": "created",
                "at": now,
                "actor": i.source,
                "details": {},
            }
            for i in items
        ],
    )
    return {i.dedup_key: ids[i.dedup_key] for i in items}


def _new(item: Incoming, integration: Integration | None, now: datetime) -> Alert:
    return Alert(
        dedup_key=item.dedup_key,
        fingerprint=item.fingerprint,
        source=item.source,
        integration_id=integration.id if integration else None,
        service_id=item.service_id
        if item.service_id is not None
        else (integration.service_id if integration else None),
        status="firing",
        severity=item.severity,
        summary=item.summary,
        labels=item.labels,
        annotations=item.annotations,
        details=item.details,
        generator_url=item.generator_url,
        starts_at=item.starts_at or now,
        ends_at=item.ends_at,
        last_received_at=now,
        receive_count=1,
        created_at=now,
    )


def _update(alert: Alert, item: Incoming, now: datetime) -> None:
    alert.labels = item.labels
    if item.annotations:
        alert.annotations = item.annotations
    if item.details:
        alert.details = {**alert.details, **item.details}
    if item.action == "trigger":
        alert.summary = item.summary
        alert.severity = item.severity
        alert.ends_at = item.ends_at
    alert.last_received_at = now
    alert.receive_count += 1


def acknowledge(session: Session, *, alert: Alert, actor: str, now: datetime) -> Alert:
    """Acknowledge a firing alert (idempotent)."""
    guard.check_alert(session, alert)
    if alert.status != "firing":
        raise InvalidInput(
            f"alert {alert.id} is {alert.status}; only firing alerts can be acknowledged"
        )
    if alert.acknowledged_at is None:
        from ninefold.oncall.flows import acknowledge_alert

        alert.acknowledged_at = now
        alert.acknowledged_by = actor
        store.add_event(session, alert=alert, kind="acknowledged", at=now, actor=actor)
        acknowledge_alert(session, alert_id=alert.id, actor=actor, now=now)
    return alert


def resolve(session: Session, *, alert: Alert, at: datetime, actor: str, now: datetime) -> Alert:
    """Resolve an alert (idempotent)."""
    guard.check_alert(session, alert)
    if alert.status == "resolved":
        return alert
    alert.status = "resolved"
    alert.resolved_at = min(at, now)
    alert.ends_at = alert.resolved_at
    store.add_event(session, alert=alert, kind="resolved", at=now, actor=actor)
    groups.alert_changed(session, alert_ids=[alert.id], now=now)
    return alert


def snooze(session: Session, *, alert: Alert, until: datetime, actor: str, now: datetime) -> Alert:
    """Hold a firing alert's pages until ``until``; its escalation pages again then."""
    from ninefold.oncall.flows import snooze_alert

    guard.check_alert(session, alert)
    if alert.status != "firing":
        raise InvalidInput(f"alert {alert.id} is {alert.status}; only firing alerts can be snoozed")
    if until <= now:
        raise InvalidInput("until: must be in the future")
    alert.snoozed_until = until
    store.add_event(
        session,
        alert=alert,
        kind="snoozed",
        at=now,
        actor=actor,
        details={"until": until.isoformat()},
    )
    snooze_alert(session, alert_id=alert.id, until=until, actor=actor, now=now)
    groups.alert_changed(session, alert_ids=[alert.id], now=now)
    return alert


def expire(session: Session, *, now: datetime) -> int:
    """Resolve Alertmanager-API alerts whose endsAt passed without a re-send."""
    rows = store.expired_alerts(session, now=now)
    for alert in rows:
        assert alert.ends_at is not None
        resolve(session, alert=alert, at=alert.ends_at, actor="expiry", now=now)
    return len(rows)


def plan_maintenance(
    session: Session,
    *,
    service: str,
    start: datetime,
    end: datetime,
    reason: str,
    actor: str,
    now: datetime,
) -> MaintenanceWindow:
    """Hold the pages of ``service``'s alerts over [start, end); InvalidInput for a bad range."""
    from ninefold.clock_utils import aware

    start, end = aware(start), aware(end)
    if end <= start:
        raise InvalidInput("end: must be after start")
    if end <= now:
        raise InvalidInput("end: the window would be over already")
    service_id = store.service_id(session, name=service)
    guard.check_service(session, kind="service", name=service, service_id=service_id)
    row = MaintenanceWindow(
        service_id=service_id,
        starts_at=start,
        ends_at=end,
        reason=reason,
        created_by=actor,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def end_maintenance(
    session: Session, *, window_id: int, service: str | None, now: datetime
) -> MaintenanceWindow:
    """End a maintenance window now; held alerts page at their group's next flush."""
    row = session.get(MaintenanceWindow, window_id)
    if row is None or (
        service is not None and row.service_id != store.service_id(session, name=service)
    ):
        where = f" on service {service!r}" if service else ""
        raise NotFound(f"maintenance window {window_id} not found{where}")
    guard.check_service(
        session, kind="maintenance window", name=str(window_id), service_id=row.service_id
    )
    row.ends_at = min(row.ends_at, now)
    return row
