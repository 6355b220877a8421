"""Operational endpoints: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from ninefold import __version__
from ninefold.db.migrate import current_revision, head_revision

router = APIRouter(tags=["system"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok", "version": __version__}


@router.get("/readyz", responses={503: {"description": "database unreachable or not migrated"}})
def readyz(request: Request) -> Any:
    """Readiness: the database answers and is migrated to this version's head."""
    engine = request.app.state.engine
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        revision = current_revision(engine)
    except SQLAlchemyError as exc:
        return JSONResponse(
            {"status": "unavailable", "reason": f"database: {type(exc).__name__}"}, status_code=503
        )
    head = head_revision()
    if revision != head:
        return JSONResponse(
            {"status": "unavailable", "reason": f"database at {revision}, needs {head}"},
            status_code=503,
        )
    runner = getattr(request.app.state, "engine_runner", None)
    return {
        "status": "ready",
        "database": engine.dialect.name,
        "revision": revision,
        # the engine modules this replica runs now (one replica per module on PostgreSQL)
        "engine_leader": runner.leader_of() if runner is not None else [],
    }


@router.get("/metrics", response_class=Response)
def metrics(request: Request) -> Response:
    """ninefold's own metrics in the Prometheus exposition format."""
    return Response(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )
