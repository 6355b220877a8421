"""Outbox flows: enqueue in the caller's transaction; claim, send and record due notifications.

Delivery runs in three steps so that no database lock is held while talking to a receiver:

1. claim (one short transaction): due rows are locked (``FOR UPDATE SKIP LOCKED`` on PostgreSQL),
   set to ``sending`` with a fresh ``lease_id`` and a lease expiry in ``next_attempt_at``, and the
   attempt is counted; the transaction commits before anything is sent;
2. send each claimed row through the sender for its channel's kind, outside any transaction;
3. record each result in its own short transaction, only while the row's lease is still the one
   this worker took: ``sent``, a jittered retry (``pending`` with a later ``next_attempt_at``) or
   ``dead``.

A worker that crashes between 1 and 3 leaves its rows ``sending``; once the lease expires they are
due again and another worker sends them once more. That is the only way a notification can go out
twice, and receivers deduplicate it by the ``Idempotency-Key`` header every send carries.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ninefold.core.clock import ensure_utc
from ninefold.errors import Conflict
from ninefold.integrations.notify.backoff import BackoffPolicy, decide
from ninefold.integrations.notify.message import Notification, NotificationLinks
from ninefold.integrations.notify.payloads import PayloadFormat
from ninefold.integrations.notify.senders import (
    DeliveryOutcome,
    DeliveryResult,
    EmailTransport,
    WebhookTransport,
)
from ninefold.notification import store
from ninefold.notification.models import NotificationChannel, OutboxItem

log = logging.getLogger("ninefold.notification")

DEFAULT_LEASE = timedelta(minutes=5)
"""How long a claim lasts; it must exceed the time to send one batch (limit x sender timeout)."""

_ERROR_MAX = 1000

WEBHOOK_FORMATS: Mapping[str, PayloadFormat] = {
    "webhook": PayloadFormat.GENERIC,
    "slack": PayloadFormat.SLACK,
    "teams": PayloadFormat.TEAMS,
    "mattermost": PayloadFormat.MATTERMOST,
}


@dataclass(frozen=True, slots=True)
class Senders:
    """The transports delivery uses: one for every webhook dialect, one for email (optional)."""

    webhook: WebhookTransport
    email: EmailTransport | None = None


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What one ``deliver_due`` call did."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    dead: int = 0
    lost: int = 0
    """Results dropped because the lease had expired and another worker took the row."""


def notification_document(notification: Notification) -> dict[str, Any]:
    """Return ``notification`` as the JSON document stored in the outbox."""
    n = notification
    return {
        "idempotency_key": n.idempotency_key,
        "kind": n.kind.value,
        "title": n.title,
        "summary": n.summary,
        "severity": n.severity.value,
        "service": n.service,
        "occurred_at": n.occurred_at.isoformat(),
        "alert_id": n.alert_id,
        "labels": dict(n.labels),
        "annotations": dict(n.annotations),
        "links": {"ack": n.links.ack, "resolve": n.links.resolve, "view": n.links.view},
    }


def notification_from_document(document: Mapping[str, Any]) -> Notification:
    """Rebuild the Notification stored by ``notification_document``."""
    links = document.get("links") or {}
    return Notification(
        idempotency_key=document["idempotency_key"],
        kind=document["kind"],
        title=document["title"],
        summary=document["summary"],
        severity=document["severity"],
        service=document["service"],
        occurred_at=datetime.fromisoformat(document["occurred_at"]),
        alert_id=document.get("alert_id"),
        labels=document.get("labels") or {},
        annotations=document.get("annotations") or {},
        links=NotificationLinks(
            ack=links.get("ack"), resolve=links.get("resolve"), view=links.get("view")
        ),
    )


def _row(channel_id: int, notification: Notification, now: datetime) -> dict[str, Any]:
    """The outbox row that queues ``notification`` for a channel, due now."""
    return {
        "idempotency_key": notification.idempotency_key,
        "channel_id": channel_id,
        "notification": notification_document(notification),
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def enqueue(
    session: Session, *, channel: str, notification: Notification, now: datetime
) -> OutboxItem:
    """Queue ``notification`` for ``channel`` in the caller's transaction; idempotent by key.

    Nothing commits here: the row becomes visible with the state change that caused it, or not at
    all. A second enqueue with the same idempotency key adds nothing and returns the first row
    (even for another channel: keys must be unique per channel, e.g. ``alert-42:page:1:ops``).
    """
    ch = store.get_channel(session, name=channel)
    now = ensure_utc(now)
    store.insert_many_if_absent(session, rows=[_row(ch.id, notification, now)])
    item = store.item_by_key(session, idempotency_key=notification.idempotency_key)
    if item is None:  # pragma: no cover - the row was just inserted or already there
        raise RuntimeError("outbox row vanished after insert")
    if item.channel_id != ch.id:
        log.warning(
            "idempotency key %r already queued for another channel; not queued for %s",
            notification.idempotency_key,
            channel,
        )
    return item


def enqueue_many(
    session: Session, *, items: Sequence[tuple[str, Notification]], now: datetime
) -> list[str]:
    """Queue many (channel name, notification) pairs in one statement, in the caller's
    transaction, idempotent by key like :func:`enqueue`; returns the channel names that do not
    exist (their notifications are not queued)."""
    now = ensure_utc(now)
    ids = store.channel_ids(session, names=[name for name, _ in items])
    missing = sorted({name for name, _ in items if name not in ids})
    store.insert_many_if_absent(
        session,
        rows=[_row(ids[name], n, now) for name, n in items if name in ids],
    )
    return missing


def requeue(session: Session, *, item_id: int, now: datetime) -> OutboxItem:
    """Put a dead letter back in the queue, due now, with a fresh attempt budget."""
    item = store.get_item(session, item_id=item_id)
    if item.status != "dead":
        raise Conflict(f"notification {item_id} is {item.status}; only dead letters are retried")
    item.status = "pending"
    item.attempts = 0
    item.next_attempt_at = ensure_utc(now)
    item.lease_id = None
    session.flush()
    return item


@dataclass(frozen=True, slots=True)
class _Claim:
    item_id: int
    lease_id: str
    attempts: int
    document: dict[str, Any]
    channel: NotificationChannel | None


def _claim(
    session_factory: sessionmaker[Session], *, now: datetime, limit: int, lease: timedelta
) -> list[_Claim]:
    with session_factory() as session, session.begin():
        rows = store.due_items(session, now=now, limit=limit)
        channels = store.channels_by_id(session, ids=[r.channel_id for r in rows])
        claims = []
        for row in rows:
            row.status = "sending"
            row.attempts += 1
            row.lease_id = uuid.uuid4().hex
            row.next_attempt_at = now + lease
            claims.append(
                _Claim(
                    row.id,
                    row.lease_id,
                    row.attempts,
                    row.notification,
                    channels.get(row.channel_id),
                )
            )
        for ch in channels.values():
            session.expunge(ch)
    return claims


def send_to_channel(
    senders: Senders, channel: NotificationChannel, notification: Notification
) -> DeliveryResult:
    """Deliver ``notification`` through the transport and format of ``channel``; never raises."""
    if not channel.enabled:
        return DeliveryResult(DeliveryOutcome.PERMANENT, f"channel {channel.name!r} is disabled")
    try:
        if channel.kind == "email":
            if senders.email is None:
                return DeliveryResult(
                    DeliveryOutcome.RETRYABLE, "no SMTP relay is configured for email channels"
                )
            return senders.email.send_email([channel.target], notification)
        fmt = WEBHOOK_FORMATS.get(channel.kind)
        if fmt is None:
            return DeliveryResult(
                DeliveryOutcome.PERMANENT, f"unknown channel kind {channel.kind!r}"
            )
        return senders.webhook.send(channel.target, notification, format=fmt, secret=channel.secret)
    except Exception as exc:  # a sender bug must not stop the batch
        log.exception("sending to channel %s failed", channel.name)
        return DeliveryResult(DeliveryOutcome.RETRYABLE, f"{type(exc).__name__}: {exc}")


def _send(senders: Senders, claim: _Claim) -> DeliveryResult:
    if claim.channel is None:  # pragma: no cover - the foreign key cascades
        return DeliveryResult(DeliveryOutcome.PERMANENT, "channel no longer exists")
    try:
        notification = notification_from_document(claim.document)
    except (KeyError, TypeError, ValueError) as exc:
        return DeliveryResult(DeliveryOutcome.PERMANENT, f"unreadable notification: {exc}")
    return send_to_channel(senders, claim.channel, notification)


def _record(
    session_factory: sessionmaker[Session],
    claim: _Claim,
    result: DeliveryResult,
    *,
    now: datetime,
    policy: BackoffPolicy,
    rand: Callable[[], float],
    retry_until: float = 0.0,
) -> str:
    """Store one result under the claim's lease; return sent, retried, dead or lost."""
    values: dict[str, Any] = {"lease_id": None, "last_status_code": result.status_code}
    if result.delivered:
        outcome = "sent"
        values |= {"status": "sent", "sent_at": now, "next_attempt_at": None}
    else:
        decision = decide(
            policy,
            attempts=claim.attempts,
            permanent=not result.retryable,
            retry_after=result.retry_after,
            rand=rand,
        )
        error = f"attempt {claim.attempts}: {result.detail}"[:_ERROR_MAX]
        values["last_error"] = error
        if decision.dead_letter:
            outcome = "dead"
            values |= {"status": "dead", "next_attempt_at": None}
        else:
            outcome = "retried"
            values |= {"status": "pending", "next_attempt_at": now + decision.delay}
    held = _write_result(session_factory, claim, values, retry_until=retry_until)
    if not held:
        log.warning(
            "lease on notification %s expired before its result was recorded", claim.item_id
        )
        return "lost"
    if outcome == "dead":
        log.warning("notification %s dead-lettered: %s", claim.item_id, values["last_error"])
    return outcome


