"""API shapes of postmortems, their revisions, action items, closure stats and repeats."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

PostmortemStatus = Literal["draft", "in_review", "published"]
ItemStatus = Literal["open", "in_progress", "done", "wont_do"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _not_blank(value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise ValueError("must not be blank")
    return value.strip() if value is not None else None


class SectionRead(BaseModel):
    """One section: key, heading, Markdown body; ``edited`` once changed by hand."""

    key: str
    heading: str
    body: str
    edited: bool = False


class PostmortemRead(BaseModel):
    """A postmortem with its sections, the facts it was drafted from and blameless warnings."""

    id: int
    incident_id: int
    title: str
    status: PostmortemStatus
    reason: str
    sections: list[SectionRead]
    facts: dict[str, Any]
    created_by: str
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    blame_warnings: list[str] = Field(
        default_factory=list, description="phrases that may blame a person (blameless check)"
    )


class PostmortemSummary(BaseModel):
    """A postmortem in a list."""

    id: int
    incident_id: int
    title: str
    status: PostmortemStatus
    reason: str
    created_at: datetime
    updated_at: datetime


class PostmortemPage(BaseModel):
    """A page of postmortems."""

    items: list[PostmortemSummary]
    total: int


class StatusBody(_In):
    """Move the postmortem to another state."""

    status: PostmortemStatus


class SectionBody(_In):
    """The new Markdown body of a section; ``heading`` names a new one (or renames)."""

    body: str = Field(max_length=100_000)
    heading: str | None = Field(None, min_length=1, max_length=200)


class RevisionRead(BaseModel):
    """A recorded edit: who changed which section when, before and after."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    section: str
    actor: str
    at: datetime
    before: str | None
    after: str | None


class ActionItemCreate(_In):
    """A new action item (``priority`` P1–P4 or critical/high/medium/low)."""

    title: str = Field(min_length=1, max_length=300)
    owner: str | None = Field(None, min_length=1, max_length=100)
    due_date: date | None = None
    priority: str = Field("P3", min_length=1, max_length=10)
    incident_id: int | None = None
    postmortem_id: int | None = None
    team: str | None = Field(None, min_length=1, max_length=100)
    description: str = Field("", max_length=10_000)

    _title = field_validator("title")(_not_blank)


class ActionItemPatch(_In):
    """Change an action item; omitted fields stay, ``null`` clears owner, team or due date."""

    title: str | None = Field(None, min_length=1, max_length=300)
    description: str | None = Field(None, max_length=10_000)
    owner: str | None = Field(None, min_length=1, max_length=100)
    team: str | None = Field(None, min_length=1, max_length=100)
    due_date: date | None = None
    priority: str | None = Field(None, min_length=1, max_length=10)
    status: ItemStatus | None = None

    _title = field_validator("title")(_not_blank)


class ActionItemRead(BaseModel):
    """An action item; ``overdue`` when open past its due date."""

    id: int
    title: str
    description: str
    owner: str | None
    team: str | None
    due_date: date | None
    priority: str
    status: ItemStatus
    incident_id: int | None
    postmortem_id: int | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    overdue: bool


class ActionItemPage(BaseModel):
    """A page of action items."""

    items: list[ActionItemRead]
    total: int


class ClosureRead(BaseModel):
    """On-time closure rate: items due in [start, end] closed on or before their due date ÷
    items due in [start, end]."""

    team: str | None
    start: date
    end: date
    due: int
    closed_on_time: int
    closed_late: int
    still_open: int
    rate: float | None


class RepeatRead(BaseModel):
    """An earlier incident this one may repeat, with its open action items."""

    incident_id: int
    title: str
    reason: Literal["fingerprint", "title"]
    score: float
    detected_at: datetime
    open_action_items: list[ActionItemRead]
