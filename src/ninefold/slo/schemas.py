"""Pydantic I/O for SLOs: event batches, SLO reads, statuses, alert transitions, gates."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class Event(BaseModel):
    """Counts observed at a time: ``good`` (or ``bad``) of ``total`` events."""

    model_config = ConfigDict(extra="forbid")

    timestamp: datetime = Field(description="RFC 3339 with a time zone, e.g. 2026-11-01T12:00:00Z")
    good: float | None = Field(None, ge=0)
    bad: float | None = Field(None, ge=0)
    total: float = Field(ge=0)

    @field_validator("timestamp")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("timestamp needs a time zone (Z or +00:00)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Event:
        for name in ("good", "bad", "total"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number")
        if (self.good is None) == (self.bad is None):
            raise ValueError("give exactly one of good or bad")
        part = self.good if self.good is not None else self.bad
        assert part is not None
        if part > self.total:
            raise ValueError(f"{'good' if self.good is not None else 'bad'} exceeds total")
        return self

    @property
    def good_count(self) -> float:
        """Good events."""
        return self.good if self.good is not None else self.total - (self.bad or 0.0)


class EventBatch(BaseModel):
    """A batch of events pushed for one SLO; ``batch_id`` makes re-sending harmless."""

    model_config = ConfigDict(extra="forbid")

    batch_id: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._:/@+-]+$")
    events: list[Event] = Field(min_length=1, max_length=10_000)


class BatchResult(BaseModel):
    """Outcome of a pushed batch."""

    batch_id: str
    accepted: int
    duplicate: bool
    minutes: int


class SLORead(BaseModel):
    """An SLO definition."""

    name: str
    service: str
    team: str
    display_name: str | None
    description: str | None
    objective: float
    sli_kind: str
    source: str
    budgeting: str
    window: dict[str, Any]
    spec: dict[str, Any]


class AlertRead(BaseModel):
    """A burn-rate alert's decision at evaluation time."""

    severity: str
    firing: bool
    reason: str


class SLOStatus(BaseModel):
    """An SLO evaluated at a time."""

    name: str
    service: str
    team: str
    tier: int
    at: datetime
    window_start: datetime
    window_end: datetime
    objective: float
    sli: float | None
    objective_met: bool | None
    unit: str
    good: float
    total: float
    error_budget_total: float
    error_budget_consumed: float
    error_budget_remaining: float
    error_budget_consumed_fraction: float | None
    error_budget_remaining_fraction: float | None
    burn_rates: dict[str, float | None]
    time_to_exhaustion_seconds: float | None
    status: str
    alerts: list[AlertRead]
    error: str | None = None


class BurndownPoint(BaseModel):
    """Remaining budget fraction of the window ending at ``at``."""

    at: datetime
    sli: float | None
    remaining_fraction: float | None


class Burndown(BaseModel):
    """A budget burn-down series for charts."""

    name: str
    objective: float
    points: list[BurndownPoint]


class AlertEventRead(BaseModel):
    """A recorded burn-rate alert transition."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    slo: str
    severity: str
    state: str
    at: datetime
    burn_rates: dict[str, float | None]
    reason: str


class GateSLO(BaseModel):
    """One SLO's contribution to a release-gate decision."""

    name: str
    status: str
    remaining_fraction: float | None
    passed: bool
    reason: str


class GateResult(BaseModel):
    """Release-gate answer for a service."""

    service: str
    at: datetime
    allowed: bool
    min_budget_remaining: float
    reason: str
    slos: list[GateSLO]
