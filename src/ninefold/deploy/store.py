"""Queries for deployments. Keyword-only arguments, session first; nothing commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ninefold.deploy.models import Deployment


def between(
    session: Session, *, service_ids: Sequence[int], start: datetime, end: datetime
) -> list[Deployment]:
    """Deploys of the services in [start, end], oldest first."""
    if not service_ids:
        return []
    return list(
        session.scalars(
            select(Deployment)
            .where(Deployment.service_id.in_(list(service_ids)))
            .where(Deployment.deployed_at >= start, Deployment.deployed_at <= end)
            .order_by(Deployment.deployed_at, Deployment.id)
        )
    )


def list_deployments(
    session: Session,
    *,
    service_id: int | None = None,
    since: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[Deployment], int]:
    """Deploys, newest first, with the total count."""
    stmt = select(Deployment)
    if service_id is not None:
        stmt = stmt.where(Deployment.service_id == service_id)
    if since is not None:
        stmt = stmt.where(Deployment.deployed_at >= since)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(Deployment.deployed_at.desc(), Deployment.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows), int(total)
