"""Deployment use cases: record a deploy and show it on the active incidents of its service."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ninefold.deploy.models import Deployment
from ninefold.deploy.schemas import DeploymentCreate
from ninefold.errors import InvalidInput
from ninefold.identity import guard


def record(
    session: Session, *, body: DeploymentCreate, actor: str, now: datetime
) -> tuple[Deployment, list[int]]:
    """Store a deploy; returns it and the active incidents whose timeline now shows it."""
    from ninefold.incident import flows as incident_flows
    from ninefold.incident import store as incident_store

    service_id = incident_flows.service_id(session, body.service)
    guard.check_service(session, kind="service", name=body.service, service_id=service_id)
    deployed_at = body.deployed_at or now
    if deployed_at > now:
        raise InvalidInput(f"deployed_at: {deployed_at.isoformat()} is in the future")
    if body.committed_at is not None and body.committed_at > deployed_at:
        raise InvalidInput(f"committed_at: {body.committed_at.isoformat()} is after deployed_at")
    row = Deployment(
        service_id=service_id,
        version=body.version,
        commit=body.commit,
        committed_at=body.committed_at,
        deployed_at=deployed_at,
        outcome=body.outcome,
        environment=body.environment,
        description=body.description,
        url=body.url,
        created_by=actor,
        created_at=now,
    )
    session.add(row)
    session.flush()
    incidents = incident_store.open_incidents_of_service(session, service_id=service_id)
    for incident in incidents:
        incident_flows.sync_timeline(session, incident, now=now)
    joined = [
        i.id
        for i in incidents
        if incident_store.has_ref(session, incident_id=i.id, ref=f"deploy:{row.id}")
    ]
    return row, joined
