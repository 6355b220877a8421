"""Engine leadership is observable (runner, /readyz, /metrics) and survives a lost lock
connection; the outbox lease comes from settings. The kill -9 tests are in test_ha.py."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

from fastapi.testclient import TestClient
from prometheus_client import generate_latest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ninefold.config import Settings
from ninefold.core.clock import FrozenClock
from ninefold.engine.runner import EngineRunner
from ninefold.notification import jobs
from ninefold.notification.models import OutboxItem
from ninefold.system.metrics import make_metrics
from tests.test_outbox import T0, add_channel
from tests.test_outbox_delivery import closed_port, enqueue


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


def _gauge(state: SimpleNamespace, module: str) -> str | None:
    for line in generate_latest(state.metrics.registry).decode().splitlines():
        if line.startswith(f'ninefold_engine_leader{{module="{module}"}}'):
            return line.rsplit(" ", 1)[1]
    return None


def test_leadership_is_visible_and_moves_when_the_leader_stops(
    engine: Engine, session_factory: sessionmaker[Session], settings: Settings, clock: FrozenClock
) -> None:
    sa, sb = (_state(engine, session_factory, settings, clock) for _ in range(2))
    a, b = EngineRunner(sa), EngineRunner(sb)
    try:
        assert a._is_leader("pager") is True
        assert a.leader_of() == ["pager"]
        assert _gauge(sa, "pager") == "1.0"
        if engine.dialect.name != "postgresql":
            return  # SQLite: one process leads everything
        assert b._is_leader("pager") is False
        assert b.leader_of() == []
        assert _gauge(sb, "pager") == "0.0"
        a.stop()
        assert _gauge(sa, "pager") == "0.0"
        assert b._is_leader("pager") is True
        assert _gauge(sb, "pager") == "1.0"
    finally:
        a.stop()
        b.stop()


def test_a_lost_lock_connection_gives_up_every_module(
    engine: Engine, session_factory: sessionmaker[Session], settings: Settings, clock: FrozenClock
) -> None:
    if engine.dialect.name != "postgresql":
        return
    runner = EngineRunner(_state(engine, session_factory, settings, clock))
    other = EngineRunner(_state(engine, session_factory, settings, clock))
    try:
        assert runner._is_leader("pager")
        assert runner._is_leader("heartbeats")
        # the lock session dies under the runner (its socket is gone, as after a network cut
        # that keepalives detected): the server frees the locks, the runner must notice
        runner._lock_conn.connection.dbapi_connection.close()
        assert other._is_leader("pager") is True
        assert runner._is_leader("heartbeats") is False  # the failed check drops everything
        assert runner.leader_of() == []
        assert runner._is_leader("heartbeats") is True  # a new session, free lock: leads again
    finally:
        runner.stop()
        other.stop()


def test_readyz_names_the_modules_this_replica_leads(client: TestClient) -> None:
    body = client.get("/readyz").json()
    assert body["status"] == "ready"
    assert body["engine_leader"] == []  # the engine is off in this app


def test_the_lease_comes_from_settings(
    engine: Engine, session_factory: sessionmaker[Session], settings: Settings, clock: FrozenClock
) -> None:
    add_channel(session_factory, target=f"http://127.0.0.1:{closed_port()}/hook")
    item_id = enqueue(session_factory, "ops-hook")
    state = _state(
        engine,
        session_factory,
        settings.model_copy(update={"notification_lease_seconds": 7}),
        clock,
    )
    claimed_until: list[object] = []

    class Slow:
        """Reads the row while it is claimed, then fails like an unreachable receiver."""

        def send(self, *args: object, **kwargs: object) -> object:
            with session_factory() as session:
                row = session.get(OutboxItem, item_id)
                assert row is not None
                claimed_until.append((row.status, row.next_attempt_at))
            raise ConnectionError("receiver down")

    state.notification_senders = SimpleNamespace(webhook=Slow(), email=None)
    jobs.run_with_state(state)
    [(status, until)] = claimed_until
    assert status == "sending"
    assert until is not None
    assert until.replace(tzinfo=T0.tzinfo) == T0 + timedelta(seconds=7)
