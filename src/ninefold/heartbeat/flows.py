"""Heartbeat use cases: create, beat, delete and the deadline check (alerts via dispatch.intake)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ninefold.alert import dispatch
from ninefold.alert.dispatch import Routing
from ninefold.alert.flows import Received
from ninefold.alert.normalize import Incoming
from ninefold.errors import Conflict
from ninefold.heartbeat import logic, store
from ninefold.heartbeat.models import HeartbeatMonitor
from ninefold.identity import guard
from ninefold.identity.tokens import new_token


@dataclass(frozen=True)
class Outlet:
    """Where alerts go: the routing in force and the public URL for links."""

    routing: Routing | None
    public_url: str

    @classmethod
    def of(cls, state: Any) -> Outlet:
        """The outlet of an application state."""
        return cls(state.routing, state.settings.public_url)


def monitor_of(row: HeartbeatMonitor) -> logic.Monitor:
    """The pure view of a stored monitor."""
    return logic.Monitor(
        name=row.name,
        interval_seconds=row.interval_seconds,
        grace_seconds=row.grace_seconds,
        severity=row.severity,
        service=row.service.name if row.service else None,
        labels=dict(row.labels),
        service_id=row.service_id,
    )


def create(
    session: Session,
    *,
    name: str,
    service_id: int | None,
    interval_seconds: int,
    grace_seconds: int,
    severity: str,
    labels: dict[str, str],
    now: datetime,
) -> tuple[HeartbeatMonitor, str]:
    """Create a monitor; returns it and its ping key (only the hash is stored)."""
    if store.exists(session, name=name):
        raise Conflict(f"heartbeat {name!r} already exists")
    key, prefix, digest = new_token()
    row = HeartbeatMonitor(
        name=name,
        service_id=service_id,
        interval_seconds=interval_seconds,
        grace_seconds=grace_seconds,
        severity=severity,
        labels=labels,
        key_prefix=prefix,
        key_hash=digest,
        status="new",
        last_beat_at=None,
        beat_count=0,
        created_at=now,
        updated_at=now,
    )
    row.deadline_at = logic.deadline(logic.Monitor(name, interval_seconds, grace_seconds), now)
    session.add(row)
    session.flush()
    return row, key


def _intake(
    session: Session,
    row: HeartbeatMonitor,
    items: Sequence[Incoming],
    outlet: Outlet,
    now: datetime,
) -> tuple[list[Received], int]:
    received, queued = dispatch.intake(
        session,
        items=items,
        integration=None,
        routing=outlet.routing,
        now=now,
        public_url=outlet.public_url,
    )
    return received, queued


def check_monitor(session: Session, row: HeartbeatMonitor) -> None:
    """Team guard: a monitor belongs to its service's team (without a service, to everyone).
    Pings by ping key carry no principal and are not checked."""
    guard.check_service(session, kind="heartbeat", name=row.name, service_id=row.service_id)


def beat(session: Session, *, row: HeartbeatMonitor, outlet: Outlet, now: datetime) -> int:
    """Record a beat; a monitor that was down is resolved. Returns notifications queued."""
    check_monitor(session, row)
    queued = 0
    if row.status == "down":
        _, queued = _intake(
            session, row, [logic.recovered(monitor_of(row), beat_at=now)], outlet, now
        )
    row.status = "up"
    row.last_beat_at = now
    row.beat_count += 1
    row.deadline_at = logic.deadline(monitor_of(row), now)
    row.updated_at = now
    return queued


def check(session: Session, *, outlet: Outlet, now: datetime) -> tuple[int, int]:
    """Raise an alert for every monitor past its deadline; returns (alerts raised, queued)."""
    raised = queued = 0
    for row in store.overdue(session, now=now):
        item = logic.missed(
            monitor_of(row), last_beat_at=row.last_beat_at, deadline_at=row.deadline_at
        )
        _, q = _intake(session, row, [item], outlet, now)
        row.status = "down"
        row.updated_at = now
        raised += 1
        queued += q
    return raised, queued


def delete(session: Session, *, row: HeartbeatMonitor, outlet: Outlet, now: datetime) -> int:
    """Delete a monitor; its open alert is resolved (nobody would ever resolve it otherwise)."""
    check_monitor(session, row)
    queued = 0
    if row.status == "down":
        _, queued = _intake(
            session, row, [logic.recovered(monitor_of(row), beat_at=now)], outlet, now
        )
    session.delete(row)
    session.flush()
    return queued
