"""Read pages of the console: overview, service and SLO (with the JSON its charts draw)."""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from ninefold.alert import store as alert_store
from ninefold.catalog import store as catalog_store
from ninefold.catalog.models import Service
from ninefold.deploy import store as deploy_store
from ninefold.deps import ClockDep, SessionDep, SettingsDep
from ninefold.incident import store as incident_store
from ninefold.oncall import flows as oncall_flows
from ninefold.oncall import store as oncall_store
from ninefold.oncall.rotation import on_call_at
from ninefold.slo import flows as slo_flows
from ninefold.slo import store as slo_store
from ninefold.slo.alerting import thresholds
from ninefold.slo.schemas import SLOStatus
from ninefold.slo.windows import BURN_WINDOWS, nominal_period_seconds
from ninefold.slo.wiring import prometheus_source
from ninefold.web.render import page
from ninefold.web.session import WebUserDep

router = APIRouter()
log = logging.getLogger("ninefold.web")

PER_TIER = 50
TIER_NAMES = {0: "Tier 0 · critical", 1: "Tier 1", 2: "Tier 2", 3: "Tier 3"}
_STATUS_ORDER = {
    "exhausted": 0,
    "critical": 1,
    "warning": 2,
    "stale": 3,
    "no_data": 4,
    "healthy": 5,
}


def worst(statuses: list[SLOStatus]) -> str:
    """The worst status among SLOs ('none' without SLOs)."""
    if not statuses:
        return "none"
    return min((s.status for s in statuses), key=lambda s: _STATUS_ORDER.get(s, 6))


def on_call_now(session: Any, now: Any) -> list[dict[str, Any]]:
    """Who is on call on every schedule now."""
    return [
        {
            "schedule": row.name,
            "team": row.team.name if row.team else None,
            "users": on_call_at(oncall_flows.schedule_of(row), now),
        }
        for row in oncall_store.list_schedules(session)
    ]


@dataclass(frozen=True)
class Health:
    """What the overview shows of the organisation's SLOs, as plain values."""

    at: datetime
    tiers: list[tuple[int, list[dict[str, Any]]]]
    burning: list[SLOStatus]


def _health(session: Any, statuses: list[SLOStatus], at: datetime) -> Health:
    by_service: dict[str, list[SLOStatus]] = defaultdict(list)
    for st in statuses:
        by_service[st.service].append(st)
    tiers: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for svc in catalog_store.all_services(session):
        sts = by_service.get(svc.name, [])
        budgets = [
            s.error_budget_remaining_fraction
            for s in sts
            if s.error_budget_remaining_fraction is not None
        ]
        tiers[svc.tier].append(
            {
                "name": svc.name,
                "title": svc.display_name or svc.name,
                "owner": svc.owner.name,
                "slos": [(s.name, s.status) for s in sts],
                "status": worst(sts),
                "budget": min(budgets) if budgets else None,
            }
        )
    for rows in tiers.values():  # the services that need attention first
        rows.sort(key=lambda r: (_STATUS_ORDER.get(r["status"], 6), r["budget"] or 0, r["name"]))
    burning = [s for s in statuses if s.status in ("exhausted", "critical", "warning")]
    return Health(at, sorted(tiers.items()), burning)


class HealthCache:
    """The overview's SLO health, recomputed at most every ``ttl``.

    The overview of a large organisation would otherwise evaluate thousands of SLOs per
    request; the engine evaluates once a minute, so a few seconds of staleness shows nothing new.
    Only the very first request waits for the computation; later ones get the last value while
    one background thread refreshes it.
    """

    def __init__(self, ttl: timedelta = timedelta(seconds=15)) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._refreshing = False
        self._value: Health | None = None

    def _compute(self, state: Any, now: datetime) -> Health:
        with state.session_factory() as session, session.begin():
            slos, _ = slo_store.list_slos(session)
            statuses = slo_flows.evaluate_slos(
                session, slos=slos, at=now, prometheus=prometheus_source(state.settings)
            )
            return _health(session, statuses, now)

    def _refresh(self, state: Any, now: datetime) -> None:
        try:
            value = self._compute(state, now)
            with self._lock:
                self._value = value
        except Exception:  # keep serving the last value; the next request retries
            log.exception("refreshing the overview's SLO health failed")
        finally:
            with self._lock:
                self._refreshing = False

    def get(self, request: Request, now: datetime) -> Health:
        """Fresh-enough health of every SLO and service."""
        state = request.app.state
        with self._lock:
            value = self._value
            if value is not None and value.at <= now < value.at + self.ttl:
                return value
            if value is not None:
                if not self._refreshing:
                    self._refreshing = True
                    threading.Thread(target=self._refresh, args=(state, now), daemon=True).start()
                return value
            # nothing yet: compute under the lock so that concurrent first requests wait once
            self._value = self._compute(state, now)
            return self._value


def health_cache(request: Request) -> HealthCache:
    """The app's health cache (created on first use)."""
    cache = getattr(request.app.state, "web_health_cache", None)
    if cache is None:
        cache = request.app.state.web_health_cache = HealthCache()
    assert isinstance(cache, HealthCache)
    return cache


