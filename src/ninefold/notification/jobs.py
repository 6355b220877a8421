"""Periodic outbox delivery: the engine module that sends due notifications with real senders."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from ninefold.integrations.notify.backoff import BackoffPolicy
from ninefold.integrations.notify.senders import SmtpSender, WebhookSender
from ninefold.notification.flows import DEFAULT_LEASE, DeliveryReport, Senders, deliver_due

log = logging.getLogger("ninefold.notification")

BATCH = 20
"""Rows claimed per batch; with a 10 s sender timeout a batch fits well inside the 5 min lease."""

MAX_BATCHES = 50
"""Batches per run at most, so one run cannot starve the other engine modules."""


def build_senders(settings: Any, clock: Any = None) -> Senders:
    """Real senders from settings: httpx webhooks always, SMTP when ``smtp_host`` is set."""
    timeout = float(getattr(settings, "notification_timeout_seconds", 10.0))
    webhook = WebhookSender(timeout=timeout, clock=clock)
    email = None
    host = getattr(settings, "smtp_host", None)
    if host:
        email = SmtpSender(
            host=host,
            port=int(getattr(settings, "smtp_port", 25) or 25),
            from_address=getattr(settings, "smtp_from", None) or "ninefold@localhost",
            starttls=bool(getattr(settings, "smtp_starttls", False)),
            username=getattr(settings, "smtp_username", None),
            password=getattr(settings, "smtp_password", None),
            timeout=timeout,
        )
    return Senders(webhook=webhook, email=email)


def retry_policy(settings: Any) -> BackoffPolicy:
    """The retry schedule from settings (defaults: 5 s doubling to 15 min, 12 attempts)."""
    default = BackoffPolicy()
    base = timedelta(seconds=float(getattr(settings, "notification_retry_base_seconds", 5.0)))
    return BackoffPolicy(
        base=base,
        cap=max(default.cap, base),
        max_attempts=int(getattr(settings, "notification_max_attempts", default.max_attempts)),
    )


def _senders(state: Any) -> Senders:
    """The senders cached on the app state (one httpx connection pool per process)."""
    senders: Senders | None = getattr(state, "notification_senders", None)
    if senders is None:
        senders = build_senders(state.settings, getattr(state, "clock", None))
        state.notification_senders = senders
    return senders


def _dead_page(state: Any, key: str, error: str | None) -> None:
    """An escalation page went dead: let its escalation page the next level now."""
    if not key.startswith("esc-"):
        return
    from ninefold.db.engine import write_lock
    from ninefold.oncall.deadpages import escalate_after_dead_page

    try:
        with write_lock(state.engine), state.session_factory() as session, session.begin():
            escalate_after_dead_page(
                session,
                idempotency_key=key,
                error=error,
                now=state.clock.now(),
                public_url=state.settings.public_url,
            )
    except Exception:
        log.exception("escalating after the dead page %s failed", key)
    runner = getattr(state, "engine_runner", None)
    if runner is not None:
        runner.wake_delivery()


def run_with_state(state: Any) -> DeliveryReport:
    """Engine entry point: deliver due notifications batch by batch until none are left."""
    senders = _senders(state)
    metrics = getattr(state, "metrics", None)
    counter = getattr(metrics, "notifications", None)
    total = DeliveryReport()
    seconds = getattr(state.settings, "notification_lease_seconds", None)
    lease = timedelta(seconds=float(seconds)) if seconds else DEFAULT_LEASE
    policy = retry_policy(state.settings)
    for _ in range(MAX_BATCHES):
        report = deliver_due(
            state.session_factory,
            now=state.clock.now(),
            senders=senders,
            limit=BATCH,
            on_dead=lambda key, error: _dead_page(state, key, error),
            lease=lease,
            policy=policy,
        )
        total = DeliveryReport(
            claimed=total.claimed + report.claimed,
            sent=total.sent + report.sent,
            retried=total.retried + report.retried,
            dead=total.dead + report.dead,
            lost=total.lost + report.lost,
        )
        if counter is not None:
            for result in ("sent", "retried", "dead", "lost"):
                if n := getattr(report, result):
                    counter.labels(result).inc(n)
        if report.claimed < BATCH:
            break
    if total.claimed:
        log.info(
            "notifications: %d sent, %d to retry, %d dead, %d lost leases",
            total.sent,
            total.retried,
            total.dead,
            total.lost,
        )
    return total


def health_with_state(state: Any) -> int:
    """Engine entry point: raise or resolve alerts about failing channels; returns how many."""
    from ninefold.alert.dispatch import submit_with_state
    from ninefold.notification.flows import channel_health_alerts

    with state.session_factory() as session:
        items = channel_health_alerts(session, now=state.clock.now())
    if items:
        submit_with_state(state, items)
    return len(items)
