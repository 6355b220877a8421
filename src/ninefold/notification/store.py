"""Queries for the outbox tables. Keyword-only arguments, Session first; never commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ninefold.errors import Conflict, NotFound
from ninefold.notification.models import NotificationChannel, OutboxItem


def get_channel(session: Session, *, name: str) -> NotificationChannel:
    """The channel called ``name``."""
    row = session.scalar(select(NotificationChannel).where(NotificationChannel.name == name))
    if row is None:
        raise NotFound(f"notification channel {name!r} not found")
    return row


def list_channels(session: Session) -> Sequence[NotificationChannel]:
    """All channels by name."""
    return session.scalars(select(NotificationChannel).order_by(NotificationChannel.name)).all()


def add_channel(
    session: Session,
    *,
    name: str,
    kind: str,
    target: str,
    secret: str | None,
    enabled: bool,
    now: datetime,
) -> NotificationChannel:
    """Create a channel; a name in use is a Conflict."""
    if session.scalar(select(NotificationChannel.id).where(NotificationChannel.name == name)):
        raise Conflict(f"notification channel {name!r} already exists")
    row = NotificationChannel(
        name=name, kind=kind, target=target, secret=secret, enabled=enabled, created_at=now
    )
    session.add(row)
    session.flush()
    return row


def item_by_key(session: Session, *, idempotency_key: str) -> OutboxItem | None:
    """The outbox row with ``idempotency_key``, if any."""
    return session.scalar(select(OutboxItem).where(OutboxItem.idempotency_key == idempotency_key))


def get_item(session: Session, *, item_id: int) -> OutboxItem:
    """An outbox row by id."""
    row = session.get(OutboxItem, item_id)
    if row is None:
        raise NotFound(f"notification {item_id} not found")
    return row


def list_items(
    session: Session, *, status: str | None, limit: int, offset: int
) -> tuple[Sequence[OutboxItem], int]:
    """A page of outbox rows, newest first, and the total."""
    stmt = select(OutboxItem)
    if status:
        stmt = stmt.where(OutboxItem.status == status)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(OutboxItem.id.desc()).limit(limit).offset(offset)).all()
    return rows, total


def due_items(session: Session, *, now: datetime, limit: int) -> Sequence[OutboxItem]:
    """Rows due now: pending ones whose time came and sending ones whose lease expired.

    On PostgreSQL the rows are locked ``FOR UPDATE SKIP LOCKED``, so concurrent claimers each get
    different rows; SQLite ignores the clause (one process, serialised writers).
    """
    stmt = (
        select(OutboxItem)
        .where(
            or_(OutboxItem.status == "pending", OutboxItem.status == "sending"),
            OutboxItem.next_attempt_at <= now,
        )
        .order_by(OutboxItem.next_attempt_at, OutboxItem.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return session.scalars(stmt).all()


def channels_by_id(session: Session, *, ids: Sequence[int]) -> dict[int, NotificationChannel]:
    """Channels keyed by id."""
    if not ids:
        return {}
    rows = session.scalars(
        select(NotificationChannel).where(NotificationChannel.id.in_(set(ids)))
    ).all()
    return {c.id: c for c in rows}


def update_leased(session: Session, *, item_id: int, lease_id: str, values: dict[str, Any]) -> bool:
    """Update a row only while ``lease_id`` still holds it; False when the lease was lost."""
    result = session.execute(
        update(OutboxItem)
        .where(
            OutboxItem.id == item_id,
            OutboxItem.status == "sending",
            OutboxItem.lease_id == lease_id,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(cast(Any, result).rowcount == 1)


def channel_failures(session: Session) -> dict[str, tuple[int, str | None]]:
    """Channels whose latest finished notification is a dead letter: name → (dead letters
    since the last successful send, the last error)."""
    last_sent = dict(
        session.execute(
            select(OutboxItem.channel_id, func.max(OutboxItem.id))
            .where(OutboxItem.status == "sent")
            .group_by(OutboxItem.channel_id)
        ).all()
    )
    out: dict[str, tuple[int, str | None]] = {}
    dead = session.execute(
        select(
            NotificationChannel.name, OutboxItem.channel_id, OutboxItem.id, OutboxItem.last_error
        )
        .join(NotificationChannel, NotificationChannel.id == OutboxItem.channel_id)
        .where(OutboxItem.status == "dead")
        .order_by(OutboxItem.id)
    )
    for name, channel_id, item_id, error in dead:
        if item_id > last_sent.get(channel_id, 0):
            count = out.get(name, (0, None))[0]
            out[name] = (count + 1, error)
    return out


def channel_names(session: Session) -> list[str]:
    """Every channel name."""
    return list(session.scalars(select(NotificationChannel.name)))


def channel_ids(session: Session, *, names: Sequence[str]) -> dict[str, int]:
    """Channel name → id for the names that exist."""
    if not names:
        return {}
    rows = session.execute(
        select(NotificationChannel.name, NotificationChannel.id).where(
            NotificationChannel.name.in_(list(set(names)))
        )
    )
    return {name: channel_id for name, channel_id in rows}


def insert_many_if_absent(session: Session, *, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT outbox rows, skipping idempotency keys already queued, in one statement."""
    if not rows:
        return
    table = cast(Table, OutboxItem.__table__)
    conn = session.connection()
    ins = postgresql.insert(table) if conn.dialect.name == "postgresql" else sqlite.insert(table)
    # executemany of one cached statement (batched into multi-row INSERTs by the driver layer)
    conn.execute(ins.on_conflict_do_nothing(index_elements=["idempotency_key"]), list(rows))