@router.get("/", response_class=HTMLResponse)
def overview(
    request: Request,
    user: WebUserDep,
    session: SessionDep,
    clock: ClockDep,
    show_all: Annotated[bool, Query(alias="all")] = False,
) -> HTMLResponse:
    """Services by tier with SLO status and budget, open incidents, firing alerts, on call now."""
    now = clock.now()
    health = health_cache(request).get(request, now)
    firing, firing_total = alert_store.list_alerts(
        session, stmt=alert_store.alert_query(status="firing"), limit=15, offset=0
    )
    return page(
        request,
        "overview.html",
        user,
        now=now,
        evaluated_at=health.at,
        tiers=health.tiers,
        limit=None if show_all else PER_TIER,
        tier_names=TIER_NAMES,
        burning=health.burning[:PER_TIER],
        burning_total=len(health.burning),
        incidents=incident_store.active_incidents(session),
        alerts=firing,
        alerts_total=firing_total,
        oncall=on_call_now(session, now),
    )


def _graph(svc: Service, dependents: list[str]) -> dict[str, Any]:
    """Positions for a small dependency graph: dependents → service → dependencies."""
    deps = [d.depends_on.name for d in svc.dependencies]
    rows = max(len(deps), len(dependents), 1)
    height = rows * 34 + 16
    box_w, col = 150, [10, 235, 460]

    def column(names: list[str], x: int) -> list[dict[str, Any]]:
        top = (height - len(names) * 34) // 2
        return [{"name": n, "x": x, "y": top + i * 34 + 4} for i, n in enumerate(names)]

    left = column(dependents, col[0])
    right = column(deps, col[2])
    me = {"name": svc.name, "x": col[1], "y": height // 2 - 13}
    return {"left": left, "right": right, "me": me, "height": height, "box_w": box_w}


@router.get("/services/{name}", response_class=HTMLResponse)
def service_page(
    name: str,
    request: Request,
    user: WebUserDep,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> HTMLResponse:
    """One service: SLOs, dependencies, recent alerts, incidents, deploys and links."""
    now = clock.now()
    svc = catalog_store.get_service(session, name=name)
    slos, _ = slo_store.list_slos(session, service=name)
    statuses = slo_flows.evaluate_slos(
        session, slos=slos, at=now, prometheus=prometheus_source(settings)
    )
    alerts, _n = alert_store.list_alerts(
        session, stmt=alert_store.alert_query(service_id=svc.id), limit=10, offset=0
    )
    incidents, _m = incident_store.list_incidents(session, service_id=svc.id, limit=10)
    deploys, _k = deploy_store.list_deployments(session, service_id=svc.id, limit=10)
    dependents = list(catalog_store.dependents(session, service_id=svc.id))
    return page(
        request,
        "service.html",
        user,
        svc=svc,
        statuses=statuses,
        alerts=alerts,
        incidents=incidents,
        deploys=deploys,
        dependents=dependents,
        graph=_graph(svc, dependents),
    )


@router.get("/slos/{name}", response_class=HTMLResponse)
def slo_page(
    name: str,
    request: Request,
    user: WebUserDep,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> HTMLResponse:
    """One SLO: figures, burn rates against thresholds, charts and alert history."""
    slo = slo_store.get_slo(session, name=name)
    st = slo_flows.evaluate_slos(
        session, slos=[slo], at=clock.now(), prometheus=prometheus_source(settings)
    )[0]
    period = nominal_period_seconds(slo_flows.spec_of(slo))
    rules = [
        {
            "severity": sev,
            "long": long,
            "short": short,
            "factor": f,
            "long_rate": st.burn_rates.get(long),
            "short_rate": st.burn_rates.get(short),
        }
        for sev, long, short, f in thresholds(period)
    ]
    events, _ = slo_store.alert_events(session, slo_id=slo.id, limit=10)
    return page(
        request,
        "slo.html",
        user,
        slo=slo,
        st=st,
        rules=rules,
        windows=[label for label, _ in BURN_WINDOWS],
        events=events,
    )


@router.get("/api/slos/{name}/series")
def slo_series(
    name: str,
    _: WebUserDep,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Chart data: SLI and remaining budget over the window, objective, annotations."""
    now = clock.now()
    slo = slo_store.get_slo(session, name=name)
    bd = slo_flows.burndown(
        session, slo=slo, at=now, points=120, prometheus=prometheus_source(settings)
    )
    start = bd.points[0].at - timedelta(minutes=1) if bd.points else now - timedelta(days=30)
    incidents, _n = incident_store.list_incidents(session, service_id=slo.service_id, limit=50)
    deploys = deploy_store.between(session, service_ids=[slo.service_id], start=start, end=now)
    return {
        "name": slo.name,
        "objective": bd.objective,
        "t": [int(p.at.timestamp()) for p in bd.points],
        "sli": [p.sli for p in bd.points],
        "remaining": [p.remaining_fraction for p in bd.points],
        "annotations": [
            {"t": int(i.started_at.timestamp()), "kind": "incident", "label": f"#{i.id} {i.title}"}
            for i in incidents
            if i.started_at >= start
        ]
        + [
            {"t": int(d.deployed_at.timestamp()), "kind": "deploy", "label": f"deploy {d.version}"}
            for d in deploys
        ],
    }
