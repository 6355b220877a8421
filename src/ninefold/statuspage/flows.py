"""Status page use cases: the public view (components, states, incidents, maintenance, uptime)
and the admin override.

**What is public.** An incident appears (and affects component states and uptime) once it has
at least one update posted with ``published``; merged incidents never appear. Of an incident only
its title, severity-derived impact, lifecycle times (started, resolved), affected components and
its *published* updates (status and message) are shown. Timeline entries, notes, alerts and
their labels, roles, responders, user names, unpublished updates, the summary and links are never
read here. An incident's public status is the status of its latest published update, or
``resolved`` once the incident is resolved. Maintenance windows show their reason only when the
page's ``show_maintenance_reason`` is set, never who created them.

**Impact** from the severity rank: 1 critical, 2 major, 3 and above minor. The page's indicator is
the worst of the components' states (major outage → critical, partial → major, degraded → minor)
and the unresolved incidents' impacts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from ninefold.alert import store as alert_store
from ninefold.alert.models import MaintenanceWindow
from ninefold.identity import guard
from ninefold.incident import flows as incident_flows
from ninefold.incident.models import Incident, IncidentUpdate
from ninefold.statuspage import store, uptime
from ninefold.statuspage.models import StatusComponent
from ninefold.statuspage.schemas import (
    AdminComponentRead,
    ComponentOut,
    IncidentOut,
    IncidentUpdateOut,
    MaintenanceOut,
    PageOut,
    StatusOut,
)

HISTORY_DAYS = 90
PAST_INCIDENT_DAYS = 14
INCIDENT_LIMIT = 50
DEFAULT_TITLE = "Status"
UNKNOWN_SEVERITY_RANK = 3

_IMPACT = {1: "critical", 2: "major"}
_INDICATOR_OF_STATE = {
    uptime.MAJOR: "critical",
    uptime.PARTIAL: "major",
    uptime.DEGRADED: "minor",
}
_INDICATOR_RANK = {"none": 0, "minor": 1, "major": 2, "critical": 3}
_DESCRIPTION = {
    "none": "All Systems Operational",
    "minor": "Minor Service Outage",
    "major": "Partial System Outage",
    "critical": "Major System Outage",
}


def impact(rank: int) -> str:
    """Statuspage impact of a severity rank."""
    return _IMPACT.get(rank, "minor")


@dataclass
class ComponentView:
    """A component with its effective state and, when asked for, its uptime days."""

    row: StatusComponent
    service_ids: set[int]
    derived: str
    status: str
    updated_at: datetime
    out: ComponentOut | None = None
    days: list[uptime.DayUptime] = field(default_factory=list)

    @property
    def uptime(self) -> float | None:
        """90-day uptime in percent."""
        return uptime.overall_uptime(self.days)


@dataclass
class PublicView:
    """Everything the public page and its JSON show, computed once per request."""

    page: PageOut
    description: str
    status: StatusOut
    components: list[ComponentView]
    groups: list[tuple[ComponentOut | None, list[ComponentView]]]
    component_list: list[ComponentOut]
    incidents: list[IncidentOut]
    maintenances: list[MaintenanceOut]
    now: datetime

    @property
    def unresolved(self) -> list[IncidentOut]:
        """Incidents not resolved yet."""
        return [i for i in self.incidents if i.status != "resolved"]

    def past(self) -> list[IncidentOut]:
        """Incidents resolved in the last 14 days."""
        since = self.now - timedelta(days=PAST_INCIDENT_DAYS)
        return [i for i in self.incidents if i.resolved_at is not None and i.resolved_at >= since]

    def maintenances_in(self, *statuses: str) -> list[MaintenanceOut]:
        """Maintenances with one of ``statuses`` (scheduled, in_progress, completed)."""
        return [m for m in self.maintenances if m.status in statuses]


def _ranks(session: Session) -> dict[str, int]:
    return {d.name: d.rank for d in incident_flows.severity_defs(session)}


def _public_status(incident: Incident, updates: Sequence[IncidentUpdate]) -> str:
    if incident.resolved_at is not None or incident.status == "resolved":
        return "resolved"
    return updates[-1].public_status if updates else "investigating"


def _window_status(window: MaintenanceWindow, now: datetime) -> str:
    if now < window.starts_at:
        return "scheduled"
    return "in_progress" if now < window.ends_at else "completed"


def build_view(
    session: Session, *, now: datetime, public_url: str, with_uptime: bool = False
) -> PublicView:
    """The public view of the page at ``now`` (``with_uptime`` adds 90 days per component)."""
    page_row = store.page(session)
    rows = store.components(session)
    page_url = public_url.rstrip("/") + "/status"
    page_id = "ninefold"
    ranks = _ranks(session)
    since = now - timedelta(days=HISTORY_DAYS)
    incidents = store.public_incidents(session, since=since)
    ids = [i.id for i in incidents]
    services_of = store.incident_service_ids(session, incident_ids=ids)
    updates_of = store.published_updates(session, incident_ids=ids)
    public_status = {i.id: _public_status(i, updates_of[i.id]) for i in incidents}
    covered = {s.id for c in rows for s in c.services}
    windows = [
        w
        for w in alert_store.maintenance_windows(
            session, now=now - timedelta(days=PAST_INCIDENT_DAYS)
        )
        if w.service_id in covered and w.starts_at <= now + timedelta(days=HISTORY_DAYS)
    ]
    active_windows = [w for w in windows if w.starts_at <= now < w.ends_at]

    views: list[ComponentView] = []
    for row in rows:
        sids = {s.id for s in row.services}
        states: list[str] = []
        updated = [row.updated_at]
        if row.override_set_at is not None:
            updated.append(row.override_set_at)
        outages: list[uptime.Outage] = []
        for inc in incidents:
            if not services_of[inc.id] & sids:
                continue
            rank = ranks.get(inc.severity, UNKNOWN_SEVERITY_RANK)
            if public_status[inc.id] != "resolved":
                states.append(
                    uptime.incident_state(
                        rank=rank,
                        mitigated=inc.mitigated_at is not None,
                        monitoring=public_status[inc.id] == "monitoring",
                    )
                )
            updated.extend(u.created_at for u in updates_of[inc.id])
            if inc.resolved_at is not None:
                updated.append(inc.resolved_at)
            outages.extend(
                uptime.incident_outages(
                    rank=rank,
                    started_at=inc.started_at,
                    mitigated_at=inc.mitigated_at,
                    resolved_at=inc.resolved_at,
                )
            )
        for w in windows:
            if w.service_id in sids:
                updated.extend(t for t in (w.starts_at, w.ends_at) if t <= now)
        if any(w.service_id in sids for w in active_windows):
            states.append(uptime.MAINTENANCE)
        derived = uptime.worst(states)
        view = ComponentView(
            row=row,
            service_ids=sids,
            derived=derived,
            status=row.override_status or derived,
            updated_at=max(t for t in updated if t <= now)
            if any(t <= now for t in updated)
            else row.updated_at,
        )
        if with_uptime:
            view.days = uptime.daily_uptime(
                outages, now=now, since=row.created_at, days=HISTORY_DAYS
            )
        views.append(view)

    # groups first in Statuspage's flat list: a group is a component with ``group`` true
    group_rows = store.groups(session)
    group_outs: dict[int, ComponentOut] = {}
    component_list: list[ComponentOut] = []
    position = 0
    for g in group_rows:
        members = [v for v in views if v.row.group_id == g.id]
        if not members:
            continue
        position += 1
        group_outs[g.id] = ComponentOut(
            id=f"g{g.id}",
            name=g.name,
            status=uptime.worst(v.status for v in members),
            created_at=g.created_at,
            updated_at=max([g.updated_at, *(v.updated_at for v in members)]),
            position=position,
            description=None,
            start_date=None,
            group_id=None,
            page_id=page_id,
            group=True,
            components=[str(v.row.id) for v in members],
        )
    for view in views:
        position += 1
        view.out = ComponentOut(
            id=str(view.row.id),
            name=view.row.name,
            status=view.status,
            created_at=view.row.created_at,
            updated_at=view.updated_at,
            position=position,
            description=view.row.description or None,
            start_date=view.row.created_at.date(),
            group_id=f"g{view.row.group_id}" if view.row.group_id in group_outs else None,
            page_id=page_id,
        )
    for view in views:
        assert view.out is not None
    ordered: list[tuple[ComponentOut | None, list[ComponentView]]] = []
    for g in group_rows:
        if g.id in group_outs:
            ordered.append((group_outs[g.id], [v for v in views if v.row.group_id == g.id]))
    loose = [v for v in views if v.row.group_id not in group_outs]
    if loose:
        ordered.insert(0, (None, loose))
    component_list.extend(group_outs.values())
    component_list.extend(v.out for v in views if v.out is not None)

    def comps_of(service_ids: set[int]) -> list[ComponentOut]:
        return [v.out for v in views if v.out is not None and v.service_ids & service_ids]

    incident_outs: list[IncidentOut] = []
    for inc in incidents:
        ups = updates_of[inc.id]
        status = public_status[inc.id]
        times = [u.created_at for u in ups]
        if inc.resolved_at is not None:
            times.append(inc.resolved_at)
        monitoring = next((u.created_at for u in ups if u.public_status == "monitoring"), None)
        incident_outs.append(
            IncidentOut(
                id=str(inc.id),
                name=inc.title,
                status=status,
                created_at=ups[0].created_at,
                updated_at=max(times),
                monitoring_at=monitoring,
                resolved_at=inc.resolved_at if status == "resolved" else None,
                impact=impact(ranks.get(inc.severity, UNKNOWN_SEVERITY_RANK)),
                shortlink=f"{page_url}#incident-{inc.id}",
                started_at=inc.started_at,
                page_id=page_id,
                incident_updates=[
                    IncidentUpdateOut(
                        id=str(u.id),
                        status=u.public_status,
                        body=u.message,
                        incident_id=str(inc.id),
                        created_at=u.created_at,
                        updated_at=u.created_at,
                        display_at=u.created_at,
                    )
                    for u in reversed(ups)
                ],
                components=comps_of(services_of[inc.id]),
            )
        )
    incident_outs.sort(key=lambda i: (i.updated_at, i.id), reverse=True)

    show_reason = page_row.show_maintenance_reason if page_row is not None else False
    maint_outs = [
        _maintenance(w, now, page_url, page_id, show_reason, comps_of({w.service_id}))
        for w in windows
    ]
    maint_outs.sort(key=lambda m: (m.scheduled_for, m.id))

    indicator = "none"
    for state in (v.status for v in views):
        candidate = _INDICATOR_OF_STATE.get(state, "none")
        if _INDICATOR_RANK[candidate] > _INDICATOR_RANK[indicator]:
            indicator = candidate
    for inc_out in incident_outs:
        if (
            inc_out.status != "resolved"
            and _INDICATOR_RANK[inc_out.impact] > _INDICATOR_RANK[indicator]
        ):
            indicator = inc_out.impact
    description = _DESCRIPTION[indicator]
    if indicator == "none" and any(v.status == uptime.MAINTENANCE for v in views):
        description = "Service Under Maintenance"
    stamps = [v.updated_at for v in views] + [i.updated_at for i in incident_outs]
    if page_row is not None:
        stamps.append(page_row.updated_at)
    page = PageOut(
        id=page_id,
        name=page_row.title if page_row is not None else DEFAULT_TITLE,
        url=page_url,
        updated_at=max(stamps) if stamps else now,
    )
    return PublicView(
        page=page,
        description=page_row.description if page_row is not None else "",
        status=StatusOut(indicator=indicator, description=description),
        components=views,
        groups=ordered,
        component_list=component_list,
        incidents=incident_outs[:INCIDENT_LIMIT],
        maintenances=maint_outs,
        now=now,
    )


def _maintenance(
    window: MaintenanceWindow,
    now: datetime,
    page_url: str,
    page_id: str,
    show_reason: bool,
    components: list[ComponentOut],
) -> MaintenanceOut:
    names = ", ".join(c.name for c in components)
    reason = window.reason.strip() if show_reason else ""
    name = reason.splitlines()[0][:200] if reason else f"Scheduled maintenance: {names}"
    status = _window_status(window, now)
    body = reason or f"Planned maintenance of {names}."
    mid = f"m{window.id}"
    updated = (
        max(t for t in (window.created_at, window.starts_at, window.ends_at) if t <= now)
        if (window.starts_at <= now)
        else window.created_at
    )
    return MaintenanceOut(
        id=mid,
        name=name,
        status=status,
        created_at=window.created_at,
        updated_at=updated,
        monitoring_at=None,
        resolved_at=window.ends_at if status == "completed" else None,
        impact="maintenance",
        shortlink=f"{page_url}#maintenance-{window.id}",
        started_at=window.starts_at,
        page_id=page_id,
        incident_updates=[
            IncidentUpdateOut(
                id=f"{mid}-scheduled",
                status="scheduled",
                body=body,
                incident_id=mid,
                created_at=window.created_at,
                updated_at=window.created_at,
                display_at=window.created_at,
            )
        ],
        components=components,
        scheduled_for=window.starts_at,
        scheduled_until=window.ends_at,
    )


def admin_components(
    session: Session, *, now: datetime, public_url: str
) -> list[AdminComponentRead]:
    """Every component with its derived and effective state (admin view)."""
    view = build_view(session, now=now, public_url=public_url)
    return [
        AdminComponentRead(
            id=v.row.id,
            name=v.row.name,
            group=v.row.group.name if v.row.group else None,
            services=[s.name for s in v.row.services],
            derived_status=v.derived,
            status=v.status,
            override_status=v.row.override_status,
            override_set_at=v.row.override_set_at,
            override_set_by=v.row.override_set_by,
        )
        for v in view.components
    ]


def set_override(
    session: Session, *, component_id: int, status: str | None, actor: str, now: datetime
) -> StatusComponent:
    """Set or clear a component's manual state; it wins over the derived state while set."""
    row = store.component(session, component_id=component_id, lock=True)
    owners = guard.service_owners(session, [s.id for s in row.services])
    guard.ensure(session, kind="status component", name=row.name, team_ids=owners, needed="admin")
    row.override_status = status
    row.override_set_at = now if status is not None else None
    row.override_set_by = actor if status is not None else None
    row.updated_at = now
    session.flush()
    return row
