"""The composition root: ``create_app(settings)`` builds everything; nothing is built at import."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ninefold import __version__
from ninefold.config import Settings
from ninefold.core.clock import Clock, SystemClock
from ninefold.core.openapi import install_error_schema
from ninefold.core.ratelimit import RateLimiter
from ninefold.db.engine import make_engine, make_session_factory
from ninefold.errors import NinefoldError
from ninefold.system.metrics import make_metrics

log = logging.getLogger("ninefold")


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    engine: Engine | None = None,
    start_engine: bool | None = None,
) -> FastAPI:
    """Build the ninefold application for ``settings``.

    ``clock`` and ``engine`` may be injected (tests); ``start_engine`` overrides
    ``settings.engine_enabled`` for the background evaluation loop.
    """
    from ninefold.alert.actions_api import router as action_links_router
    from ninefold.alert.api import router as alert_router
    from ninefold.alert.dispatch import default_routing, load_routing
    from ninefold.alert.inbound import router as inbound_router
    from ninefold.alert.intake_api import router as intake_router
    from ninefold.alert.maintenance_api import router as maintenance_router
    from ninefold.alert.manual import router as manual_alert_router
    from ninefold.alert.signature_in import router as signature_router
    from ninefold.alert.silences_api import router as silences_router
    from ninefold.alert.webhook_in import admin_router as webhook_mapping_router
    from ninefold.alert.webhook_in import router as webhook_router
    from ninefold.audit.api import router as audit_router
    from ninefold.audit.context import ActorMiddleware
    from ninefold.catalog.api import router as catalog_router
    from ninefold.deploy.api import router as deploy_router
    from ninefold.engine.runner import EngineRunner
    from ninefold.heartbeat.api import public_router as heartbeat_ping_router
    from ninefold.heartbeat.api import router as heartbeat_router
    from ninefold.identity.api import router as identity_router
    from ninefold.incident.api import router as incident_router
    from ninefold.notification.api import router as notification_router
    from ninefold.oncall.api import router as oncall_router
    from ninefold.postmortem import wiring as postmortem_wiring
    from ninefold.postmortem.action_api import router as action_item_router
    from ninefold.postmortem.api import router as postmortem_router
    from ninefold.report.api import router as report_router
    from ninefold.report.prom import ReportCollector
    from ninefold.slo.api import router as slo_router
    from ninefold.statuspage.api import admin_router as status_admin_router
    from ninefold.statuspage.api import router as status_router
    from ninefold.system.api import router as system_router
    from ninefold.system.logsafe import install as install_log_filters
    from ninefold.web.wiring import install as install_web

    install_log_filters()  # keys in paths and URLs, SQL rows: never in logs
    db = engine or make_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
    )
    run_engine = settings.engine_enabled if start_engine is None else start_engine

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        _share_link_secret(app)
        postmortem_wiring.share(app.state.session_factory, settings)
        runner = None
        if run_engine:
            runner = EngineRunner(app.state)
            app.state.engine_runner = runner
            runner.start()
        try:
            yield
        finally:
            if runner is not None:
                runner.stop()

    app = FastAPI(
        title="ninefold",
        version=__version__,
        description="SLOs and error budgets, burn-rate alerting and the service catalog.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = db
    app.state.session_factory = make_session_factory(db)
    app.state.clock = clock or SystemClock()
    app.state.metrics = make_metrics()
    app.state.metrics.registry.register(ReportCollector(app.state))
    app.state.rate_limiter = RateLimiter()
    app.state.routing = (
        load_routing(settings.routing_file) if settings.routing_file else default_routing()
    )
    app.state.engine_runner = None

    @app.exception_handler(NinefoldError)
    async def _ninefold_error(_request: Request, exc: NinefoldError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        return JSONResponse({"detail": exc.message}, status_code=exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "loc": [str(p) for p in e.get("loc", ())],
                "msg": str(e.get("msg", "")),
                "type": e.get("type"),
            }
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"])
        return JSONResponse(
            {"detail": f"{where}: {first['msg']}", "errors": errors}, status_code=422
        )

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)  # a connection closed under us (server restarted)
    async def _db_down(_request: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable: %s", type(exc).__name__)
        return JSONResponse(
            {"detail": "database unavailable, retry later"},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def _out_of_range(_request: Request, exc: Exception) -> JSONResponse:
        # An id or number beyond what the database stores (SQLite raises OverflowError while
        # binding, PostgreSQL "value out of range"), or a duration beyond datetime's range.
        log.info("value out of range in a request: %s", type(exc).__name__)
        return JSONResponse({"detail": "a value in the request is out of range"}, status_code=422)

    app.add_middleware(_Observe)

    install_error_schema(app)
    # Outermost: each request gets its own audit actor box before any dependency runs.
    app.add_middleware(ActorMiddleware)
    # Alert intake first: its routes are the hottest, and routes are matched in order.
    app.include_router(inbound_router)
    app.include_router(system_router)
    # Then the console: a request is matched against every route before it in turn (about
    # 7% of a page's CPU when the console came after the API's routes).
    install_web(app)  # the web console under /ui
    app.include_router(identity_router, prefix="/api/v1")
    app.include_router(catalog_router, prefix="/api/v1")
    app.include_router(slo_router, prefix="/api/v1")
    app.include_router(intake_router, prefix="/api/v1")  # before /alerts/{id}
    app.include_router(alert_router, prefix="/api/v1")
    app.include_router(manual_alert_router, prefix="/api/v1")
    app.include_router(silences_router, prefix="/api/v1")
    app.include_router(maintenance_router, prefix="/api/v1")
    app.include_router(oncall_router, prefix="/api/v1")
    app.include_router(notification_router, prefix="/api/v1")
    app.include_router(heartbeat_router, prefix="/api/v1")
    app.include_router(webhook_mapping_router, prefix="/api/v1")
    app.include_router(signature_router, prefix="/api/v1")
    # before the incident router: its POST /incidents/{id}/{action} would take …/postmortem
    app.include_router(postmortem_router, prefix="/api/v1")
    app.include_router(action_item_router, prefix="/api/v1")
    app.include_router(incident_router, prefix="/api/v1")
    app.include_router(deploy_router, prefix="/api/v1")
    app.include_router(audit_router, prefix="/api/v1")
    app.include_router(report_router, prefix="/api/v1")
    app.include_router(webhook_router)
    app.include_router(action_links_router)
    app.include_router(status_admin_router, prefix="/api/v1")
    app.include_router(status_router)
    app.include_router(heartbeat_ping_router)
    return app


def _share_link_secret(app: FastAPI) -> None:
    """Give every session the key that signs acknowledge/resolve links in notifications.

    Read (or created) once at start, outside any write transaction.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from ninefold.alert.links import link_secret

    try:
        secret = link_secret(app.state)
    except SQLAlchemyError:
        log.warning("no signing key for action links (is the database migrated?)")
        return
    app.state.session_factory.configure(info={"link_secret": secret})


class _Observe:
    """Pure ASGI middleware counting requests and timing them per route (``/metrics``).

    Not ``@app.middleware("http")``: that wraps every request in an extra task and stream,
    which costs about a millisecond per request.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            metrics = scope["app"].state.metrics
            metrics.http_requests.labels(scope["method"], path, str(status)).inc()
            metrics.http_duration.labels(path).observe(time.perf_counter() - started)
