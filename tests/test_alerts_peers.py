"""Real senders: a Prometheus server alerting straight into ninefold, the official PagerDuty client."""

from __future__ import annotations

import ssl
import time
from pathlib import Path

import pytest
from pagerduty import EventsApiV2Client
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from ninefold.alert.fingerprint import fingerprint_hex
from ninefold.alert.keys import create
from ninefold.alert.models import Alert
from ninefold.app import create_app
from ninefold.config import Settings
from tests import factories
from tests.conftest import T0
from tests.live import self_signed_cert, serve
from tests.prom import PrometheusServer


def _key(factory: sessionmaker[Session], kind: str) -> str:
    with factory() as s, s.begin():
        svc = factories.service(s, "api", factories.team(s, "web", T0), T0)
        _, key = create(
            s, name=f"{kind}-in", kind=kind, service_id=svc.id, rate_limit_per_minute=6000, now=T0
        )
    return key


@pytest.mark.prometheus
def test_prometheus_alerts_straight_into_ninefold(
    engine: Engine, session_factory: sessionmaker[Session], settings: Settings, tmp_path: Path
) -> None:
    key = _key(session_factory, "alertmanager")
    rules = tmp_path / "alerts.yml"
    rules.write_text(
        "groups:\n- name: t\n  rules:\n"
        "  - alert: AlwaysFiring\n    expr: vector(1)\n"
        "    labels: {severity: critical, team: web}\n"
        "    annotations: {summary: 'it fires'}\n",
        encoding="utf-8",
    )
    app = create_app(settings, engine=engine, start_engine=False)
    with serve(app) as base:
        host = base.removeprefix("http://")
        alerting = (
            "alerting:\n  alertmanagers:\n  - static_configs:\n    - targets: ['" + host + "']\n"
            "    api_version: v2\n    authorization:\n      type: Bearer\n      credentials: "
            + key
            + "\n"
        )
        # The first send happens before Prometheus has discovered its alertmanagers and is
        # dropped; a short resend delay makes the next one come within a second.
        prom = PrometheusServer(
            tmp_path / "prom",
            targets=[],
            rule_files=[rules],
            extra_config=alerting,
            extra_args=["--rules.alert.resend-delay=1s"],
        )
        prom.start()
        try:
            deadline = time.monotonic() + 30
            alert = None
            while time.monotonic() < deadline and alert is None:
                with session_factory() as s:
                    alert = s.scalars(select(Alert)).first()
                time.sleep(0.5)
        finally:
            prom.stop()
    assert alert is not None, "Prometheus never delivered the alert to ninefold"
    assert alert.labels["alertname"] == "AlwaysFiring"
    assert alert.severity == "critical"
    assert alert.summary == "it fires"
    assert alert.fingerprint == fingerprint_hex(alert.labels)
    assert alert.generator_url is not None
    assert "graph" in alert.generator_url
    assert alert.status == "firing"


def test_official_pagerduty_client_sends_events_v2(
    engine: Engine, session_factory: sessionmaker[Session], settings: Settings, tmp_path: Path
) -> None:
    key = _key(session_factory, "pagerduty")
    app = create_app(settings, engine=engine, start_engine=False)
    cert, pkey = self_signed_cert(tmp_path)  # the client only speaks https
    with serve(app, tls=(cert, pkey)) as base:
        client = EventsApiV2Client(
            key, base_url=base, verify=ssl.create_default_context(cafile=str(cert))
        )
        dedup = client.trigger(
            "Checkout error rate 12%",
            "checkout-1",
            dedup_key="checkout-5xx",
            severity="critical",
            payload={"custom_details": {"rate": 0.12}},
            links=[{"href": "http://dash", "text": "dashboard"}],
        )
        assert dedup == "checkout-5xx"
        client.acknowledge("checkout-5xx")
        with session_factory() as s:
            alert = s.scalars(select(Alert)).one()
            assert alert.status == "firing"
            assert alert.acknowledged_at is not None
            assert alert.summary == "Checkout error rate 12%"
            assert alert.labels["source"] == "checkout-1"
        client.resolve("checkout-5xx")
    with session_factory() as s:
        assert s.scalars(select(Alert)).one().status == "resolved"
