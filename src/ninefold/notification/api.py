"""Outbox endpoints: the queue and dead-letter list, retrying dead letters, channels (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from ninefold.core.pagination import Page, PageDep
from ninefold.deps import Admin, ClockDep, Responder, SessionDep, Viewer
from ninefold.notification import flows, store
from ninefold.notification.models import NotificationChannel, OutboxItem
from ninefold.notification.schemas import (
    ChannelCreate,
    ChannelRead,
    OutboxItemRead,
    OutboxStatus,
    redact_target,
)

router = APIRouter(tags=["notifications"])


def item_read(item: OutboxItem) -> OutboxItemRead:
    """An outbox row as the API shows it."""
    return OutboxItemRead(
        id=item.id,
        idempotency_key=item.idempotency_key,
        channel=item.channel.name,
        status=item.status,
        attempts=item.attempts,
        next_attempt_at=item.next_attempt_at,
        last_error=item.last_error,
        last_status_code=item.last_status_code,
        created_at=item.created_at,
        sent_at=item.sent_at,
        notification=item.notification,
    )


def channel_read(row: NotificationChannel) -> ChannelRead:
    """A channel as the API shows it: never its secret."""
    return ChannelRead(
        id=row.id,
        name=row.name,
        kind=row.kind,
        target=redact_target(row.kind, row.target),
        signed=bool(row.secret),
        enabled=row.enabled,
        created_at=row.created_at,
    )


@router.get("/notifications")
def list_notifications(
    _: Viewer,
    session: SessionDep,
    page: PageDep,
    status_: Annotated[OutboxStatus | None, Query(alias="status")] = None,
) -> Page[OutboxItemRead]:
    """Outbound notifications, newest first; ``status=dead`` is the dead-letter list."""
    rows, total = store.list_items(session, status=status_, limit=page.limit, offset=page.offset)
    return Page(
        items=[item_read(r) for r in rows], total=total, limit=page.limit, offset=page.offset
    )


@router.post("/notifications/{item_id}/retry")
def retry_notification(
    item_id: int, _: Responder, session: SessionDep, clock: ClockDep
) -> OutboxItemRead:
    """Requeue a dead letter: due at once, with a fresh attempt budget."""
    return item_read(flows.requeue(session, item_id=item_id, now=clock.now()))


@router.get("/notification-channels")
def list_channels(_: Admin, session: SessionDep) -> list[ChannelRead]:
    """Notification channels (never their secrets)."""
    return [channel_read(r) for r in store.list_channels(session)]


@router.post("/notification-channels", status_code=status.HTTP_201_CREATED)
def create_channel(
    body: ChannelCreate, _: Admin, session: SessionDep, clock: ClockDep
) -> ChannelRead:
    """Create a channel; its secret is stored and never shown again."""
    row = store.add_channel(
        session,
        name=body.name,
        kind=body.kind,
        target=body.target.strip(),
        secret=body.secret,
        enabled=body.enabled,
        now=clock.now(),
    )
    return channel_read(row)
