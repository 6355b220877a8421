"""Read-only queries for reports over the catalog, SLO, alert, on-call, incident, deploy and
(when present) postmortem tables. Keyword-only arguments, Session first; never commits.

The postmortem domain is optional: when ``ninefold.postmortem.models`` cannot be imported,
``POSTMORTEMS_AVAILABLE`` is False and its figures are reported as not available.
"""

from __future__ import annotations

import importlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, selectinload

from ninefold.alert.models import Alert, AlertEvent
from ninefold.catalog.models import Service
from ninefold.deploy.models import Deployment
from ninefold.identity.models import Team, User
from ninefold.incident.models import Incident, IncidentAlert, IncidentService
from ninefold.oncall.models import ScheduleRow
from ninefold.slo.models import SLO

_pm: Any
try:
    _pm = importlib.import_module("ninefold.postmortem.models")
except ImportError:  # pragma: no cover - depends on the code base
    _pm = None

POSTMORTEMS_AVAILABLE: bool = _pm is not None and hasattr(_pm, "Postmortem")
ACTION_ITEMS_AVAILABLE: bool = _pm is not None and hasattr(_pm, "ActionItem")
REPEATS_AVAILABLE: bool = _pm is not None and hasattr(_pm, "IncidentRepeat")

#: Deployments gain a commit time column in a later schema; until then lead time has no data.
_COMMITTED_AT: Any = getattr(Deployment, "committed_at", None)


@dataclass(frozen=True)
class ServiceRow:
    """A service with its owner team."""

    id: int
    name: str
    tier: int
    team: str
    team_id: int


@dataclass(frozen=True)
class SloRow:
    """An SLO definition."""

    id: int
    name: str
    service_id: int
    objective: float
    budgeting: str
    source: str


@dataclass(frozen=True)
class IncidentRow:
    """An incident with the ids of its services."""

    id: int
    severity: str
    started_at: datetime
    detected_at: datetime
    acknowledged_at: datetime | None
    mitigated_at: datetime | None
    resolved_at: datetime | None
    service_ids: tuple[int, ...]


@dataclass(frozen=True)
class DeployRow:
    """A deploy."""

    id: int
    service_id: int
    deployed_at: datetime
    committed_at: datetime | None
    outcome: str


@dataclass(frozen=True)
class PageRow:
    """A ``paged`` alert event with what became of its alert."""

    alert_id: int
    service_id: int | None
    at: datetime
    user: str
    escalation: str
    """The escalation, level and loop the page belongs to (one page per person per level)."""
    acknowledged: bool
    in_incident: bool


def services(
    session: Session,
    *,
    team: str | None = None,
    service: str | None = None,
    tier: int | None = None,
) -> list[ServiceRow]:
    """Services matching the filters, with their owner team."""
    stmt = select(Service.id, Service.name, Service.tier, Team.name, Team.id).join(
        Team, Service.owner_team_id == Team.id
    )
    if team:
        stmt = stmt.where(Team.name == team)
    if service:
        stmt = stmt.where(Service.name == service)
    if tier is not None:
        stmt = stmt.where(Service.tier == tier)
    return [ServiceRow(*row) for row in session.execute(stmt.order_by(Service.name))]


def team_exists(session: Session, *, name: str) -> bool:
    """Whether a team called ``name`` exists."""
    return session.scalar(select(Team.id).where(Team.name == name)) is not None


def slos(session: Session, *, service_ids: Collection[int] | None) -> list[SloRow]:
    """SLOs of the given services (every SLO for None)."""
    stmt = select(SLO.id, SLO.name, SLO.service_id, SLO.objective, SLO.budgeting, SLO.source)
    rows = [SloRow(*r) for r in session.execute(stmt.order_by(SLO.name))]
    if service_ids is None:
        return rows
    wanted = set(service_ids)
    return [r for r in rows if r.service_id in wanted]


def incidents(session: Session, *, start: datetime, end: datetime) -> list[IncidentRow]:
    """Incidents (not merged) whose impact started in [start, end), with their services."""
    stmt = (
        select(
            Incident.id,
            Incident.severity,
            Incident.started_at,
            Incident.detected_at,
            Incident.acknowledged_at,
            Incident.mitigated_at,
            Incident.resolved_at,
            IncidentService.service_id,
        )
        .outerjoin(IncidentService, IncidentService.incident_id == Incident.id)
        .where(Incident.started_at >= start, Incident.started_at < end)
        .where(Incident.status != "merged")
        .order_by(Incident.id)
    )
    out: dict[int, tuple[Any, list[int]]] = {}
    for row in session.execute(stmt):
        entry = out.setdefault(row[0], (row, []))
        if row[7] is not None:
            entry[1].append(int(row[7]))
    return [
        IncidentRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], tuple(sids))
        for r, sids in out.values()
    ]


def deploys(session: Session, *, start: datetime, end: datetime) -> list[DeployRow]:
    """Deploys in [start, end)."""
    committed = _COMMITTED_AT if _COMMITTED_AT is not None else Deployment.created_at
    stmt = (
        select(
            Deployment.id,
            Deployment.service_id,
            Deployment.deployed_at,
            committed,
            Deployment.outcome,
        )
        .where(Deployment.deployed_at >= start, Deployment.deployed_at < end)
        .order_by(Deployment.deployed_at, Deployment.id)
    )
    return [
        DeployRow(i, s, at, c if _COMMITTED_AT is not None else None, o)
        for i, s, at, c, o in session.execute(stmt)
    ]


