"""Pydantic I/O for notification channels and the outbox; secrets are accepted, never returned."""

from __future__ import annotations

from datetime import datetime
from email.utils import parseaddr
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

ChannelKind = Literal["webhook", "slack", "teams", "mattermost", "email"]
OutboxStatus = Literal["pending", "sending", "sent", "dead"]


class ChannelCreate(BaseModel):
    """A new notification channel."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    kind: ChannelKind
    target: str = Field(min_length=1, max_length=2000)
    secret: str | None = Field(None, min_length=8, max_length=500)
    enabled: bool = True

    @model_validator(mode="after")
    def _target(self) -> ChannelCreate:
        if self.kind == "email":
            _, address = parseaddr(self.target)
            if address != self.target.strip() or "@" not in address or " " in address:
                raise ValueError(
                    "target: an email channel needs one address such as ops@example.com"
                )
            if self.secret is not None:
                raise ValueError("secret: email channels are not signed")
        else:
            parts = urlsplit(self.target)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"target: a {self.kind} channel needs an http(s) URL")
        return self


def redact_target(kind: str, target: str) -> str:
    """Return ``target`` as the API shows it: webhook URLs lose their path (it is often the secret)."""
    if kind == "email":
        return target
    parts = urlsplit(target)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    suffix = "/…" if parts.path not in ("", "/") or parts.query else ""
    return f"{parts.scheme}://{host}{suffix}"


class ChannelRead(BaseModel):
    """A channel as the API shows it: no secret, and a webhook URL without its path."""

    id: int
    name: str
    kind: ChannelKind
    target: str
    signed: bool
    enabled: bool
    created_at: datetime


class OutboxItemRead(BaseModel):
    """A queued, sent or dead-lettered notification."""

    id: int
    idempotency_key: str
    channel: str
    status: OutboxStatus
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    last_status_code: int | None
    created_at: datetime
    sent_at: datetime | None
    notification: dict[str, Any]
