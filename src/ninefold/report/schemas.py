"""API shapes of reports: the reliability scorecard (durations in seconds, rates 0..1)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class SummaryRead(BaseModel):
    """count, mean, median, p90 and max of a sample (None when empty)."""

    count: int
    mean: float | None
    median: float | None
    p90: float | None
    max: float | None


class RateRead(BaseModel):
    """``numerator`` of ``denominator``."""

    numerator: int
    denominator: int
    rate: float | None


class PeriodRead(BaseModel):
    """The reported half-open interval."""

    label: str
    kind: str
    start: datetime
    end: datetime


class Filters(BaseModel):
    """The selection the numbers cover (None = everything)."""

    team: str | None = None
    service: str | None = None
    tier: int | None = None


class SloLine(BaseModel):
    """One SLO over the period."""

    name: str
    service: str
    team: str
    tier: int
    objective: float
    good: float
    total: float
    sli: float | None
    met: bool | None
    budget_consumed: float | None


class AttainmentRead(BaseModel):
    """SLOs met of SLOs with data in a group."""

    group: str
    slos: int
    with_data: int
    met: int
    missed: int
    attainment: float | None


class Series(BaseModel):
    """A named line or bar series over the trend buckets."""

    name: str
    values: list[float | None]


class SloSection(BaseModel):
    """SLO attainment and budgets."""

    overall: AttainmentRead
    slos: list[SloLine]
    by_service: list[AttainmentRead]
    by_tier: list[AttainmentRead]
    by_team: list[AttainmentRead]
    missed: list[str]
    no_data: list[str]
    burn: list[Series] = Field(description="cumulative budget consumed per bucket, top SLOs")


class IncidentSection(BaseModel):
    """Incident response."""

    total: int
    open: int
    unacknowledged: int
    by_severity: dict[str, int]
    by_service: dict[str, int]
    by_team: dict[str, int]
    time_to_detect: SummaryRead
    time_to_acknowledge: SummaryRead
    time_to_mitigate: SummaryRead
    time_to_resolve: SummaryRead
    time_between_failures: dict[str, SummaryRead]
    repeat_rate: float | None
    repeat_available: bool
    postmortem_days: int
    postmortem_completion: RateRead | None
    action_items_on_time: RateRead | None
    severity_trend: list[Series]
    mttx_trend: list[Series] = Field(description="median hours per bucket")


class Noisy(BaseModel):
    """An alert by name and service, with how often it fired."""

    alertname: str
    service: str
    count: int
    fingerprint: str = ""


class ShiftPages(BaseModel):
    """Pages during one shift."""

    schedule: str
    user: str
    start: datetime
    end: datetime
    pages: int


class OncallSection(BaseModel):
    """On-call health."""

    pages: int
    shifts: int
    pages_per_shift: SummaryRead
    pages_outside_shifts: int
    busiest_shifts: list[ShiftPages]
    pages_per_person: dict[str, int]
    outside_working_hours: int
    outside_working_hours_rate: float | None
    actionability: float | None
    noisiest: list[Noisy]
    flapping: list[Noisy]
    flapping_threshold: int
    pages_trend: list[Series]


class DoraSection(BaseModel):
    """Delivery performance (DORA)."""

    deploys: int
    deploys_per_day: float | None
    per_service_median_per_day: float | None
    lead_time: SummaryRead
    without_commit_time: int
    failed_deploys: int
    change_failure_rate: float | None
    change_failure_window_hours: float
    time_to_restore: SummaryRead
    restore_open: int
    rework_deploys: int
    rework_rate: float | None
    rework_window_hours: float
    levels: dict[str, str | None]
    levels_source: str
    trend: list[Series]


class Scorecard(BaseModel):
    """The reliability scorecard of a selection over a period."""

    period: PeriodRead
    filters: Filters
    generated_at: datetime
    buckets: list[str]
    slo: SloSection
    incidents: IncidentSection
    oncall: OncallSection
    dora: DoraSection
    notes: list[str] = Field(default_factory=list)
