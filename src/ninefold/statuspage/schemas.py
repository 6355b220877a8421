"""Pydantic I/O of the status page: the public JSON (shaped like Atlassian Statuspage's v2 API so
that existing status widgets can read it) and the admin override.

Field names follow Statuspage: ``page{id,name,url,time_zone,updated_at}``,
``status{indicator,description}``, components with ``group``/``group_id``/``components``, incidents
with ``impact``, ``shortlink`` and ``incident_updates``; ids are strings. Extra ninefold fields
are left out so the shapes stay close.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ComponentStatus = Literal[
    "operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance"
]
Indicator = Literal["none", "minor", "major", "critical"]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class PageOut(_Out):
    """The page."""

    id: str
    name: str
    url: str
    time_zone: str = "Etc/UTC"
    updated_at: datetime


class StatusOut(_Out):
    """The page's overall status."""

    indicator: Indicator
    description: str


class ComponentOut(_Out):
    """A component, or a group of components (``group`` true, members in ``components``)."""

    id: str
    name: str
    status: ComponentStatus
    created_at: datetime
    updated_at: datetime
    position: int
    description: str | None
    showcase: bool = True
    start_date: date | None
    group_id: str | None
    page_id: str
    group: bool = False
    only_show_if_degraded: bool = False
    components: list[str] | None = None


class IncidentUpdateOut(_Out):
    """A published update of an incident (or the announcement of a maintenance)."""

    id: str
    status: str
    body: str
    incident_id: str
    created_at: datetime
    updated_at: datetime
    display_at: datetime
    affected_components: None = None


class IncidentOut(_Out):
    """A public incident with its published updates, newest first."""

    id: str
    name: str
    status: str
    created_at: datetime
    updated_at: datetime
    monitoring_at: datetime | None
    resolved_at: datetime | None
    impact: Literal["none", "minor", "major", "critical", "maintenance"]
    shortlink: str
    started_at: datetime
    page_id: str
    incident_updates: list[IncidentUpdateOut]
    components: list[ComponentOut]


class MaintenanceOut(IncidentOut):
    """A scheduled maintenance (from the alert domain's maintenance windows)."""

    scheduled_for: datetime
    scheduled_until: datetime


class StatusResponse(_Out):
    """``status.json``."""

    page: PageOut
    status: StatusOut


class ComponentsResponse(_Out):
    """``components.json``."""

    page: PageOut
    components: list[ComponentOut]


class IncidentsResponse(_Out):
    """``incidents.json`` and ``incidents/unresolved.json``."""

    page: PageOut
    incidents: list[IncidentOut]


class MaintenancesResponse(_Out):
    """``scheduled-maintenances*.json``."""

    page: PageOut
    scheduled_maintenances: list[MaintenanceOut]


class SummaryResponse(_Out):
    """``summary.json``: components, unresolved incidents, upcoming and active maintenance."""

    page: PageOut
    components: list[ComponentOut]
    incidents: list[IncidentOut]
    scheduled_maintenances: list[MaintenanceOut]
    status: StatusOut


class UptimeDayOut(_Out):
    """One UTC day of a component (``uptime`` null: the component did not exist yet)."""

    date: date
    uptime: float | None
    major_outage_seconds: float
    partial_outage_seconds: float
    degraded_performance_seconds: float


class ComponentUptimeOut(_Out):
    """90 days of a component."""

    id: str
    name: str
    uptime: float | None
    days: list[UptimeDayOut]


class UptimeResponse(_Out):
    """``uptime.json`` (a ninefold addition; Statuspage has no public equivalent)."""

    page: PageOut
    components: list[ComponentUptimeOut]


class OverrideBody(BaseModel):
    """Set (or with null, clear) a component's manual state."""

    model_config = ConfigDict(extra="forbid")

    status: ComponentStatus | None = Field(description="null returns to the derived state")


class AdminComponentRead(_Out):
    """A component as admins see it: derived and effective state, override and services."""

    id: int
    name: str
    group: str | None
    services: list[str]
    derived_status: ComponentStatus
    status: ComponentStatus
    override_status: ComponentStatus | None
    override_set_at: datetime | None
    override_set_by: str | None
