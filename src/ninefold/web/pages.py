"""Read pages of the console: overview, service and SLO (with the JSON its charts draw)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import load_only

from ninefold.alert import store as alert_store
from ninefold.alert.models import Alert
from ninefold.catalog import store as catalog_store
from ninefold.catalog.models import Service
from ninefold.deploy import store as deploy_store
from ninefold.deps import ClockDep, SessionDep, SettingsDep
from ninefold.errors import NotFound
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
from ninefold.web.health import health_cache
from ninefold.web.render import page, render, render_macro
from ninefold.web.session import WebUserDep
from ninefold.web.viewcache import LIVE_TTL, view_cache

router = APIRouter()

PER_TIER = 10
"""Services shown per tier (and burning SLOs) before "show more"."""
PAGE = 100
"""Rows a "show more" adds."""
SLO_EVALUATIONS_KEPT = 512
"""SLO pages whose evaluation is kept for a few seconds (the most recently used)."""
TIER_NAMES = {0: "Tier 0 · critical", 1: "Tier 1", 2: "Tier 2", 3: "Tier 3"}


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


@router.get("/", response_class=HTMLResponse)
def overview(
    request: Request,
    user: WebUserDep,
    session: SessionDep,
    clock: ClockDep,
    show_all: Annotated[bool, Query(alias="all")] = False,
    tier: Annotated[int | None, Query(ge=0, le=1000)] = None,
) -> HTMLResponse:
    """Services by tier with SLO status and budget, open incidents, firing alerts, on call now.

    Per tier only the services that need attention most are shown (``tier`` shows one tier in
    full, ``all`` every tier); the SLO health part is the same for everyone and rendered once
    per snapshot; the lists (incidents, alerts, on-call) are read at most once per
    :data:`~ninefold.web.viewcache.LIVE_TTL` (one second) in each process, and at once after
    this process changed an alert, incident, schedule or override; the page itself (the user's
    name, role and CSRF token) is rendered per request.
    """
    now = clock.now()
    cache = health_cache(request.app.state)
    health = cache.get(request.app.state, now)
    expand = None if show_all else tier
    part = health.fragment(
        ("overview", show_all, expand),
        lambda: render(
            "_health.html",
            evaluated_at=health.at,
            ttl=int(cache.ttl.total_seconds()),
            tiers=health.tiers,
            burning=health.burning,
            per_tier=PER_TIER,
            show_all=show_all,
            expand=expand,
            tier_names=TIER_NAMES,
        ),
    )
    changes = request.app.state.web_changes.count()
    live = view_cache(request.app.state, "overview-lists", 1, LIVE_TTL).get(
        changes, now, lambda: overview_lists(session, now)
    )
    return page(request, "overview.html", user, now=now, health=part, **live)


def overview_lists(session: Any, now: datetime) -> dict[str, Any]:
    """The overview's open incidents, firing alerts (the newest and their number) and who is
    on call, as plain values: shared by every request of the process for :data:`LIVE_TTL`."""
    # Only what the list shows: alert rows carry JSON labels, annotations and details.
    heads = load_only(Alert.id, Alert.severity, Alert.summary, Alert.acknowledged_at)
    firing, firing_total = alert_store.list_alerts(
        session, stmt=alert_store.alert_query(status="firing").options(heads), limit=15, offset=0
    )
    return {
        "incidents": [
            {"id": i.id, "title": i.title, "status": i.status, "severity": i.severity}
            for i in incident_store.active_incidents(session, heads_only=True)
        ],
        "alerts": [
            {
                "id": a.id,
                "severity": a.severity,
                "summary": a.summary,
                "acknowledged_at": a.acknowledged_at,
            }
            for a in firing
        ],
        "alerts_total": firing_total,
        "oncall": on_call_now(session, now),
    }


@router.get("/overview/tiers/{tier}", response_class=HTMLResponse)
def tier_rows(
    tier: int,
    request: Request,
    _: WebUserDep,
    clock: ClockDep,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> HTMLResponse:
    """htmx "show more": the next rows of one tier's services table (and its own "show more")."""
    health = health_cache(request.app.state).get(request.app.state, clock.now())
    rows = health.rows(tier)
    if not rows:
        raise NotFound(f"no services in tier {tier}")
    html = health.fragment(
        ("tier", tier, offset),
        lambda: render_macro("_tier_rows.html", "tier_rows", tier, rows, offset, PAGE),
    )
    return HTMLResponse(html)


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
    """One SLO: figures, burn rates against thresholds, charts and alert history.

    The evaluation and the alert history it led to are shared by every request for a few
    seconds (``viewcache.VIEW_TTL``); a changed definition (``updated_at``) is evaluated anew at
    once.
    """
    slo = slo_store.get_slo(session, name=name)
    now = clock.now()

    def evaluate() -> tuple[SLOStatus, list[dict[str, Any]], list[dict[str, Any]]]:
        st = slo_flows.evaluate_slos(
            session, slos=[slo], at=now, prometheus=prometheus_source(settings)
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
        rows, _ = slo_store.alert_events(session, slo_id=slo.id, limit=10)
        events = [
            {"state": e.state, "severity": e.severity, "at": e.at, "reason": e.reason} for e in rows
        ]
        return st, rules, events

    cache = view_cache(request.app.state, "slo-evaluations", SLO_EVALUATIONS_KEPT)
    st, rules, events = cache.get((slo.id, slo.updated_at), now, evaluate)
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
