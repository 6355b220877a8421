"""Alerts in: Alertmanager API, Alertmanager webhook, PagerDuty Events v2; auth, limits, dedup."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ninefold.alert import flows
from ninefold.alert.fingerprint import fingerprint_hex
from ninefold.alert.models import Alert
from ninefold.core.clock import FrozenClock
from tests import factories
from tests.conftest import T0


def _integration(
    client: TestClient, admin: dict[str, str], kind: str, service: str | None = "api", **kw: object
) -> str:
    resp = client.post(
        "/api/v1/integrations",
        json={"name": f"{kind}-in", "kind": kind, "service": service, **kw},
        headers=admin,
    )
    assert resp.status_code == 201, resp.text
    key: str = resp.json()["key"]
    return key


@pytest.fixture
def service(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as s, s.begin():
        factories.service(s, "api", factories.team(s, "web", T0), T0)


def _count(factory: sessionmaker[Session], **where: object) -> int:
    with factory() as s:
        stmt = select(func.count()).select_from(Alert)
        for k, v in where.items():
            stmt = stmt.where(getattr(Alert, k) == v)
        return s.scalar(stmt) or 0


AM_ALERT = {
    "labels": {"alertname": "HighErrorRate", "job": "api", "severity": "critical"},
    "annotations": {"summary": "5xx above 5%"},
    "startsAt": "2026-10-31T23:50:00Z",
    "generatorURL": "http://prometheus/graph?g0.expr=x",
}


def test_alertmanager_api_dedup_update_resolve(
    client: TestClient,
    admin_headers: dict[str, str],
    session_factory: sessionmaker[Session],
    service: None,
    clock: FrozenClock,
) -> None:
    key = _integration(client, admin_headers, "alertmanager")
    auth = {"Authorization": f"Bearer {key}"}
    assert client.post("/api/v2/alerts", json=[AM_ALERT], headers=auth).status_code == 200
    assert client.post("/api/v2/alerts", json=[AM_ALERT], headers=auth).status_code == 200
    assert _count(session_factory) == 1
    with session_factory() as s:
        alert = s.scalars(select(Alert)).one()
        assert alert.fingerprint == fingerprint_hex(AM_ALERT["labels"])  # type: ignore[arg-type]
        assert alert.receive_count == 2
        assert alert.severity == "critical"
        assert alert.summary == "5xx above 5%"
        assert alert.service is not None
        assert alert.service.name == "api"
        # no endsAt: firing until the resolve timeout unless re-sent, like Alertmanager
        assert alert.ends_at == T0 + timedelta(minutes=5)
    resolved = {**AM_ALERT, "endsAt": "2026-10-31T23:59:00Z"}
    assert client.post("/api/v2/alerts", json=[resolved], headers=auth).status_code == 200
    assert _count(session_factory, status="resolved") == 1
    # firing again after resolution opens a new alert, it does not reopen history
    assert client.post("/api/v2/alerts", json=[AM_ALERT], headers=auth).status_code == 200
    assert _count(session_factory) == 2
    # not re-sent: the expiry job resolves it after endsAt
    with session_factory() as s, s.begin():
        assert flows.expire(s, now=T0 + timedelta(minutes=6)) == 1
    assert _count(session_factory, status="firing") == 0


def test_batch_with_invalid_alerts_stores_the_valid_ones(
    client: TestClient,
    admin_headers: dict[str, str],
    session_factory: sessionmaker[Session],
    service: None,
) -> None:
    key = _integration(client, admin_headers, "alertmanager")
    batch = [
        AM_ALERT,
        {"labels": {}},
        {"labels": {"bad-name": "x"}},
        {"labels": {"a": "b"}, "startsAt": "soon"},
    ]
    resp = client.post("/api/v2/alerts", json=batch, headers={"Authorization": f"Bearer {key}"})
    assert resp.status_code == 400
    body = resp.json()
    assert body["accepted"] == 1
    fields = [e["field"] for e in body["errors"]]
    assert fields == ["alerts[1].labels", "alerts[2].labels", "alerts[3].startsAt"]
    assert "bad-name" in body["errors"][1]["message"]
    assert _count(session_factory) == 1


@pytest.mark.parametrize("how", ["bearer", "basic", "path"])
def test_integration_key_ways_and_unknown_key(
    client: TestClient,
    admin_headers: dict[str, str],
    session_factory: sessionmaker[Session],
    service: None,
    how: str,
) -> None:
    key = _integration(client, admin_headers, "alertmanager")
    url, headers = "/api/v2/alerts", {}
    if how == "bearer":
        headers = {"Authorization": f"Bearer {key}"}
    elif how == "basic":
        headers = {
            "Authorization": "Basic " + base64.b64encode(f"prometheus:{key}".encode()).decode()
        }
    else:
        url = f"/integrations/{key}/api/v2/alerts"
    assert client.post(url, json=[AM_ALERT], headers=headers).status_code == 200
    assert client.post("/api/v2/alerts", json=[AM_ALERT]).status_code == 401
    assert (
        client.post(
            "/api/v2/alerts", json=[AM_ALERT], headers={"Authorization": "Bearer nf_wrong"}
        ).status_code
        == 401
    )
    assert client.post("/integrations/nf_wrong/api/v2/alerts", json=[AM_ALERT]).status_code == 401
    assert _count(session_factory) == 1


def test_body_limit_and_rate_limit(
    client: TestClient,
    admin_headers: dict[str, str],
    session_factory: sessionmaker[Session],
    service: None,
) -> None:
    key = _integration(client, admin_headers, "alertmanager", rate_limit_per_minute=3)
    auth = {"Authorization": f"Bearer {key}", "content-type": "application/json"}
    big = b"[" + b",".join([b'{"labels":{"a":"' + b"x" * 1000 + b'"}}'] * 600) + b"]"
    assert len(big) > 512 * 1024
    assert client.post("/api/v2/alerts", content=big, headers=auth).status_code == 413
    codes = [client.post("/api/v2/alerts", json=[AM_ALERT], headers=auth) for _ in range(5)]
    assert [r.status_code for r in codes[:3]] == [200, 200, 200]
    assert codes[3].status_code == 429
    assert int(codes[3].headers["Retry-After"]) >= 1
    assert _count(session_factory) == 1


def test_rotated_key_keeps_working_for_the_grace_period(
    client: TestClient,
    admin_headers: dict[str, str],
    service: None,
    clock: FrozenClock,
) -> None:
    old = _integration(client, admin_headers, "alertmanager")
    rotated = client.post(
        "/api/v1/integrations/alertmanager-in/rotate",
        json={"grace_seconds": 60},
        headers=admin_headers,
    )
    new = rotated.json()["key"]
    for key in (old, new):
        assert (
            client.post(
                "/api/v2/alerts", json=[AM_ALERT], headers={"Authorization": f"Bearer {key}"}
            ).status_code
            == 200
        )
    clock.advance(timedelta(seconds=61))
    assert (
        client.post(
            "/api/v2/alerts", json=[AM_ALERT], headers={"Authorization": f"Bearer {old}"}
        ).status_code
        == 401
    )
    assert (
        client.post(
            "/api/v2/alerts", json=[AM_ALERT], headers={"Authorization": f"Bearer {new}"}
        ).status_code
        == 200
    )


def test_alertmanager_webhook_v4(
    client: TestClient,
    admin_headers: dict[str, str],
    session_factory: sessionmaker[Session],
    service: None,
) -> None:
    key = _integration(client, admin_headers, "alertmanager")
    hook = {
        "version": "4",
        "groupKey": '{}:{alertname="Disk"}',
        "status": "firing",
        "receiver": "ninefold",
        "groupLabels": {"alertname": "Disk"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://am",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "Disk", "instance": "a"},
                "annotations": {},
                "startsAt": "2026-10-31T23:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "",
                "fingerprint": "x",
            },
            {
                "status": "firing",
                "labels": {"alertname": "Disk", "instance": "b"},
                "annotations": {},
                "startsAt": "2026-10-31T23:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "",
                "fingerprint": "y",
            },
        ],
    }
    resp = client.post(f"/integrations/{key}/alertmanager", json=hook)
    assert resp.status_code == 200, resp.text
    assert _count(session_factory, status="firing") == 2
    hook["status"] = "resolved"
    hook["alerts"][0]["status"] = "resolved"  # type: ignore[index]
    hook["alerts"][0]["endsAt"] = "2026-10-31T23:30:00Z"  # type: ignore[index]
    assert (
        client.post(
            "/api/v1/webhooks/alertmanager", json=hook, headers={"Authorization": f"Bearer {key}"}
        ).status_code
        == 200
    )
    assert _count(session_factory, status="firing") == 1
    bad = client.post(f"/integrations/{key}/alertmanager", json={**hook, "version": "3"})
    assert bad.status_code == 400
    assert "version" in bad.json()["detail"]


def test_pagerduty_events_v2(
    client: TestClient,
    admin_headers: dict[str, str],
    session_factory: sessionmaker[Session],
    service: None,
) -> None:
    key = _integration(client, admin_headers, "pagerduty")
    trigger = {
        "routing_key": key,
        "event_action": "trigger",
        "dedup_key": "disk-a",
        "payload": {
            "summary": "Disk full on a",
            "source": "host-a",
            "severity": "warning",
            "component": "disk",
            "custom_details": {"free": "0%"},
        },
        "links": [{"href": "http://runbook", "text": "runbook"}],
    }
    resp = client.post("/v2/enqueue", json=trigger)
    assert resp.status_code == 202
    assert resp.json() == {"status": "success", "message": "Event processed", "dedup_key": "disk-a"}
    assert client.post("/v2/enqueue", json=trigger).status_code == 202
    assert _count(session_factory) == 1
    ack = client.post(
        "/v2/enqueue",
        json={"routing_key": key, "event_action": "acknowledge", "dedup_key": "disk-a"},
    )
    assert ack.status_code == 202
    with session_factory() as s:
        alert = s.scalars(select(Alert)).one()
        assert alert.acknowledged_at is not None
        assert alert.details["custom_details"] == {"free": "0%"}
        assert alert.details["links"][0]["href"] == "http://runbook"
        assert alert.severity == "warning"
    generated = client.post("/v2/enqueue", json={**trigger, "dedup_key": None})
    assert generated.status_code == 202
    assert len(generated.json()["dedup_key"]) == 32
    assert (
        client.post(
            "/v2/enqueue",
            json={"routing_key": key, "event_action": "resolve", "dedup_key": "disk-a"},
        ).status_code
        == 202
    )
    assert _count(session_factory, status="resolved") == 1
    invalid = client.post(
        "/v2/enqueue",
        json={"routing_key": key, "event_action": "trigger", "payload": {"summary": "x"}},
    )
    assert invalid.status_code == 400
    assert invalid.json()["status"] == "invalid event"
    assert any("payload.source" in e for e in invalid.json()["errors"])
    assert (
        client.post("/v2/enqueue", json={**trigger, "event_action": "explode"}).status_code == 400
    )
    unknown = client.post("/v2/enqueue", json={**trigger, "routing_key": "nf_unknown"})
    assert unknown.status_code == 403
    assert _count(session_factory) == 2


def test_alert_api_ack_and_resolve(
    client: TestClient,
    admin_headers: dict[str, str],
    responder_headers: dict[str, str],
    viewer_headers: dict[str, str],
    service: None,
) -> None:
    key = _integration(client, admin_headers, "alertmanager")
    client.post("/api/v2/alerts", json=[AM_ALERT], headers={"Authorization": f"Bearer {key}"})
    listed = client.get(
        "/api/v1/alerts", params={"status": "firing", "service": "api"}, headers=viewer_headers
    ).json()
    assert listed["total"] == 1
    alert_id = listed["items"][0]["id"]
    assert (
        client.post(f"/api/v1/alerts/{alert_id}/acknowledge", headers=viewer_headers).status_code
        == 403
    )
    acked = client.post(f"/api/v1/alerts/{alert_id}/acknowledge", headers=responder_headers).json()
    assert acked["acknowledged_by"] == "token:test-responder"
    assert (
        client.post(f"/api/v1/alerts/{alert_id}/resolve", headers=responder_headers).json()[
            "status"
        ]
        == "resolved"
    )
    detail = client.get(f"/api/v1/alerts/{alert_id}", headers=viewer_headers).json()
    assert [e["kind"] for e in detail["events"]] == ["created", "acknowledged", "resolved"]
    assert (
        client.post(f"/api/v1/alerts/{alert_id}/acknowledge", headers=responder_headers).status_code
        == 422
    )
    assert (
        client.get("/api/v1/alerts", params={"service": "nope"}, headers=viewer_headers).status_code
        == 404
    )
    assert client.get("/api/v1/alerts/999", headers=viewer_headers).status_code == 404
