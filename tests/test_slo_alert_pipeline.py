"""SLO burn-rate alerts enter the alert pipeline: stored, routed, notified, then resolved."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from ninefold.alert.models import Alert
from ninefold.app import create_app
from ninefold.config import Settings
from ninefold.core.clock import FrozenClock
from ninefold.notification.models import NotificationChannel, OutboxItem
from ninefold.slo import jobs
from tests import factories
from tests.conftest import T0, make_token

SLO = "checkout-availability"
ROUTING = """
route:
  receiver: everything-else
  group_by: [alertname, slo]
  group_wait: 0s
  routes:
    - matchers: ['alertname="SLOBurnRate"', 'slo="checkout-availability"', 'severity="critical"']
      receiver: payments-page
receivers:
  - name: everything-else
    channels: []
  - name: payments-page
    channels: [payments-hook]
"""


class _Runner:
    def __init__(self) -> None:
        self.wakes = 0

    def wake_delivery(self) -> None:
        self.wakes += 1


@pytest.fixture
def app(settings: Settings, engine: Engine, clock: FrozenClock, tmp_path: Path) -> FastAPI:
    routing = tmp_path / "routing.yml"
    routing.write_text(ROUTING, encoding="utf-8")
    cfg = settings.model_copy(
        update={"routing_file": routing, "public_url": "https://ninefold.example"}
    )
    return create_app(cfg, clock=clock, engine=engine, start_engine=False)


@pytest.fixture
def web(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as tc:
        yield tc


def _ts(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _push(web: TestClient, headers: dict[str, str], batch: str, events: list[Any]) -> None:
    for i in range(0, len(events), 1000):
        resp = web.post(
            f"/api/v1/slos/{SLO}/events",
            json={"batch_id": f"{batch}-{i}", "events": events[i : i + 1000]},
            headers=headers,
        )
        assert resp.status_code == 200, resp.text


def _minutes(start: datetime, count: int, good: int, total: int = 1000) -> list[dict[str, Any]]:
    return [
        {"timestamp": _ts(start + timedelta(minutes=m)), "good": good, "total": total}
        for m in range(count)
    ]


def _setup(factory: sessionmaker[Session]) -> int:
    with factory() as s, s.begin():
        team = factories.team(s, "payments", T0)
        svc = factories.service(
            s, "checkout", team, T0, tier=0, runbook_url="https://runbooks.example/checkout"
        )
        factories.slo(s, svc, T0, name=SLO, objective=0.999)
        return svc.id


def _alerts(factory: sessionmaker[Session]) -> dict[str, Alert]:
    with factory() as s:
        rows = s.scalars(select(Alert).where(Alert.source == "slo").order_by(Alert.id)).all()
        return {r.dedup_key: r for r in rows}


def _outbox(factory: sessionmaker[Session]) -> list[tuple[str, str, str, str | None]]:
    """(channel, kind, alert id, slo label) of every queued notification, oldest first."""
    with factory() as s:
        rows = s.execute(
            select(NotificationChannel.name, OutboxItem.notification)
            .join(NotificationChannel, OutboxItem.channel_id == NotificationChannel.id)
            .order_by(OutboxItem.id)
        ).all()
        return [
            (channel, doc["kind"], doc["alert_id"], doc["labels"].get("slo"))
            for channel, doc in rows
        ]


def test_burn_pages_through_routing_then_resolves(
    app: FastAPI,
    web: TestClient,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
) -> None:
    service_id = _setup(session_factory)
    admin = {"Authorization": f"Bearer {make_token(session_factory, 'admin')}"}
    pusher = {"Authorization": f"Bearer {make_token(session_factory, 'responder')}"}
    resp = web.post(
        "/api/v1/notification-channels",
        json={"name": "payments-hook", "kind": "webhook", "target": "http://127.0.0.1:9/hook"},
        headers=admin,
    )
    assert resp.status_code == 201, resp.text
    runner = _Runner()
    app.state.engine_runner = runner
    # A healthy day, then ten minutes at 50% errors: 500x the budget rate of a 99.9% SLO.
    _push(web, pusher, "day", _minutes(T0 - timedelta(days=1), 1430, good=1000))
    _push(web, pusher, "outage", _minutes(T0 - timedelta(minutes=10), 10, good=500))

    jobs.run_with_state(app.state)

    alerts = _alerts(session_factory)
    assert set(alerts) == {f"slo:{SLO}:page", f"slo:{SLO}:ticket"}
    page = alerts[f"slo:{SLO}:page"]
    assert page.status == "firing"
    assert page.severity == "critical"
    assert page.service_id == service_id
    assert page.starts_at == T0
    assert page.labels == {
        "alertname": "SLOBurnRate",
        "slo": SLO,
        "service": "checkout",
        "team": "payments",
        "tier": "0",
        "severity": "critical",
        "slo_severity": "page",
    }
    assert SLO in page.summary
    assert "14.4" in page.annotations["description"]
    assert page.annotations["burn_rates"].startswith("5m 500x, 30m ")
    assert page.annotations["runbook_url"] == "https://runbooks.example/checkout"
    assert page.details["burn_rates"]["5m"] == pytest.approx(500.0)
    assert page.generator_url == f"https://ninefold.example/api/v1/slos/{SLO}/status"
    ticket = alerts[f"slo:{SLO}:ticket"]
    assert (ticket.severity, ticket.labels["severity"], ticket.labels["slo_severity"]) == (
        "warning",
        "warning",
        "ticket",
    )
    # Only the page matches the payments route; the ticket goes to a receiver without channels.
    assert _outbox(session_factory) == [("payments-hook", "page", str(page.id), SLO)]
    assert runner.wakes == 1
    listed = web.get("/api/v1/alerts", params={"source": "slo"}, headers=admin).json()["items"]
    assert {a["service"] for a in listed} == {"checkout"}

    # The same evaluation again: no transition, no new alert, no second page.
    jobs.run_with_state(app.state)
    assert len(_alerts(session_factory)) == 2
    assert len(_outbox(session_factory)) == 1
    assert runner.wakes == 1

    # Seven hours of good traffic: every burn condition clears and both alerts resolve.
    clock.set(T0 + timedelta(hours=7))
    _push(web, pusher, "recovery", _minutes(T0, 7 * 60, good=1000))
    jobs.run_with_state(app.state)
    alerts = _alerts(session_factory)
    assert {k: a.status for k, a in alerts.items()} == {
        f"slo:{SLO}:page": "resolved",
        f"slo:{SLO}:ticket": "resolved",
    }
    page = alerts[f"slo:{SLO}:page"]
    assert page.resolved_at == T0 + timedelta(hours=7)
    assert page.details["resolved_reason"] == "burn rates back under the thresholds"
    assert "14.4" in page.details["reason"]
    assert _outbox(session_factory)[1:] == [("payments-hook", "resolved", str(page.id), SLO)]
    assert runner.wakes == 2


def test_transitions_raise_alerts_without_routing(
    session_factory: sessionmaker[Session], web: TestClient, clock: FrozenClock
) -> None:
    """``ninefold slo evaluate`` and the demo (no routing): alerts are stored, nothing is queued."""
    _setup(session_factory)
    pusher = {"Authorization": f"Bearer {make_token(session_factory, 'responder')}"}
    _push(web, pusher, "outage", _minutes(T0 - timedelta(minutes=10), 10, good=0))
    with session_factory() as s, s.begin():
        outcome = jobs.evaluate(s, T0)
    assert {(e.severity, e.state) for e in outcome.events} >= {("page", "firing")}
    assert outcome.queued == 0
    assert f"slo:{SLO}:page" in _alerts(session_factory)
    assert _outbox(session_factory) == []
    # Data stops: the page resolves and the no-data alert opens, each in the pipeline too.
    with session_factory() as s, s.begin():
        jobs.run(s, T0 + timedelta(hours=1))
    alerts = _alerts(session_factory)
    assert alerts[f"slo:{SLO}:page"].status == "resolved"
    no_data = alerts[f"slo:{SLO}:no_data"]
    assert (no_data.status, no_data.labels["alertname"], no_data.severity) == (
        "firing",
        "SLONoData",
        "warning",
    )