def _write_result(
    session_factory: sessionmaker[Session],
    claim: _Claim,
    values: dict[str, Any],
    *,
    retry_until: float,
) -> bool:
    """Record a result; while the database is unreachable, keep trying until ``retry_until``
    (monotonic seconds, inside the lease), so that a notification already delivered is not
    sent again just because the database was away when its result came back."""
    pause = 0.2
    while True:
        try:
            with session_factory() as session, session.begin():
                return store.update_leased(
                    session, item_id=claim.item_id, lease_id=claim.lease_id, values=values
                )
        except OperationalError:
            if time.monotonic() + pause >= retry_until:
                raise
            log.warning("database unavailable; recording notification %s again", claim.item_id)
            time.sleep(pause)
            pause = min(pause * 2, 2.0)


def deliver_due(
    session_factory: sessionmaker[Session],
    *,
    now: datetime,
    senders: Senders,
    limit: int = 20,
    policy: BackoffPolicy | None = None,
    rand: Callable[[], float] = random.random,
    lease: timedelta = DEFAULT_LEASE,
    on_dead: Callable[[str, str | None], object] | None = None,
) -> DeliveryReport:
    """Claim up to ``limit`` due notifications, send them, and record each outcome.

    ``on_dead(idempotency_key, error)`` is called for each notification that was just
    dead-lettered (an escalation uses it to page its next level at once).
    """
    now = ensure_utc(now)
    policy = policy or BackoffPolicy()
    claims = _claim(session_factory, now=now, limit=limit, lease=lease)
    # results are recorded until shortly before the lease ends (then another worker may claim)
    retry_until = time.monotonic() + lease.total_seconds() * 0.8
    counts = {"sent": 0, "retried": 0, "dead": 0, "lost": 0}
    for claim in claims:
        result = _send(senders, claim)
        outcome = _record(
            session_factory,
            claim,
            result,
            now=now,
            policy=policy,
            rand=rand,
            retry_until=retry_until,
        )
        counts[outcome] += 1
        if outcome == "dead" and on_dead is not None:
            on_dead(str(claim.document.get("idempotency_key", "")), result.detail)
    return DeliveryReport(claimed=len(claims), **counts)