def pages(session: Session, *, start: datetime, end: datetime) -> list[PageRow]:
    """``paged`` alert events in [start, end) with their alert's service, ack and incident.

    The paged user and escalation step are read from the event's JSON in SQL, and the ack and
    incident as booleans, so that a month of pages costs little Python per row.
    """
    details = AlertEvent.details
    stmt = (
        select(
            AlertEvent.alert_id,
            Alert.service_id,
            AlertEvent.at,
            func.coalesce(details["user"].as_string(), ""),
            func.coalesce(details["escalation"].as_string(), "")
            + ":"
            + func.coalesce(details["level"].as_string(), "")
            + ":"
            + func.coalesce(details["loop"].as_string(), ""),
            Alert.acknowledged_at.is_not(None),
            IncidentAlert.incident_id.is_not(None),
        )
        .join(Alert, Alert.id == AlertEvent.alert_id)
        .outerjoin(IncidentAlert, IncidentAlert.alert_id == Alert.id)
        .where(AlertEvent.kind == "paged", AlertEvent.at >= start, AlertEvent.at < end)
        .order_by(AlertEvent.at, AlertEvent.id)
    )
    return [
        PageRow(a, s, at, str(u), str(e), bool(ack), bool(inc))
        for a, s, at, u, e, ack, inc in session.connection().execute(stmt).all()
    ]


def alert_counts(
    session: Session, *, start: datetime, end: datetime
) -> list[tuple[str, str, int | None, int]]:
    """(fingerprint, alertname, service id, alerts) of alerts started in [start, end): one scan
    gives both the noisiest alerts (summed by name and service) and the flapping ones."""
    name = func.coalesce(Alert.labels["alertname"].as_string(), "")
    stmt = (
        select(Alert.fingerprint, name, Alert.service_id, func.count())
        .where(Alert.starts_at >= start, Alert.starts_at < end)
        .group_by(Alert.fingerprint, name, Alert.service_id)
    )
    return [(str(f), str(n), s, int(c)) for f, n, s, c in session.execute(stmt).all()]


def schedules(session: Session, *, team_ids: Collection[int] | None) -> Sequence[ScheduleRow]:
    """Schedules (with overrides) of the given teams; every schedule for None."""
    stmt = (
        select(ScheduleRow).options(selectinload(ScheduleRow.overrides)).order_by(ScheduleRow.name)
    )
    if team_ids is not None:
        stmt = stmt.where(ScheduleRow.team_id.in_(sorted(team_ids)))
    return session.scalars(stmt).all()


def user_zones(session: Session) -> dict[str, str]:
    """Every user's time zone by user name."""
    return {n: tz for n, tz in session.execute(select(User.name, User.timezone))}


def repeat_ids(session: Session, *, start: datetime, end: datetime) -> set[int] | None:
    """Ids of incidents started in [start, end) flagged as a repeat; None when repeats are not
    available."""
    if not REPEATS_AVAILABLE:
        return None
    model = _pm.IncidentRepeat
    stmt = (
        select(model.incident_id)
        .join(Incident, Incident.id == model.incident_id)
        .where(Incident.started_at >= start, Incident.started_at < end)
        .distinct()
    )
    return {int(i) for i in session.scalars(stmt)}


def postmortem_due(
    session: Session, *, start: datetime, end: datetime
) -> list[tuple[int, datetime, datetime | None]] | None:
    """(incident id, resolved at, postmortem published at) of incidents resolved in
    [start, end) that needed a postmortem (the policy required one, or one was written);
    None when postmortems are not available."""
    if not POSTMORTEMS_AVAILABLE:
        return None
    pm, check = _pm.Postmortem, _pm.PostmortemCheck
    stmt = (
        select(Incident.id, Incident.resolved_at, pm.published_at)
        .outerjoin(pm, pm.incident_id == Incident.id)
        .outerjoin(check, check.incident_id == Incident.id)
        .where(Incident.resolved_at >= start, Incident.resolved_at < end)
        .where(Incident.status != "merged")
        .where(and_(func.coalesce(check.required, False) | pm.id.is_not(None)))
    )
    return [(int(i), r, p) for i, r, p in session.execute(stmt)]


def postmortem_services(session: Session, *, incident_ids: Collection[int]) -> dict[int, set[int]]:
    """Service ids of each incident."""
    ids = sorted(incident_ids)
    out: dict[int, set[int]] = {}
    for i in range(0, len(ids), 1000):
        stmt = select(IncidentService.incident_id, IncidentService.service_id).where(
            IncidentService.incident_id.in_(ids[i : i + 1000])
        )
        for inc, svc in session.execute(stmt):
            out.setdefault(int(inc), set()).add(int(svc))
    return out


def action_items_due(
    session: Session, *, start: datetime, end: datetime
) -> list[tuple[int, Any, str, datetime | None, int | None]] | None:
    """(id, due date, status, closed at, team id) of action items due in [start, end) (by
    date); None when action items are not available."""
    if not ACTION_ITEMS_AVAILABLE:
        return None
    ai = _pm.ActionItem
    stmt = select(ai.id, ai.due_date, ai.status, ai.closed_at, ai.team_id).where(
        ai.due_date >= start.date(), ai.due_date < end.date()
    )
    return [(int(i), d, s, c, t) for i, d, s, c, t in session.execute(stmt)]
