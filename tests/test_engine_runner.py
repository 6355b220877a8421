"""The periodic engine: one leader per module on PostgreSQL, gauges exported after a run."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from ninefold.config import Settings
from ninefold.core.clock import FrozenClock
from ninefold.engine.runner import EngineRunner
from ninefold.slo.models import SloAlertEvent
from ninefold.system.metrics import make_metrics
from tests import factories
from tests.conftest import T0


def _state(
    engine: Engine, factory: sessionmaker[Session], settings: Settings, clock: FrozenClock
) -> SimpleNamespace:
    return SimpleNamespace(
        engine=engine,
        session_factory=factory,
        settings=settings,
        clock=clock,
        metrics=make_metrics(),
    )


def test_run_once_evaluates_and_exports_gauges(
    engine: Engine,
    session_factory: sessionmaker[Session],
    settings: Settings,
    clock: FrozenClock,
    client: TestClient,
    responder_headers: dict[str, str],
) -> None:
    with session_factory() as s, s.begin():
        team = factories.team(s, "t", T0)
        svc = factories.service(s, "api", team, T0)
        factories.slo(s, svc, T0, name="api-availability", objective=0.99)
    events = [
        {"timestamp": (T0 - timedelta(minutes=m)).isoformat(), "good": 0, "total": 10}
        for m in range(1, 11)
    ]
    client.post(
        "/api/v1/slos/api-availability/events",
        json={"batch_id": "b", "events": events},
        headers=responder_headers,
    )
    state = _state(engine, session_factory, settings, clock)
    runner = EngineRunner(state)
    runner.run_once()
    runner.stop()
    with session_factory() as s:
        assert (
            s.scalar(
                select(func.count())
                .select_from(SloAlertEvent)
                .where(SloAlertEvent.state == "firing")
            )
            >= 1
        )
    from prometheus_client import generate_latest

    exposed = generate_latest(state.metrics.registry).decode()
    assert 'ninefold_slo_alerts_firing{severity="page"} 1.0' in exposed
    from prometheus_client.parser import text_string_to_metric_families

    burn = {
        s.labels["window"]: s.value
        for fam in text_string_to_metric_families(exposed)
        if fam.name == "ninefold_slo_burn_rate"
        for s in fam.samples
    }
    assert burn["5m"] == pytest.approx(100.0)  # 100% errors at a 99% objective
    assert 'ninefold_slo_evaluations_total{result="ok"} 1.0' in exposed


def test_only_one_replica_leads_on_postgresql(
    engine: Engine, session_factory: sessionmaker[Session], settings: Settings, clock: FrozenClock
) -> None:
    a = EngineRunner(_state(engine, session_factory, settings, clock))
    b = EngineRunner(_state(engine, session_factory, settings, clock))
    try:
        first, second = a._is_leader("slo-evaluation"), b._is_leader("slo-evaluation")
        if engine.dialect.name == "postgresql":
            assert (first, second) == (True, False)
            a.stop()  # the leader's connection closes: its lock is released
            assert b._is_leader("slo-evaluation") is True
        else:
            assert (first, second) == (True, True)  # SQLite: a single process
    finally:
        a.stop()
        b.stop()