CHANNEL_ALERT = "NotificationChannelFailing"
"""``alertname`` of the alert ninefold raises about its own failing channels."""


def channel_health_alerts(session: Session, *, now: datetime) -> list[Any]:
    """Alerts about channels that keep failing (a dead letter since their last successful
    send), and resolves for those that recovered; to be passed to ``dispatch.intake``.

    Route ``alertname="NotificationChannelFailing"`` to another receiver: an alert about a
    channel must not depend on that channel.
    """
    from ninefold.alert import store as alert_store
    from ninefold.alert.fingerprint import fingerprint_hex
    from ninefold.alert.normalize import Incoming

    failing = store.channel_failures(session)
    keys = {name: f"ninefold:channel-failing:{name}" for name in store.channel_names(session)}
    open_ = alert_store.open_alerts_by_key(session, keys=list(keys.values()))
    items: list[Any] = []
    for name, key in keys.items():
        labels = {"alertname": CHANNEL_ALERT, "channel": name, "severity": "critical"}
        if name in failing and key not in open_:
            dead, error = failing[name]
            items.append(
                Incoming(
                    action="trigger",
                    dedup_key=key,
                    fingerprint=fingerprint_hex(labels),
                    source="ninefold",
                    severity="critical",
                    summary=f"notification channel {name} keeps failing",
                    labels=labels,
                    annotations={
                        "description": f"{dead} notification(s) dead-lettered since the last "
                        f"successful send; last error: {error or 'unknown'}"
                    },
                    details={"dead_letters": dead, "last_error": error},
                    starts_at=now,
                )
            )
        elif name not in failing and key in open_:
            items.append(
                Incoming(
                    action="resolve",
                    dedup_key=key,
                    fingerprint=fingerprint_hex(labels),
                    source="ninefold",
                    severity="critical",
                    summary=f"notification channel {name} keeps failing",
                    labels=labels,
                    ends_at=now,
                )
            )
    return items
