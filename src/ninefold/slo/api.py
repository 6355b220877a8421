"""SLO endpoints: definitions, pushed events, status at any time, burn-down, alerts, gates."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request

from ninefold.clock_utils import aware
from ninefold.core.pagination import Page, PageDep
from ninefold.deps import ClockDep, Responder, SessionDep, SettingsDep, Viewer
from ninefold.slo import flows, store
from ninefold.slo.models import SLO
from ninefold.slo.schemas import (
    AlertEventRead,
    BatchResult,
    Burndown,
    EventBatch,
    GateResult,
    SLORead,
    SLOStatus,
)
from ninefold.slo.wiring import ingest_limits, prometheus_source

router = APIRouter(tags=["slo"])

AtQuery = Annotated[
    datetime | None,
    Query(description="evaluate at this time (RFC 3339 with zone); default now"),
]


def _at(at: datetime | None, clock: ClockDep) -> datetime:
    return aware(at) if at is not None else clock.now()


def _read(slo: SLO) -> SLORead:
    return SLORead(
        name=slo.name,
        service=slo.service.name,
        team=slo.service.owner.name,
        display_name=slo.display_name,
        description=slo.description,
        objective=slo.objective,
        sli_kind=slo.sli_kind,
        source=slo.source,
        budgeting=slo.budgeting,
        window=dict(slo.spec.get("window", {})),
        spec=slo.spec,
    )


@router.get("/slos")
def list_slos(
    _: Viewer,
    session: SessionDep,
    page: PageDep,
    service: str | None = None,
    team: str | None = None,
    tier: Annotated[int | None, Query(ge=0, le=3)] = None,
) -> Page[SLORead]:
    """SLOs, filtered by service, owner team and tier."""
    rows, total = store.list_slos(
        session, service=service, team=team, tier=tier, limit=page.limit, offset=page.offset
    )
    return Page(items=[_read(s) for s in rows], total=total, limit=page.limit, offset=page.offset)


@router.get("/slos/status")
def list_status(
    _: Viewer,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    page: PageDep,
    at: AtQuery = None,
    service: str | None = None,
    team: str | None = None,
    tier: Annotated[int | None, Query(ge=0, le=3)] = None,
) -> Page[SLOStatus]:
    """Every matching SLO evaluated at ``at``."""
    rows, total = store.list_slos(
        session, service=service, team=team, tier=tier, limit=page.limit, offset=page.offset
    )
    statuses = flows.evaluate_slos(
        session, slos=rows, at=_at(at, clock), prometheus=prometheus_source(settings)
    )
    return Page(items=statuses, total=total, limit=page.limit, offset=page.offset)


@router.get("/slos/{name}")
def get_slo(name: str, _: Viewer, session: SessionDep) -> SLORead:
    """One SLO's definition."""
    return _read(store.get_slo(session, name=name))


@router.get("/slos/{name}/status")
def get_status(
    name: str,
    _: Viewer,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    at: AtQuery = None,
) -> SLOStatus:
    """One SLO evaluated at ``at``: SLI, budget, burn rates, time to exhaustion, alerts."""
    slo = store.get_slo(session, name=name)
    return flows.evaluate_slos(
        session, slos=[slo], at=_at(at, clock), prometheus=prometheus_source(settings)
    )[0]


@router.get("/slos/{name}/burndown")
def get_burndown(
    name: str,
    _: Viewer,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    at: AtQuery = None,
    points: Annotated[int, Query(ge=2, le=500)] = 60,
) -> Burndown:
    """Remaining error budget over the window, for charts."""
    slo = store.get_slo(session, name=name)
    return flows.burndown(
        session, slo=slo, at=_at(at, clock), points=points, prometheus=prometheus_source(settings)
    )


@router.get("/slos/{name}/alerts")
def get_alerts(name: str, _: Viewer, session: SessionDep, page: PageDep) -> Page[AlertEventRead]:
    """Recorded burn-rate alert transitions of an SLO, newest first."""
    slo = store.get_slo(session, name=name)
    rows, total = store.alert_events(session, slo_id=slo.id, limit=page.limit, offset=page.offset)
    items = [
        AlertEventRead(
            id=r.id,
            slo=slo.name,
            severity=r.severity,
            state=r.state,
            at=r.at,
            burn_rates=r.burn_rates,
            reason=r.reason,
        )
        for r in rows
    ]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.post(
    "/slos/{name}/events", responses={409: {"description": "batch id reused with other events"}}
)
def push_events(
    name: str,
    batch: EventBatch,
    request: Request,
    _: Responder,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> BatchResult:
    """Store a batch of good/total counts; committed before the answer; idempotent per batch_id."""
    slo = store.get_slo(session, name=name)
    result = flows.ingest_batch(
        session, slo=slo, batch=batch, now=clock.now(), limits=ingest_limits(settings)
    )
    session.commit()
    metrics = request.app.state.metrics
    metrics.slo_batches.labels("duplicate" if result.duplicate else "stored").inc()
    metrics.slo_events.inc(result.accepted)
    return result


@router.get("/services/{name}/gate")
def service_gate(
    name: str,
    _: Viewer,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    at: AtQuery = None,
) -> GateResult:
    """Release gate: allowed while the service's SLOs keep budget above the policy floor."""
    return flows.gate(
        session,
        service_name=name,
        at=_at(at, clock),
        prometheus=prometheus_source(settings),
        default_min_budget=settings.default_gate_min_budget,
    )
