"""Heartbeat endpoints: the ping (``POST /heartbeats/{key}``) and monitor CRUD under /api/v1."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ninefold.alert import store as alert_store
from ninefold.alert.schemas import _LABEL_NAME
from ninefold.core.durations import format_duration, parse_duration
from ninefold.core.pagination import Page, PageDep
from ninefold.deps import Admin, ClockDep, Responder, SessionDep, SettingsDep, Viewer
from ninefold.errors import InvalidInput, NotFound
from ninefold.heartbeat import flows, logic, store
from ninefold.heartbeat.models import HeartbeatMonitor

#: Pings one monitor may send per minute before getting 429.
PING_RATE_PER_MINUTE = 600
MAX_INTERVAL = 90 * 86400

public_router = APIRouter(tags=["heartbeats"])
router = APIRouter(prefix="/heartbeats", tags=["heartbeats"])


def _seconds(value: int | str, *, allow_zero: bool) -> int:
    if isinstance(value, str):
        if allow_zero and value.strip() in ("0", "0s"):
            return 0
        seconds = parse_duration(value)
    else:
        seconds = value
    if seconds < (0 if allow_zero else 1):
        raise ValueError("must be positive" if not allow_zero else "must not be negative")
    if seconds > MAX_INTERVAL:
        raise ValueError(f"must be at most {MAX_INTERVAL // 86400}d")
    return seconds


class HeartbeatCreate(BaseModel):
    """A new heartbeat monitor; durations as seconds or like ``5m``, ``1h30m``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    service: str | None = None
    interval: int | str
    grace: int | str = 0
    severity: Literal["critical", "error", "warning", "info"] = "critical"
    labels: dict[str, Annotated[str, Field(max_length=1000)]] = Field(
        default_factory=dict, max_length=30
    )

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: int | str) -> int:
        return _seconds(value, allow_zero=False)

    @field_validator("grace")
    @classmethod
    def _grace(cls, value: int | str) -> int:
        return _seconds(value, allow_zero=True)

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not _LABEL_NAME.match(name):
                raise ValueError(f"invalid label name {name!r}")
        return value


class HeartbeatRead(BaseModel):
    """A monitor as the API shows it (never its key)."""

    name: str
    service: str | None
    interval_seconds: int
    interval: str
    grace_seconds: int
    severity: str
    labels: dict[str, Any]
    status: Literal["new", "up", "down"]
    last_beat_at: datetime | None
    deadline_at: datetime
    beat_count: int
    key_prefix: str
    created_at: datetime


class HeartbeatCreated(HeartbeatRead):
    """A new monitor: the key and ping URL are shown once."""

    key: str
    ping_url: str


class PingAnswer(BaseModel):
    """What a ping did."""

    name: str
    status: str
    last_beat_at: datetime
    deadline_at: datetime


def _read(row: HeartbeatMonitor, now: datetime) -> HeartbeatRead:
    return HeartbeatRead(
        name=row.name,
        service=row.service.name if row.service else None,
        interval_seconds=row.interval_seconds,
        interval=format_duration(row.interval_seconds),
        grace_seconds=row.grace_seconds,
        severity=row.severity,
        labels=row.labels,
        status=logic.status(row.status, row.deadline_at, now),
        last_beat_at=row.last_beat_at,
        deadline_at=row.deadline_at,
        beat_count=row.beat_count,
        key_prefix=row.key_prefix,
        created_at=row.created_at,
    )


def _answer(row: HeartbeatMonitor) -> PingAnswer:
    assert row.last_beat_at is not None
    return PingAnswer(
        name=row.name, status=row.status, last_beat_at=row.last_beat_at, deadline_at=row.deadline_at
    )


def _wake(request: Request, queued: int) -> None:
    runner = request.app.state.engine_runner
    if queued and runner is not None:
        runner.wake_delivery()


@public_router.post(
    "/heartbeats/{key}",
    response_model=PingAnswer,
    summary="Heartbeat ping (the key is the secret)",
)
def ping(key: str, request: Request) -> PingAnswer | JSONResponse:
    """Record a beat for the monitor whose ping key is ``key``; a down monitor recovers."""
    state = request.app.state
    with state.session_factory() as session, session.begin():
        row = store.by_key(session, key=key)
        if row is None:
            raise NotFound("unknown heartbeat key")
        wait = state.rate_limiter.check(
            f"heartbeat:{row.id}", PING_RATE_PER_MINUTE, time.monotonic()
        )
        if wait:
            return JSONResponse(
                {"detail": f"more than {PING_RATE_PER_MINUTE} pings per minute for this heartbeat"},
                status_code=429,
                headers={"Retry-After": str(max(int(wait), 1))},
            )
        queued = flows.beat(session, row=row, outlet=flows.Outlet.of(state), now=state.clock.now())
        answer = _answer(row)
    _wake(request, queued)
    return answer


@router.post("/{name}/ping")
def ping_by_name(name: str, request: Request, _: Responder) -> PingAnswer:
    """Record a beat with a responder token instead of the ping key."""
    state = request.app.state
    with state.session_factory() as session, session.begin():
        row = store.by_name(session, name=name, lock=True)
        queued = flows.beat(session, row=row, outlet=flows.Outlet.of(state), now=state.clock.now())
        answer = _answer(row)
    _wake(request, queued)
    return answer


@router.post("", status_code=status.HTTP_201_CREATED)
def create(
    body: HeartbeatCreate, _: Admin, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> HeartbeatCreated:
    """Create a monitor; its ping key and URL are in the answer and nowhere else."""
    service_id = None
    if body.service is not None:
        try:
            service_id = alert_store.service_id(session, name=body.service)
        except NotFound:
            raise InvalidInput(f"service: no service {body.service!r} in the catalog") from None
    now = clock.now()
    row, key = flows.create(
        session,
        name=body.name,
        service_id=service_id,
        interval_seconds=int(body.interval),
        grace_seconds=int(body.grace),
        severity=body.severity,
        labels=body.labels,
        now=now,
    )
    session.refresh(row, ["service"])
    url = f"{settings.public_url.rstrip('/')}/heartbeats/{key}"
    return HeartbeatCreated(key=key, ping_url=url, **_read(row, now).model_dump())


@router.get("")
def list_heartbeats(
    _: Viewer, session: SessionDep, clock: ClockDep, page: PageDep
) -> Page[HeartbeatRead]:
    """Monitors by name with their status (``down`` as soon as the deadline passed)."""
    rows, total = store.page(session, limit=page.limit, offset=page.offset)
    now = clock.now()
    return Page(
        items=[_read(r, now) for r in rows], total=total, limit=page.limit, offset=page.offset
    )


@router.get("/{name}")
def get_heartbeat(name: str, _: Viewer, session: SessionDep, clock: ClockDep) -> HeartbeatRead:
    """One monitor."""
    return _read(store.by_name(session, name=name), clock.now())


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
def delete_heartbeat(name: str, request: Request, _: Admin) -> Response:
    """Delete a monitor; an open missed-heartbeat alert is resolved."""
    state = request.app.state
    with state.session_factory() as session, session.begin():
        row = store.by_name(session, name=name, lock=True)
        queued = flows.delete(
            session, row=row, outlet=flows.Outlet.of(state), now=state.clock.now()
        )
    _wake(request, queued)
    return Response(status_code=204)
