"""The channel-neutral notification every sender formats: what happened, to what, and where to act."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

from ninefold.core.clock import ensure_utc


class NotificationKind(StrEnum):
    """Why a notification is sent."""

    PAGE = "page"
    RESOLVED = "resolved"
    ACKNOWLEDGED = "acknowledged"
    ESCALATED = "escalated"
    TEST = "test"
    INCIDENT = "incident"
    REPORT = "report"


class Severity(StrEnum):
    """Alert severity, the four levels of the PagerDuty Events API v2."""

    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class NotificationLinks:
    """Where a reader can act: signed acknowledge/resolve links and a link to view the alert."""

    ack: str | None = None
    resolve: str | None = None
    view: str | None = None


def _frozen(mapping: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(sorted(mapping.items())))


@dataclass(frozen=True, slots=True)
class Notification:
    """One message to one channel; the idempotency key is stable across retries of that message."""

    idempotency_key: str
    kind: NotificationKind
    title: str
    summary: str
    severity: Severity
    service: str
    occurred_at: datetime
    alert_id: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    links: NotificationLinks = field(default_factory=NotificationLinks)

    def __post_init__(self) -> None:
        if not self.idempotency_key.strip():
            raise ValueError("a notification needs a non-empty idempotency key")
        # Coerce plain strings so that values read back from storage behave like the enums.
        object.__setattr__(self, "kind", NotificationKind(self.kind))
        object.__setattr__(self, "severity", Severity(self.severity))
        object.__setattr__(self, "occurred_at", ensure_utc(self.occurred_at))
        object.__setattr__(self, "labels", _frozen(self.labels))
        object.__setattr__(self, "annotations", _frozen(self.annotations))

    @property
    def headline(self) -> str:
        """A one-line summary such as ``[CRITICAL] Page: checkout error budget burning``."""
        return f"[{self.severity.value.upper()}] {KIND_LABELS[self.kind]}: {self.title}"


KIND_LABELS: Mapping[NotificationKind, str] = MappingProxyType(
    {
        NotificationKind.PAGE: "Page",
        NotificationKind.RESOLVED: "Resolved",
        NotificationKind.ACKNOWLEDGED: "Acknowledged",
        NotificationKind.ESCALATED: "Escalated",
        NotificationKind.TEST: "Test",
        NotificationKind.INCIDENT: "Incident update",
        NotificationKind.REPORT: "Report",
    }
)
