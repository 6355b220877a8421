"""Audit log endpoint (admin): who changed what, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from ninefold.audit import store
from ninefold.audit.schemas import AuditRead
from ninefold.clock_utils import aware
from ninefold.deps import Admin, SessionDep

router = APIRouter(tags=["audit"])


@router.get("/audit")
def list_audit(
    _: Admin,
    session: SessionDep,
    object_type: Annotated[
        str | None, Query(max_length=64, description="table, e.g. notification_channels")
    ] = None,
    object_id: Annotated[str | None, Query(max_length=200)] = None,
    actor: Annotated[
        str | None, Query(max_length=200, description="exact, or a prefix ending in * (token:*)")
    ] = None,
    since: Annotated[
        datetime | None, Query(description="RFC 3339 with a time zone, e.g. 2026-11-01T00:00:00Z")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditRead]:
    """Changes to ninefold's objects, newest first."""
    rows = store.list_entries(
        session,
        object_type=object_type,
        object_id=object_id,
        actor=actor,
        since=aware(since) if since is not None else None,
        limit=limit,
    )
    return [AuditRead.model_validate(r) for r in rows]
