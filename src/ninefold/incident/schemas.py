"""API shapes of incidents: declare, change, lifecycle, roles, responders, timeline, updates."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

PublicStatus = Literal["investigating", "identified", "monitoring", "resolved"]
Title = Field(min_length=1, max_length=300)
Links = dict[str, str]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _strip(value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise ValueError("must not be blank")
    return value.strip() if value is not None else None


class IncidentCreate(_In):
    """Declare an incident; ``alert_ids`` join it (their services become affected)."""

    title: str = Title
    severity: str | None = Field(None, description="default: from the alerts, else SEV2")
    services: list[str] = Field(default_factory=list, max_length=100)
    summary: str = Field("", max_length=10_000)
    alert_ids: list[int] = Field(default_factory=list, max_length=500)
    started_at: AwareDatetime | None = Field(None, description="impact began (may be earlier)")
    detected_at: AwareDatetime | None = None
    links: Links = Field(default_factory=dict, description="e.g. chat, ticket")

    _title = field_validator("title")(_strip)


class IncidentFromAlert(_In):
    """Declare an incident from one alert; its summary is the default title."""

    title: str | None = Field(None, min_length=1, max_length=300)
    severity: str | None = None
    summary: str = Field("", max_length=10_000)


class IncidentPatch(_In):
    """Change fields of an incident; omitted fields stay as they are."""

    title: str | None = Field(None, min_length=1, max_length=300)
    summary: str | None = Field(None, max_length=10_000)
    severity: str | None = None
    services: list[str] | None = Field(None, max_length=100)
    links: Links | None = None
    public_status: PublicStatus | None = None

    _title = field_validator("title")(_strip)


class TimestampsPatch(_In):
    """Correct lifecycle timestamps; a field given as null clears it."""

    started_at: AwareDatetime | None = None
    detected_at: AwareDatetime | None = None
    acknowledged_at: AwareDatetime | None = None
    mitigated_at: AwareDatetime | None = None
    resolved_at: AwareDatetime | None = None

    def changes(self) -> dict[str, datetime | None]:
        """Only the fields the request named."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class ActionBody(_In):
    """When the transition happened (default now)."""

    at: AwareDatetime | None = None


class AlertIds(_In):
    """Alerts to attach."""

    alert_ids: list[int] = Field(min_length=1, max_length=500)


class MergeBody(_In):
    """Merge this incident into ``into`` (the survivor)."""

    into: int


class RoleAssign(_In):
    """Who gets the role."""

    user: str = Field(min_length=1, max_length=100)


class ResponderAdd(_In):
    """Add one user, whoever a schedule has on call now, or an escalation policy's first level."""

    user: str | None = Field(None, min_length=1, max_length=100)
    schedule: str | None = Field(None, min_length=1, max_length=100)
    escalation_policy: str | None = Field(None, min_length=1, max_length=100)

    @model_validator(mode="after")
    def _one(self) -> ResponderAdd:
        if sum(v is not None for v in (self.user, self.schedule, self.escalation_policy)) != 1:
            raise ValueError("give exactly one of user, schedule, escalation_policy")
        return self


class NoteCreate(_In):
    """A manual timeline note."""

    message: str = Field(min_length=1, max_length=10_000)
    at: AwareDatetime | None = None
    key_moment: bool = False

    _message = field_validator("message")(_strip)


class EntryPatch(_In):
    """Mark or unmark a timeline entry as a key moment."""

    key_moment: bool


class UpdateCreate(_In):
    """A stakeholder update; ``channels`` default to the severity's channels."""

    public_status: PublicStatus
    message: str = Field(min_length=1, max_length=10_000)
    channels: list[str] | None = Field(None, max_length=20)
    publish: bool = Field(True, description="shown on the status page")

    _message = field_validator("message")(_strip)


class AlertRef(BaseModel):
    """An attached alert."""

    id: int
    summary: str
    status: str
    source: str
    service: str | None
    starts_at: datetime
    attached_at: datetime
    attached_by: str


class RoleRead(BaseModel):
    """Who holds a role."""

    role: str
    user: str
    assigned_at: datetime
    assigned_by: str


class ResponderRead(BaseModel):
    """A person working the incident."""

    user: str
    source: str
    source_name: str | None
    added_at: datetime
    paged_at: datetime | None


class UpdateRead(BaseModel):
    """A stakeholder update."""

    id: int
    public_status: str
    message: str
    published: bool
    channels: list[str]
    created_by: str
    created_at: datetime


class IncidentRead(BaseModel):
    """An incident with its services, alerts, roles, responders and updates."""

    id: int
    title: str
    summary: str
    severity: str
    status: str
    public_status: str
    links: dict[str, Any]
    started_at: datetime
    detected_at: datetime
    acknowledged_at: datetime | None
    mitigated_at: datetime | None
    resolved_at: datetime | None
    declared_at: datetime
    declared_by: str
    merged_into: int | None
    updated_at: datetime
    services: list[str]
    alerts: list[AlertRef] = Field(default_factory=list)
    roles: list[RoleRead] = Field(default_factory=list)
    responders: list[ResponderRead] = Field(default_factory=list)
    updates: list[UpdateRead] = Field(default_factory=list)


class IncidentPage(BaseModel):
    """A page of incidents (without alerts, roles, responders and updates)."""

    items: list[IncidentRead]
    total: int


class TimelineEntryRead(BaseModel):
    """A timeline entry."""

    id: int
    kind: str
    at: datetime
    actor: str | None
    message: str
    details: dict[str, Any]
    key_moment: bool


class SeverityRead(BaseModel):
    """A severity level."""

    name: str
    rank: int
    description: str
    channels: list[str]


class RoleDefRead(BaseModel):
    """An incident role."""

    name: str
    description: str
    builtin: bool
