"""Queries for heartbeat monitors. Keyword-only arguments, Session first; never commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ninefold.errors import NotFound
from ninefold.heartbeat.models import HeartbeatMonitor
from ninefold.identity.tokens import hash_token


def by_name(session: Session, *, name: str, lock: bool = False) -> HeartbeatMonitor:
    """The monitor called ``name`` (row-locked when ``lock``)."""
    stmt = select(HeartbeatMonitor).where(HeartbeatMonitor.name == name)
    row = session.scalar(stmt.with_for_update() if lock else stmt)
    if row is None:
        raise NotFound(f"heartbeat {name!r} not found")
    return row


def by_key(session: Session, *, key: str) -> HeartbeatMonitor | None:
    """The monitor whose ping key is ``key``, row-locked, or None."""
    return session.scalar(
        select(HeartbeatMonitor)
        .where(HeartbeatMonitor.key_hash == hash_token(key))
        .with_for_update()
    )


def exists(session: Session, *, name: str) -> bool:
    """Whether a monitor called ``name`` exists."""
    return (
        session.scalar(select(HeartbeatMonitor.id).where(HeartbeatMonitor.name == name)) is not None
    )


def page(session: Session, *, limit: int, offset: int) -> tuple[Sequence[HeartbeatMonitor], int]:
    """A page of monitors by name, and the total."""
    total = session.scalar(select(func.count()).select_from(HeartbeatMonitor)) or 0
    rows = session.scalars(
        select(HeartbeatMonitor).order_by(HeartbeatMonitor.name).limit(limit).offset(offset)
    ).all()
    return rows, total


def overdue(session: Session, *, now: datetime, limit: int = 500) -> Sequence[HeartbeatMonitor]:
    """Monitors past their deadline that have no alert yet, row-locked (a beat may race)."""
    return session.scalars(
        select(HeartbeatMonitor)
        .where(HeartbeatMonitor.status != "down", HeartbeatMonitor.deadline_at <= now)
        .order_by(HeartbeatMonitor.deadline_at, HeartbeatMonitor.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
