"""Heartbeat monitors: ping by key or token, missed deadlines raise an alert, a beat resolves it."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from ninefold.alert.dispatch import parse_routing
from ninefold.alert.models import Alert
from ninefold.core.clock import FrozenClock
from ninefold.engine.runner import EngineRunner
from ninefold.heartbeat.jobs import run_with_state as check_heartbeats
from ninefold.notification.models import OutboxItem
from tests import factories
from tests.conftest import T0
from tests.live import serve


@pytest.fixture
def service(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as s, s.begin():
        factories.service(s, "billing", factories.team(s, "payments", T0), T0)


def _create(client: TestClient, admin: dict[str, str], **body: Any) -> dict[str, Any]:
    body = {"name": "nightly-backup", "interval": "1h", "grace": "5m", **body}
    resp = client.post("/api/v1/heartbeats", json=body, headers=admin)
    assert resp.status_code == 201, resp.text
    data: dict[str, Any] = resp.json()
    return data


def _alerts(factory: sessionmaker[Session]) -> list[Alert]:
    with factory() as s:
        return list(
            s.scalars(select(Alert).options(selectinload(Alert.service)).order_by(Alert.id)).all()
        )


def _check(client: TestClient) -> int:
    return check_heartbeats(client.app.state)  # type: ignore[attr-defined]


def test_missed_beat_raises_one_alert_and_next_beat_resolves_it(
    client: TestClient,
    admin_headers: dict[str, str],
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
    service: None,
) -> None:
    hb = _create(client, admin_headers, service="billing", labels={"team": "payments"})
    assert hb["status"] == "new"
    assert hb["ping_url"] == f"http://127.0.0.1:8080/heartbeats/{hb['key']}"
    assert hb["deadline_at"] == "2026-11-01T01:05:00Z"

    clock.advance(timedelta(minutes=30))
    ping = client.post(f"/heartbeats/{hb['key']}")
    assert ping.status_code == 200, ping.text
    assert ping.json()["deadline_at"] == "2026-11-01T01:35:00Z"

    clock.advance(timedelta(minutes=64))  # 1h04 after the beat: inside the grace period
    assert _check(client) == 0
    assert _alerts(session_factory) == []

    clock.advance(timedelta(minutes=1))  # exactly interval + grace after the beat
    assert _check(client) == 1
    assert _check(client) == 0  # still down: no second alert
    (alert,) = _alerts(session_factory)
    assert alert.status == "firing"
    assert alert.source == "heartbeat"
    assert alert.dedup_key == "heartbeat:nightly-backup"
    assert alert.severity == "critical"
    assert alert.labels == {
        "alertname": "HeartbeatMissed",
        "heartbeat": "nightly-backup",
        "service": "billing",
        "severity": "critical",
        "team": "payments",
    }
    assert alert.starts_at == T0 + timedelta(minutes=95)
    assert "last beat at 2026-11-01T00:30:00+00:00" in alert.summary
    assert alert.service is not None
    assert alert.service.name == "billing"
    read = client.get("/api/v1/heartbeats/nightly-backup", headers=admin_headers).json()
    assert read["status"] == "down"

    clock.advance(timedelta(minutes=10))
    assert client.post(f"/heartbeats/{hb['key']}").status_code == 200
    (alert,) = _alerts(session_factory)
    assert alert.status == "resolved"
    assert alert.resolved_at == T0 + timedelta(minutes=105)
    read = client.get("/api/v1/heartbeats/nightly-backup", headers=admin_headers).json()
    assert read["status"] == "up"
    assert read["beat_count"] == 2

    # Missing again later opens a new alert (the old one stays resolved).
    clock.advance(timedelta(hours=2))
    assert _check(client) == 1
    assert [a.status for a in _alerts(session_factory)] == ["resolved", "firing"]


def test_never_pinged_monitor_alerts_after_creation_plus_interval_and_grace(
    client: TestClient,
    admin_headers: dict[str, str],
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
) -> None:
    _create(client, admin_headers, name="cron", interval=600, grace=0, severity="warning")
    clock.advance(timedelta(seconds=599))
    assert _check(client) == 0
    listed = client.get("/api/v1/heartbeats", headers=admin_headers).json()
    assert [(h["name"], h["status"], h["last_beat_at"]) for h in listed["items"]] == [
        ("cron", "new", None)
    ]
    clock.advance(timedelta(seconds=1))
    # Shown as down as soon as the deadline passed, before the engine job ran.
    assert client.get("/api/v1/heartbeats/cron", headers=admin_headers).json()["status"] == "down"
    assert _check(client) == 1
    (alert,) = _alerts(session_factory)
    assert alert.severity == "warning"
    assert "never pinged" in alert.summary
    assert "service" not in alert.labels


def test_ping_with_responder_token_and_unknown_key(
    client: TestClient,
    admin_headers: dict[str, str],
    responder_headers: dict[str, str],
    viewer_headers: dict[str, str],
    clock: FrozenClock,
) -> None:
    _create(client, admin_headers)
    clock.advance(timedelta(minutes=3))
    path = "/api/v1/heartbeats/nightly-backup/ping"
    assert client.post(path, headers=viewer_headers).status_code == 403
    resp = client.post(path, headers=responder_headers)
    assert resp.status_code == 200, resp.text
    assert resp.json()["last_beat_at"] == "2026-11-01T00:03:00Z"
    assert client.post("/api/v1/heartbeats/nope/ping", headers=responder_headers).status_code == 404
    unknown = client.post("/heartbeats/nf_not-a-key")
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == "unknown heartbeat key"
    assert client.get("/heartbeats/whatever").status_code == 405  # POST only


def test_crud_roles_validation_and_key_shown_once(
    client: TestClient,
    admin_headers: dict[str, str],
    responder_headers: dict[str, str],
    viewer_headers: dict[str, str],
) -> None:
    body = {"name": "job", "interval": "5m"}
    assert (
        client.post("/api/v1/heartbeats", json=body, headers=responder_headers).status_code == 403
    )
    resp = client.post("/api/v1/heartbeats", json=body, headers=admin_headers)
    assert resp.status_code == 201, resp.text
    created = resp.json()
    assert created["grace_seconds"] == 0
    assert created["interval_seconds"] == 300
    dup = client.post("/api/v1/heartbeats", json=body, headers=admin_headers)
    assert dup.status_code == 409
    read = client.get("/api/v1/heartbeats/job", headers=viewer_headers).json()
    assert "key" not in read
    assert "ping_url" not in read
    assert read["key_prefix"] == created["key"][:12]

    for bad, field in (
        ({"name": "x", "interval": "often"}, "interval"),
        ({"name": "x", "interval": 0}, "interval"),
        ({"name": "x", "interval": "5m", "grace": -1}, "grace"),
        ({"name": "x", "interval": "5m", "severity": "urgent"}, "severity"),
        ({"name": "x", "interval": "5m", "labels": {"bad-name": "v"}}, "labels"),
        ({"name": "Bad Name", "interval": "5m"}, "name"),
        ({"name": "x", "interval": "5m", "service": "ghost"}, "service"),
    ):
        resp = client.post("/api/v1/heartbeats", json=bad, headers=admin_headers)
        assert resp.status_code == 422, (bad, resp.text)
        assert field in resp.json()["detail"], (bad, resp.text)

    assert client.delete("/api/v1/heartbeats/job", headers=viewer_headers).status_code == 403
    assert client.delete("/api/v1/heartbeats/job", headers=admin_headers).status_code == 204
    assert client.get("/api/v1/heartbeats/job", headers=viewer_headers).status_code == 404
    assert client.post(f"/heartbeats/{created['key']}").status_code == 404


def test_deleting_a_down_monitor_resolves_its_alert(
    client: TestClient,
    admin_headers: dict[str, str],
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
) -> None:
    _create(client, admin_headers)
    clock.advance(timedelta(hours=2))
    assert _check(client) == 1
    assert (
        client.delete("/api/v1/heartbeats/nightly-backup", headers=admin_headers).status_code == 204
    )
    assert [a.status for a in _alerts(session_factory)] == ["resolved"]


ROUTING = {
    "route": {"receiver": "ops", "group_wait": "0s"},
    "receivers": [{"name": "ops", "channels": ["ops-hook"]}],
}


def test_missed_heartbeat_pages_through_routing(
    client: TestClient,
    admin_headers: dict[str, str],
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
) -> None:
    client.app.state.routing = parse_routing(ROUTING)  # type: ignore[attr-defined]
    resp = client.post(
        "/api/v1/notification-channels",
        json={"name": "ops-hook", "kind": "webhook", "target": "http://127.0.0.1:9/hook"},
        headers=admin_headers,
    )
    assert resp.status_code == 201, resp.text
    _create(client, admin_headers)
    clock.advance(timedelta(hours=2))
    assert _check(client) == 1
    with session_factory() as s:
        queued = [o.notification for o in s.scalars(select(OutboxItem).order_by(OutboxItem.id))]
    assert [n["kind"] for n in queued] == ["page"]
    assert "nightly-backup" in json.dumps(queued[0])


def test_engine_runner_checks_heartbeats_and_ping_over_real_http(
    client: TestClient,
    admin_headers: dict[str, str],
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
) -> None:
    app = client.app
    assert "heartbeats" in [job[0] for job in EngineRunner(app.state).jobs()]  # type: ignore[attr-defined]
    hb = _create(client, admin_headers)
    clock.advance(timedelta(hours=2))
    runner = EngineRunner(app.state)  # type: ignore[attr-defined]
    try:
        runner.run_once()
    finally:
        runner.stop()  # releases the PostgreSQL leader lock
    assert [a.status for a in _alerts(session_factory)] == ["firing"]
    with serve(app) as base:  # type: ignore[arg-type]
        resp = httpx.post(f"{base}/heartbeats/{hb['key']}", timeout=10)
        assert resp.status_code == 200, resp.text
        # curl -fsS -X POST style: an empty body and no content type are fine
        assert (
            httpx.post(f"{base}/heartbeats/{hb['key']}", content=b"", timeout=10).status_code == 200
        )
    assert [a.status for a in _alerts(session_factory)] == ["resolved"]
