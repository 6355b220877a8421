"""End to end: Prometheus fires an alert at ninefold, ninefold routes it and pages a webhook.

Also a real Alertmanager forwarding its webhook to ninefold.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ninefold.alert.keys import create
from ninefold.app import create_app
from ninefold.config import Settings
from ninefold.core.clock import FrozenClock
from ninefold.oncall.jobs import run_with_state as pager_tick
from tests import factories
from tests.am import AlertmanagerServer, WebhookSink
from tests.conftest import T0, make_token
from tests.live import serve
from tests.prom import PrometheusServer

ROUTING = """
route:
  receiver: ops
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1m
  routes:
    - matchers: ['severity="critical"']
      receiver: web-oncall
      continue: true
    - matchers: ['team="web"']
      receiver: web-team
receivers:
  - name: ops
    channels: [ops-hook]
  - name: web-oncall
    channels: [oncall-hook]
  - name: web-team
    channels: [team-hook]
"""


def _wait(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def _setup(
    factory: sessionmaker[Session], sink: WebhookSink, settings: Settings, tmp_path: Path, kind: str
) -> tuple[Settings, str]:
    routing = tmp_path / "routing.yml"
    routing.write_text(ROUTING, encoding="utf-8")
    with factory() as s, s.begin():
        svc = factories.service(s, "api", factories.team(s, "web", T0), T0)
        _, key = create(
            s, name="in", kind=kind, service_id=svc.id, rate_limit_per_minute=6000, now=T0
        )
    cfg = settings.model_copy(
        update={
            "routing_file": routing,
            "engine_enabled": True,
            "evaluation_interval_seconds": 3600,
            "delivery_interval_seconds": 60,
        }
    )
    return cfg, key


def _channels(client: TestClient, admin: dict[str, str], sink: WebhookSink) -> None:
    for name in ("ops-hook", "oncall-hook", "team-hook"):
        resp = client.post(
            "/api/v1/notification-channels",
            json={
                "name": name,
                "kind": "webhook",
                "target": f"{sink.url}?ch={name}",
                "secret": "s3cret-s3cret",
            },
            headers=admin,
        )
        assert resp.status_code == 201, resp.text


@pytest.mark.prometheus
def test_prometheus_alert_pages_a_webhook_through_routing(
    engine: Engine, session_factory: sessionmaker[Session], settings: Settings, tmp_path: Path
) -> None:
    sink = WebhookSink().start()
    cfg, key = _setup(session_factory, sink, settings, tmp_path, "alertmanager")
    admin = {"Authorization": f"Bearer {make_token(session_factory, 'admin')}"}
    rules = tmp_path / "alerts.yml"
    rules.write_text(
        "groups:\n- name: t\n  rules:\n  - alert: CheckoutDown\n    expr: vector(1)\n"
        "    labels: {severity: critical, team: web}\n    annotations: {summary: checkout is down}\n",
        encoding="utf-8",
    )
    # delivery_interval is 60 s: a page within a few seconds proves it was pushed on commit.
    app = create_app(cfg, engine=engine)
    with TestClient(app) as client, serve(app) as base:
        _channels(client, admin, sink)
        alerting = (
            "alerting:\n  alertmanagers:\n  - static_configs:\n    - targets: ['"
            + base.removeprefix("http://")
            + "']\n    api_version: v2\n"
            + "    path_prefix: /integrations/"
            + key
            + "\n"
        )
        prom = PrometheusServer(
            tmp_path / "prom",
            targets=[],
            rule_files=[rules],
            extra_config=alerting,
            extra_args=["--rules.alert.resend-delay=1s"],
        ).start()
        try:
            _wait(lambda: len(sink.received()) >= 2, 40, "the pages")
            time.sleep(3)  # Prometheus keeps re-sending: still only one page per channel
        finally:
            prom.stop()
            sink.stop()
    pages = sink.received()
    # critical -> web-oncall (continue) and team=web -> web-team; not the default ops receiver
    assert len(pages) == 2
    assert all(p["kind"] == "page" for p in pages)
    assert {p["title"] for p in pages} == {"checkout is down"}
    assert all(p["labels"]["alertname"] == "CheckoutDown" for p in pages)


def test_real_alertmanager_forwards_to_ninefold(
    engine: Engine,
    session_factory: sessionmaker[Session],
    settings: Settings,
    tmp_path: Path,
    clock: FrozenClock,
) -> None:
    sink = WebhookSink().start()
    cfg, key = _setup(session_factory, sink, settings, tmp_path, "alertmanager")
    admin = {"Authorization": f"Bearer {make_token(session_factory, 'admin')}"}
    app = create_app(cfg, engine=engine)
    with TestClient(app) as client, serve(app) as base:
        _channels(client, admin, sink)
        am = AlertmanagerServer(
            tmp_path / "am",
            config=(
                "route:\n  receiver: ninefold\n  group_wait: 0s\n  group_interval: 1s\n"
                "receivers:\n- name: ninefold\n  webhook_configs:\n"
                f"  - url: {base}/integrations/{key}/alertmanager\n"
            ),
        ).start()
        try:
            am.post_alerts(
                [
                    {
                        "labels": {"alertname": "DiskFull", "team": "web", "severity": "warning"},
                        "annotations": {"summary": "disk full"},
                    }
                ]
            )
            _wait(lambda: len(sink.received()) >= 1, 30, "the page")
        finally:
            am.stop()
            sink.stop()
    pages = sink.received()
    assert len(pages) == 1
    assert pages[0]["title"] == "disk full"
    assert pages[0]["labels"]["team"] == "web"


def test_dispatch_queues_once_per_alert_and_a_resolved_message(
    engine: Engine,
    session_factory: sessionmaker[Session],
    settings: Settings,
    tmp_path: Path,
    clock: FrozenClock,
) -> None:
    sink = WebhookSink()  # not started: nothing is delivered, the engine is off
    cfg, key = _setup(session_factory, sink, settings, tmp_path, "alertmanager")
    cfg = cfg.model_copy(update={"engine_enabled": False})
    admin = {"Authorization": f"Bearer {make_token(session_factory, 'admin')}"}
    viewer = {"Authorization": f"Bearer {make_token(session_factory, 'viewer')}"}
    app = create_app(cfg, engine=engine, clock=clock)
    alert = {
        "labels": {"alertname": "Lag", "severity": "warning"},
        "annotations": {"summary": "lag"},
    }
    with TestClient(app) as client:
        _channels(client, admin, sink)
        for _ in range(3):
            assert (
                client.post(f"/integrations/{key}/api/v2/alerts", json=[alert]).status_code == 200
            )
        resolved = {**alert, "endsAt": "2026-10-31T23:59:00Z"}
        assert client.post(f"/integrations/{key}/api/v2/alerts", json=[resolved]).status_code == 200

        def queued() -> list[tuple[str, str]]:
            items = client.get(
                "/api/v1/notifications", params={"status": "pending"}, headers=viewer
            ).json()["items"]
            return sorted((i["channel"], i["notification"]["kind"]) for i in items)

        # the group flushed at once (group_wait 0s); the resolve waits for group_interval
        assert queued() == [("ops-hook", "page")]
        clock.advance(timedelta(seconds=59))
        pager_tick(app.state)
        assert queued() == [("ops-hook", "page")]
        clock.advance(timedelta(seconds=1))
        pager_tick(app.state)
        pager_tick(app.state)
        # not critical, no team label: only the default ops receiver; one page, one resolved
        assert queued() == [("ops-hook", "page"), ("ops-hook", "resolved")]


def test_missing_channel_keeps_the_alert_and_records_why(
    engine: Engine,
    session_factory: sessionmaker[Session],
    settings: Settings,
    tmp_path: Path,
    clock: FrozenClock,
) -> None:
    sink = WebhookSink()
    cfg, key = _setup(session_factory, sink, settings, tmp_path, "alertmanager")
    cfg = cfg.model_copy(update={"engine_enabled": False})
    viewer = {"Authorization": f"Bearer {make_token(session_factory, 'viewer')}"}
    app = create_app(cfg, engine=engine, clock=clock)
    with TestClient(app) as client:  # no channels were created
        alert = {"labels": {"alertname": "Lag"}}
        assert client.post(f"/integrations/{key}/api/v2/alerts", json=[alert]).status_code == 200
        stored = client.get("/api/v1/alerts", headers=viewer).json()["items"]
        assert len(stored) == 1
        detail = client.get(f"/api/v1/alerts/{stored[0]['id']}", headers=viewer).json()
    failed = [e for e in detail["events"] if e["kind"] == "notification_failed"]
    assert failed
    assert failed[0]["details"]["channel"] == "ops-hook"


def test_silenced_alerts_are_stored_but_not_notified(
    engine: Engine,
    session_factory: sessionmaker[Session],
    settings: Settings,
    tmp_path: Path,
    clock: FrozenClock,
) -> None:
    sink = WebhookSink()
    cfg, key = _setup(session_factory, sink, settings, tmp_path, "alertmanager")
    cfg = cfg.model_copy(update={"engine_enabled": False})
    admin = {"Authorization": f"Bearer {make_token(session_factory, 'admin')}"}
    responder = {"Authorization": f"Bearer {make_token(session_factory, 'responder')}"}
    viewer = {"Authorization": f"Bearer {make_token(session_factory, 'viewer')}"}
    app = create_app(cfg, engine=engine, clock=clock)

    def ts(delta: timedelta) -> str:
        return (T0 + delta).isoformat().replace("+00:00", "Z")

    with TestClient(app) as client:
        _channels(client, admin, sink)
        silence = {
            "matchers": [{"name": "alertname", "value": "Lag|Disk.*", "isRegex": True}],
            "startsAt": ts(timedelta(0)),
            "endsAt": ts(timedelta(hours=1)),
            "createdBy": "alice",
            "comment": "maintenance of the replica",
        }
        created = client.post("/api/v1/silences", json=silence, headers=responder)
        assert created.status_code == 201, created.text
        sid = created.json()["silenceID"]
        assert client.post("/api/v1/silences", json=silence, headers=viewer).status_code == 403
        past = {**silence, "startsAt": ts(timedelta(hours=-2)), "endsAt": ts(timedelta(hours=-1))}
        bad = client.post("/api/v1/silences", json=past, headers=responder)
        assert bad.status_code == 422
        assert "past" in bad.json()["detail"]
        badre = {**silence, "matchers": [{"name": "a", "value": "(", "isRegex": True}]}
        assert client.post("/api/v1/silences", json=badre, headers=responder).status_code == 422
        for name in ("Lag", "CPU"):
            client.post(
                f"/integrations/{key}/api/v2/alerts", json=[{"labels": {"alertname": name}}]
            )
        items = client.get("/api/v1/notifications", headers=viewer).json()["items"]
        assert [i["notification"]["labels"]["alertname"] for i in items] == ["CPU"]
        lag = next(
            a
            for a in client.get("/api/v1/alerts", headers=viewer).json()["items"]
            if a["labels"]["alertname"] == "Lag"
        )
        events = client.get(f"/api/v1/alerts/{lag['id']}", headers=viewer).json()["events"]
        assert any(
            e["kind"] == "suppressed"
            and e["details"] == {"kind": "silenced", "silences": [str(sid)]}
            for e in events
        )
        # expired early: the next alert pages again
        expired = client.delete(f"/api/v1/silences/{sid}", headers=responder).json()
        assert expired["state"] == "expired"
        client.post(
            f"/integrations/{key}/api/v2/alerts", json=[{"labels": {"alertname": "DiskFull"}}]
        )
        items = client.get("/api/v1/notifications", headers=viewer).json()["items"]
        assert sorted(i["notification"]["labels"]["alertname"] for i in items) == [
            "CPU",
            "DiskFull",
        ]
        listed = client.get("/api/v1/silences", headers=viewer).json()
        assert listed["total"] == 1
