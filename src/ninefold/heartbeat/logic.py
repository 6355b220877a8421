"""Pure heartbeat rules: deadlines, displayed status and the alerts a missed beat raises."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ninefold.alert.fingerprint import fingerprint_hex
from ninefold.alert.normalize import Incoming
from ninefold.core.durations import format_duration

SOURCE = "heartbeat"
ALERTNAME = "HeartbeatMissed"


@dataclass(frozen=True)
class Monitor:
    """What the rules need to know about a heartbeat monitor."""

    name: str
    interval_seconds: int
    grace_seconds: int
    severity: str = "critical"
    service: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    service_id: int | None = None


def dedup_key(name: str) -> str:
    """The dedup key of a monitor's alert: one open alert per monitor."""
    return f"{SOURCE}:{name}"


def deadline(monitor: Monitor, since: datetime) -> datetime:
    """When the monitor is late: ``since`` (last beat, or creation) + interval + grace."""
    return since + timedelta(seconds=monitor.interval_seconds + monitor.grace_seconds)


def status(stored: str, deadline_at: datetime, now: datetime) -> str:
    """``down`` once the deadline passed (even before the engine job noticed), else as stored."""
    if stored == "down" or now >= deadline_at:
        return "down"
    return stored


def _duration(seconds: int) -> str:
    return format_duration(seconds) if seconds > 0 else "0s"


def labels(monitor: Monitor) -> dict[str, str]:
    """The alert's labels: the monitor's own, then alertname, heartbeat, service, severity."""
    out = {str(k): str(v) for k, v in monitor.labels.items()}
    out.update({"alertname": ALERTNAME, "heartbeat": monitor.name, "severity": monitor.severity})
    if monitor.service:
        out["service"] = monitor.service
    return out


def missed(monitor: Monitor, *, last_beat_at: datetime | None, deadline_at: datetime) -> Incoming:
    """The alert raised when no beat arrived before ``deadline_at``."""
    lab = labels(monitor)
    every = _duration(monitor.interval_seconds)
    grace = _duration(monitor.grace_seconds)
    since = (
        f"last beat at {last_beat_at.isoformat()}" if last_beat_at is not None else "never pinged"
    )
    return Incoming(
        action="trigger",
        dedup_key=dedup_key(monitor.name),
        fingerprint=fingerprint_hex(lab),
        source=SOURCE,
        severity=monitor.severity,
        summary=f"Heartbeat {monitor.name} missed ({since})"[:1024],
        labels=lab,
        annotations={
            "description": f"{monitor.name} should ping every {every} (grace {grace}); "
            f"{since}, deadline was {deadline_at.isoformat()}."
        },
        details={
            "heartbeat": monitor.name,
            "interval_seconds": monitor.interval_seconds,
            "grace_seconds": monitor.grace_seconds,
            "last_beat_at": last_beat_at.isoformat() if last_beat_at else None,
            "deadline_at": deadline_at.isoformat(),
        },
        starts_at=deadline_at,
        service_id=monitor.service_id,
    )


def recovered(monitor: Monitor, *, beat_at: datetime) -> Incoming:
    """The resolve sent when a beat arrives for a monitor that is down."""
    lab = labels(monitor)
    return Incoming(
        action="resolve",
        dedup_key=dedup_key(monitor.name),
        fingerprint=fingerprint_hex(lab),
        source=SOURCE,
        severity=monitor.severity,
        summary=f"Heartbeat {monitor.name} is beating again",
        labels=lab,
        details={"recovered_at": beat_at.isoformat()},
        ends_at=beat_at,
    )
