"""Deployments API: ``POST /deployments`` (responder) and ``GET /deployments``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import AwareDatetime

from ninefold.deploy import flows, store
from ninefold.deploy.models import Deployment
from ninefold.deploy.schemas import DeploymentCreate, DeploymentPage, DeploymentRead
from ninefold.deps import ClockDep, Responder, SessionDep, Viewer
from ninefold.incident import flows as incident_flows

router = APIRouter(tags=["deployments"])


def deployment_read(row: Deployment, incidents: list[int] | None = None) -> DeploymentRead:
    """The API view of a deploy."""
    return DeploymentRead(
        id=row.id,
        service=row.service.name,
        version=row.version,
        commit=row.commit,
        committed_at=row.committed_at,
        deployed_at=row.deployed_at,
        outcome=row.outcome,
        environment=row.environment,
        description=row.description,
        url=row.url,
        created_by=row.created_by,
        created_at=row.created_at,
        incidents=incidents or [],
    )


@router.post("/deployments", status_code=status.HTTP_201_CREATED)
def record_deployment(
    body: DeploymentCreate, session: SessionDep, clock: ClockDep, who: Responder
) -> DeploymentRead:
    """Record a deploy; it shows on the timeline of active incidents of its service."""
    row, incidents = flows.record(session, body=body, actor=who.name, now=clock.now())
    return deployment_read(row, incidents)


@router.get("/deployments")
def list_deployments(
    session: SessionDep,
    _: Viewer,
    service: str | None = None,
    since: AwareDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> DeploymentPage:
    """Deploys, newest first, optionally of one service and since a time."""
    service_id = None if service is None else incident_flows.service_id(session, service)
    rows, total = store.list_deployments(
        session, service_id=service_id, since=since, limit=limit, offset=offset
    )
    return DeploymentPage(items=[deployment_read(r) for r in rows], total=total)
