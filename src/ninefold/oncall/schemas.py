"""API shapes for schedules, overrides, escalation policies, notification rules, escalations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class ScheduleWrite(BaseModel):
    """A schedule as written: layers are documents (see ``ninefold.oncall.spec``)."""

    description: str | None = Field(None, max_length=2000)
    team: str | None = None
    time_zone: str = "UTC"
    layers: list[dict[str, Any]] = Field(min_length=1, max_length=20)


class OverrideWrite(BaseModel):
    """``user`` takes the schedule over [start, end)."""

    user: str = Field(min_length=1, max_length=100)
    start: datetime
    end: datetime


class OverrideRead(BaseModel):
    """A stored override."""

    id: int
    user: str
    start: datetime
    end: datetime
    created_by: str
    created_at: datetime


class ScheduleRead(BaseModel):
    """A schedule with who is on call at the time asked."""

    name: str
    description: str | None
    team: str | None
    time_zone: str
    layers: list[dict[str, Any]]
    overrides: list[OverrideRead]
    on_call_now: list[str]


class ShiftRead(BaseModel):
    """A resolved shift: who, when, and from which layer (or ``override``)."""

    user: str
    start: datetime
    end: datetime
    source: str


class OnCallRead(BaseModel):
    """Who is on call on one schedule at ``at``."""

    schedule: str
    team: str | None
    at: datetime
    users: list[str]


class PolicyWrite(BaseModel):
    """An escalation policy: levels of ``{delay, targets}``, ``repeat`` more loops."""

    description: str | None = Field(None, max_length=2000)
    team: str | None = None
    repeat: int = Field(0, ge=0, le=20)
    levels: list[dict[str, Any]] = Field(min_length=1, max_length=20)


class PolicyRead(BaseModel):
    """A stored escalation policy."""

    name: str
    description: str | None
    team: str | None
    repeat: int
    levels: list[dict[str, Any]]


class RuleWrite(BaseModel):
    """A personal notification rule: ``channel``, ``after`` (e.g. 0m, 5m) once paged."""

    after: str | int = "0m"
    channel: str = Field(min_length=1, max_length=100)


class RuleRead(BaseModel):
    """A stored rule."""

    after_seconds: int
    channel: str


class EscalationRead(BaseModel):
    """A running (or finished) escalation of an alert group."""

    id: int
    group_id: int
    policy: str | None
    status: str
    level: int
    loop: int
    level_started_at: datetime
    next_step_at: datetime | None
    paged: list[str]
    assignee: str | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    alert_ids: list[int]


class SnoozeRequest(BaseModel):
    """Snooze for ``minutes`` (or until ``until``)."""

    minutes: int | None = Field(None, ge=1, le=7 * 24 * 60)
    until: datetime | None = None


class ReassignRequest(BaseModel):
    """Page ``user`` now instead of the policy's current level."""

    user: str = Field(min_length=1, max_length=100)
