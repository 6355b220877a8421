"""Pure conversion of every inbound format into one ``Incoming`` alert shape."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from ninefold.alert.fingerprint import fingerprint_hex
from ninefold.alert.schemas import AMAlert, AMWebhookAlert, PDEvent

#: How long an Alertmanager-API alert without endsAt stays firing without a re-send (as AM).
RESOLVE_TIMEOUT = timedelta(minutes=5)

_SEVERITIES = {
    "critical": "critical",
    "page": "critical",
    "high": "error",
    "error": "error",
    "major": "error",
    "warning": "warning",
    "warn": "warning",
    "minor": "warning",
    "ticket": "warning",
    "info": "info",
    "low": "info",
    "none": "info",
}

Action = Literal["trigger", "acknowledge", "resolve"]


@dataclass(frozen=True)
class Incoming:
    """An alert as received, in ninefold's terms."""

    action: Action
    dedup_key: str
    fingerprint: str
    source: str
    severity: str
    summary: str
    labels: dict[str, str]
    annotations: dict[str, str] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    generator_url: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    service_id: int | None = None
    """The alert's service when the source knows it (SLO alerts); else the integration's."""


def severity_of(value: str | None) -> str:
    """Map a label or field value to critical, error, warning or info (default error)."""
    return _SEVERITIES.get((value or "").strip().lower(), "error")


def _summary(labels: dict[str, str], annotations: dict[str, str]) -> str:
    text = (
        annotations.get("summary")
        or annotations.get("description")
        or annotations.get("message")
        or labels.get("alertname")
        or ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))
    )
    return text[:1024]


def from_alertmanager_api(alert: AMAlert, now: datetime) -> Incoming:
    """An alert posted to ``/api/v2/alerts``: endsAt in the past resolves it; without endsAt it
    stays firing for the resolve timeout unless re-sent, as Alertmanager does."""
    fp = fingerprint_hex(alert.labels)
    ends = alert.endsAt if alert.endsAt is not None else now + RESOLVE_TIMEOUT
    resolved = alert.endsAt is not None and alert.endsAt <= now
    return Incoming(
        action="resolve" if resolved else "trigger",
        dedup_key=f"am:{fp}",
        fingerprint=fp,
        source="alertmanager",
        severity=severity_of(alert.labels.get("severity")),
        summary=_summary(alert.labels, alert.annotations),
        labels=dict(alert.labels),
        annotations=dict(alert.annotations),
        generator_url=alert.generatorURL,
        starts_at=alert.startsAt or now,
        ends_at=ends,
    )


def from_alertmanager_webhook(alert: AMWebhookAlert, now: datetime) -> Incoming:
    """An alert inside an Alertmanager webhook: its status decides; no expiry (AM resolves it)."""
    fp = fingerprint_hex(alert.labels)
    return Incoming(
        action="resolve" if alert.status == "resolved" else "trigger",
        dedup_key=f"am:{fp}",
        fingerprint=fp,
        source="alertmanager-webhook",
        severity=severity_of(alert.labels.get("severity")),
        summary=_summary(alert.labels, alert.annotations),
        labels=dict(alert.labels),
        annotations=dict(alert.annotations),
        generator_url=alert.generatorURL,
        starts_at=alert.startsAt or now,
        ends_at=alert.endsAt if alert.status == "resolved" else None,
    )


def pagerduty_dedup_key(event: PDEvent, received_id: str) -> str:
    """The event's dedup_key, or one generated as PagerDuty does when a trigger has none."""
    if event.dedup_key:
        return event.dedup_key
    return hashlib.sha256(received_id.encode()).hexdigest()[:32]


def from_pagerduty(event: PDEvent, integration_id: int, dedup_key: str, now: datetime) -> Incoming:
    """A PagerDuty Events API v2 event; dedup keys are scoped to the routing key's integration."""
    labels: dict[str, str] = {"dedup_key": dedup_key}
    details: dict[str, Any] = {}
    summary = ""
    severity = "error"
    starts = now
    if event.payload is not None:
        p = event.payload
        summary = p.summary
        severity = p.severity
        starts = p.timestamp if p.timestamp is not None and p.timestamp.tzinfo else now
        labels.update({"source": p.source, "severity": p.severity})
        for name, value in (("component", p.component), ("group", p.group), ("class", p.class_)):
            if value:
                labels[name] = value
        if p.custom_details is not None:
            details["custom_details"] = p.custom_details
    if event.links:
        details["links"] = [link.model_dump(exclude_none=True) for link in event.links]
    if event.images:
        details["images"] = [img.model_dump(exclude_none=True) for img in event.images]
    if event.client:
        details["client"] = event.client
    if event.client_url:
        details["client_url"] = event.client_url
    return Incoming(
        action=event.event_action,
        dedup_key=f"pd:{integration_id}:{dedup_key}",
        fingerprint=fingerprint_hex({"dedup_key": dedup_key, "integration": str(integration_id)}),
        source="pagerduty",
        severity=severity,
        summary=summary or dedup_key,
        labels=labels,
        details=details,
        generator_url=event.client_url,
        starts_at=starts,
    )
