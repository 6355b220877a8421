"""Pydantic I/O for alerts: Alertmanager v2 alerts and webhook v4, PagerDuty Events v2, reads."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
#: Alertmanager writes this for "no end time" in webhook payloads.
ZERO_TIME_YEAR = 1


_VALID_NAMES: set[str] = set()
"""Label names already found valid: the same few dozen names arrive on every alert."""
_VALID_NAMES_MAX = 10_000


def _check_labels(value: dict[str, str]) -> dict[str, str]:
    if not value:
        raise ValueError("at least one label is required")
    if _VALID_NAMES.issuperset(value):
        return value
    for name in value:
        if not _LABEL_NAME.match(name):
            raise ValueError(f"invalid label name {name!r}")
    if len(_VALID_NAMES) < _VALID_NAMES_MAX:
        _VALID_NAMES.update(value)
    return value


class AMAlert(BaseModel):
    """An alert as Prometheus posts it to Alertmanager's ``POST /api/v2/alerts``."""

    model_config = ConfigDict(extra="ignore")

    labels: dict[str, str]
    annotations: dict[str, str] = {}
    startsAt: datetime | None = None
    endsAt: datetime | None = None
    generatorURL: str | None = Field(None, max_length=2000)

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_labels(value)

    @field_validator("startsAt", "endsAt")
    @classmethod
    def _zone(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("needs a time zone (Z or +00:00)")
        if value is not None and value.year <= ZERO_TIME_YEAR:
            return None
        return value


class AMWebhookAlert(AMAlert):
    """One alert inside an Alertmanager webhook (version 4) notification."""

    status: Literal["firing", "resolved"]
    fingerprint: str | None = None


class AMWebhook(BaseModel):
    """Alertmanager webhook payload, version 4."""

    model_config = ConfigDict(extra="ignore")

    version: str = "4"
    groupKey: str | None = None
    status: Literal["firing", "resolved"] | None = None
    receiver: str | None = None
    groupLabels: dict[str, str] = {}
    commonLabels: dict[str, str] = {}
    commonAnnotations: dict[str, str] = {}
    externalURL: str | None = None
    alerts: list[dict[str, Any]] = Field(max_length=10_000)

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if value != "4":
            raise ValueError(f"unsupported webhook version {value!r}; ninefold reads version 4")
        return value


class PDLink(BaseModel):
    """A link attached to a PagerDuty event."""

    model_config = ConfigDict(extra="ignore")

    href: str = Field(max_length=2000)
    text: str | None = Field(None, max_length=1024)


class PDImage(BaseModel):
    """An image attached to a PagerDuty event."""

    model_config = ConfigDict(extra="ignore")

    src: str = Field(max_length=2000)
    href: str | None = Field(None, max_length=2000)
    alt: str | None = Field(None, max_length=1024)


class PDPayload(BaseModel):
    """The ``payload`` of a PagerDuty Events API v2 trigger."""

    model_config = ConfigDict(extra="ignore")

    summary: str = Field(min_length=1, max_length=1024)
    source: str = Field(min_length=1, max_length=255)
    severity: Literal["critical", "error", "warning", "info"]
    timestamp: datetime | None = None
    component: str | None = Field(None, max_length=255)
    group: str | None = Field(None, max_length=255)
    class_: str | None = Field(None, alias="class", max_length=255)
    custom_details: dict[str, Any] | str | None = None


class PDEvent(BaseModel):
    """A PagerDuty Events API v2 event (``POST /v2/enqueue``)."""

    model_config = ConfigDict(extra="ignore")

    routing_key: str = Field(min_length=1, max_length=200)
    event_action: Literal["trigger", "acknowledge", "resolve"]
    dedup_key: str | None = Field(None, min_length=1, max_length=255)
    payload: PDPayload | None = None
    client: str | None = Field(None, max_length=255)
    client_url: str | None = Field(None, max_length=2000)
    links: list[PDLink] = []
    images: list[PDImage] = []


class AlertRead(BaseModel):
    """An alert as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    fingerprint: str
    dedup_key: str
    source: str
    status: str
    severity: str
    summary: str
    service: str | None
    labels: dict[str, Any]
    annotations: dict[str, Any]
    details: dict[str, Any]
    generator_url: str | None
    starts_at: datetime
    ends_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    last_received_at: datetime
    receive_count: int
    suppression: dict[str, Any] | None = None
    """Why the alert is held back (silenced, snoozed, maintenance, inhibited, dependency)."""


class BatchError(BaseModel):
    """Why one alert of a batch was refused."""

    index: int
    field: str
    message: str


class IntegrationCreate(BaseModel):
    """Request to create an inbound integration."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    kind: Literal["alertmanager", "pagerduty", "webhook"]
    service: str | None = None
    rate_limit_per_minute: int = Field(6000, ge=1, le=10_000_000)
    mapping: dict[str, Any] | None = None
    """Webhook integrations only: where to find the alerts (see ``ninefold.alert.mapping``)."""
    require_signature: bool = False
    """Webhook integrations only: refuse requests without a valid ``X-Ninefold-Signature``."""
    signing_secret: str | None = Field(None, max_length=500)
    """The HMAC secret senders sign with; generated (and shown once) when left out."""


class IntegrationRead(BaseModel):
    """An integration (never its key)."""

    id: int
    name: str
    kind: str
    service: str | None
    key_prefix: str
    rate_limit_per_minute: int
    created_at: datetime
    require_signature: bool = False


class IntegrationCreated(IntegrationRead):
    """A new integration: the key is shown once (and a signing secret ninefold generated)."""

    key: str
    signing_secret: str | None = None
