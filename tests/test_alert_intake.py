"""The durable intake log: accepted batches survive a crash, are processed in order, exactly
once, and a batch that cannot be processed is set aside without blocking the ones after it."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from ninefold.alert import intake
from ninefold.alert.models import Alert, IntakeBatch
from ninefold.app import create_app
from ninefold.config import Settings
from ninefold.core.clock import FrozenClock
from tests import factories
from tests.conftest import T0, make_token


@pytest.fixture
def integration_key(client: TestClient, admin_headers: dict[str, str]) -> str:
    with client.app.state.session_factory() as s, s.begin():  # type: ignore[attr-defined]
        factories.service(s, "api", factories.team(s, "web", T0), T0)
    resp = client.post(
        "/api/v1/integrations",
        json={"name": "prom", "kind": "alertmanager", "service": "api"},
        headers=admin_headers,
    )
    assert resp.status_code == 201, resp.text
    key: str = resp.json()["key"]
    return key


def _alert(name: str, **extra: str) -> dict[str, object]:
    return {
        "labels": {"alertname": name, "job": "api"},
        "startsAt": "2026-10-31T23:50:00Z",
        **extra,
    }


def _integration_id(factory: sessionmaker[Session]) -> int:
    from ninefold.alert.models import Integration

    with factory() as s:
        return s.scalars(select(Integration.id)).one()


def _log(s: Session, iid: int, alerts: list[dict[str, object]] | str, items: int = 0) -> None:
    """Put one batch in the intake log as a request would (``alerts`` may be broken JSON text,
    then with its claimed ``items``)."""
    payload = alerts if isinstance(alerts, str) else json.dumps(alerts)
    count = items or (len(alerts) if isinstance(alerts, list) else 1)
    intake.accept(s, integration_id=iid, format=intake.AM_API, payload=payload, items=count, now=T0)


def _alerts(factory: sessionmaker[Session]) -> dict[str, str]:
    with factory() as s:
        return {
            a.labels["alertname"]: a.status
            for a in s.scalars(select(Alert).order_by(Alert.id)).all()
        }


def _pending(factory: sessionmaker[Session]) -> int:
    with factory() as s:
        return s.scalar(select(func.count()).select_from(IntakeBatch)) or 0


def test_accepted_batch_is_processed_and_the_log_emptied(
    client: TestClient,
    integration_key: str,
    session_factory: sessionmaker[Session],
    admin_headers: dict[str, str],
) -> None:
    auth = {"Authorization": f"Bearer {integration_key}"}
    resp = client.post("/api/v2/alerts", json=[_alert("A"), _alert("B")], headers=auth)
    assert resp.status_code == 200
    assert _alerts(session_factory) == {"A": "firing", "B": "firing"}
    assert _pending(session_factory) == 0
    state = client.get("/api/v1/alerts/intake", headers=admin_headers).json()
    assert state["pending_batches"] == 0
    assert state["failed_batches"] == 0


def test_a_batch_left_by_a_crash_is_processed_when_the_engine_starts(
    client: TestClient,
    integration_key: str,
    session_factory: sessionmaker[Session],
    settings: Settings,
    engine: Engine,
) -> None:
    # The process committed the batch (and answered 200), then died before processing it.
    with session_factory() as s, s.begin():
        _log(s, _integration_id(session_factory), [_alert("LeftBehind")])
    assert _alerts(session_factory) == {}
    restarted = create_app(
        settings.model_copy(update={"intake_poll_seconds": 0.2}),
        clock=FrozenClock(T0 + timedelta(minutes=1)),
        engine=engine,
        start_engine=True,
    )
    with TestClient(restarted):
        deadline = time.monotonic() + 20
        while _alerts(session_factory) != {"LeftBehind": "firing"}:
            assert time.monotonic() < deadline, "the left-behind batch was not processed"
            time.sleep(0.05)
    assert _pending(session_factory) == 0


def test_batches_are_processed_in_the_order_they_were_accepted(
    client: TestClient, integration_key: str, session_factory: sessionmaker[Session]
) -> None:
    iid = _integration_id(session_factory)
    fired = [_alert("Flappy")]
    resolved = [_alert("Flappy", endsAt="2026-10-31T23:55:00Z")]
    with session_factory() as s, s.begin():
        for body in (fired, resolved, fired, resolved, fired):
            _log(s, iid, body)
    done = intake.drain(client.app.state)  # type: ignore[attr-defined]
    assert (done.rows, done.items) == (5, 5)
    with session_factory() as s:
        history = [a.status for a in s.scalars(select(Alert).order_by(Alert.id)).all()]
    # fire, resolve, fire again (a new alert), resolve, fire: two resolved, the last one firing
    assert history == ["resolved", "resolved", "firing"]


def test_a_backlog_larger_than_a_pass_is_drained_in_several_passes(
    client: TestClient, integration_key: str, session_factory: sessionmaker[Session]
) -> None:
    iid = _integration_id(session_factory)
    size = intake.BATCH_ITEMS // 2 + 1  # two rows never fit one pass
    with session_factory() as s, s.begin():
        for i in range(3):
            _log(
                s,
                iid,
                [
                    {
                        "labels": {"alertname": f"Big{i}", "n": str(n)},
                        "startsAt": "2026-10-31T23:50:00Z",
                    }
                    for n in range(size)
                ],
            )
    state = client.app.state  # type: ignore[attr-defined]
    first = intake.process_once(state)
    assert (first.rows, first.items, first.more) == (1, size, True)
    done = intake.drain(state)
    assert (done.rows, done.items) == (2, 2 * size)
    assert _pending(session_factory) == 0
    assert intake.process_once(state) == intake.Processed(0, 0, 0, [], more=False)
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Alert)) == 3 * size


def test_a_batch_that_cannot_be_processed_is_set_aside_and_the_rest_go_on(
    client: TestClient,
    integration_key: str,
    session_factory: sessionmaker[Session],
    admin_headers: dict[str, str],
) -> None:
    iid = _integration_id(session_factory)
    with session_factory() as s, s.begin():
        _log(s, iid, "[{")
        _log(s, iid, [_alert("AfterTheBadOne")])
    state = client.app.state  # type: ignore[attr-defined]
    intake.drain(state)
    # the good batch behind the bad one is not held up
    assert _alerts(session_factory) == {"AfterTheBadOne": "firing"}
    for _ in range(intake.MAX_ATTEMPTS):
        intake.drain(state)
    answer = client.get("/api/v1/alerts/intake", headers=admin_headers).json()
    assert answer["pending_batches"] == 0
    assert answer["failed_batches"] == 1
    [bad] = answer["failed"]
    assert bad["attempts"] == intake.MAX_ATTEMPTS
    assert "JSONDecodeError" in bad["last_error"]
    # an admin puts it back in line after a fix; viewers may look but not retry
    viewer = {"Authorization": f"Bearer {make_token(session_factory, 'viewer')}"}
    assert client.get("/api/v1/alerts/intake", headers=viewer).status_code == 200
    assert client.post("/api/v1/alerts/intake/retry", headers=viewer).status_code == 403
    retried = client.post("/api/v1/alerts/intake/retry", headers=admin_headers)
    assert retried.json() == {"retried": 1}
    assert client.get("/api/v1/alerts/intake", headers=admin_headers).json()["pending_batches"] == 1


def test_invalid_alerts_of_a_batch_are_not_logged_and_the_valid_ones_are(
    client: TestClient, integration_key: str, session_factory: sessionmaker[Session]
) -> None:
    auth = {"Authorization": f"Bearer {integration_key}"}
    body = [_alert("Good"), {"labels": {}}, _alert("AlsoGood")]
    resp = client.post("/api/v2/alerts", json=body, headers=auth)
    assert resp.status_code == 400
    assert resp.json()["accepted"] == 2
    assert "alerts[1].labels" in resp.json()["message"]
    assert _alerts(session_factory) == {"Good": "firing", "AlsoGood": "firing"}


def test_unknown_key_stores_nothing_in_the_log(
    client: TestClient, integration_key: str, session_factory: sessionmaker[Session]
) -> None:
    resp = client.post(
        "/api/v2/alerts", json=[_alert("X")], headers={"Authorization": "Bearer nope"}
    )
    assert resp.status_code == 401
    assert _pending(session_factory) == 0
    assert _alerts(session_factory) == {}


def test_concurrent_processors_process_each_batch_exactly_once(
    client: TestClient, integration_key: str, session_factory: sessionmaker[Session]
) -> None:
    """Replicas' processors run at the same time; each batch becomes alerts once."""
    iid = _integration_id(session_factory)
    with session_factory() as s, s.begin():
        for n in range(40):
            _log(s, iid, [_alert(f"A{n}-{i}") for i in range(25)])
    state = client.app.state  # type: ignore[attr-defined]
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(50):
                intake.process_once(state, limit_items=100)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Alert)) == 1000
        assert s.scalar(select(func.count(func.distinct(Alert.dedup_key)))) == 1000
    assert _pending(session_factory) == 0


def test_a_web_worker_wakes_the_parent_engine_to_process_its_batch(
    client: TestClient,
    integration_key: str,
    session_factory: sessionmaker[Session],
    settings: Settings,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``serve --workers N``: a worker commits the batch, the parent's engine processes it at
    once (its own polling is set to 60 s here, so only the wake-up can explain it)."""
    from ninefold.cli import serve
    from ninefold.engine import wake

    slow_poll = settings.model_copy(update={"intake_poll_seconds": 60.0})
    parent = create_app(slow_poll, clock=FrozenClock(T0), engine=engine, start_engine=True)
    listener = wake.WakeListener(parent.state).start()
    try:
        with serve.EngineHost(parent):
            time.sleep(0.3)  # the intake thread's first (empty) pass is behind it
            monkeypatch.setenv(serve.WORKER_SETTINGS, slow_poll.model_dump_json())
            monkeypatch.setenv(wake.PORT_VARIABLE, str(listener.port))
            worker = serve.worker_app()
            assert isinstance(worker.state.engine_runner, wake.RemoteEngine)
            with TestClient(worker) as w:
                auth = {"Authorization": f"Bearer {integration_key}"}
                assert (
                    w.post("/api/v2/alerts", json=[_alert("ViaWorker")], headers=auth).status_code
                    == 200
                )
                deadline = time.monotonic() + 10
                while _alerts(session_factory) != {"ViaWorker": "firing"}:
                    assert time.monotonic() < deadline, "the parent was not woken"
                    time.sleep(0.02)
    finally:
        listener.close()


def test_a_database_outage_during_processing_is_not_held_against_the_batch(
    client: TestClient,
    integration_key: str,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sqlalchemy.exc import OperationalError

    from ninefold.alert import dispatch

    iid = _integration_id(session_factory)
    with session_factory() as s, s.begin():
        _log(s, iid, [_alert("DuringOutage")])
    real = dispatch.intake

    def away(*_a: object, **_k: object) -> object:
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    monkeypatch.setattr(dispatch, "intake", away)
    state = client.app.state  # type: ignore[attr-defined]
    for _ in range(intake.MAX_ATTEMPTS + 1):
        with pytest.raises(OperationalError):
            intake.drain(state)
    with session_factory() as s:
        row = s.scalars(select(IntakeBatch)).one()
        assert (row.attempts, row.failed_at) == (0, None)
    monkeypatch.setattr(dispatch, "intake", real)
    intake.drain(state)
    assert _alerts(session_factory) == {"DuringOutage": "firing"}


def test_a_cached_key_rotated_through_the_api_stops_working_at_once(
    client: TestClient, integration_key: str, admin_headers: dict[str, str]
) -> None:
    auth = {"Authorization": f"Bearer {integration_key}"}
    assert client.post("/api/v2/alerts", json=[_alert("A")], headers=auth).status_code == 200
    rotated = client.post(
        "/api/v1/integrations/prom/rotate", json={"grace_seconds": 0}, headers=admin_headers
    )
    assert rotated.status_code == 200, rotated.text
    # the old key was cached by the first request; the rotation emptied the cache
    assert client.post("/api/v2/alerts", json=[_alert("B")], headers=auth).status_code == 401
    new = {"Authorization": f"Bearer {rotated.json()['key']}"}
    assert client.post("/api/v2/alerts", json=[_alert("B")], headers=new).status_code == 200


def test_cli_shows_the_intake_log_and_retries_set_aside_batches(
    client: TestClient,
    integration_key: str,
    session_factory: sessionmaker[Session],
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from typer.testing import CliRunner

    from ninefold.cli.main import app as cli

    iid = _integration_id(session_factory)
    with session_factory() as s, s.begin():
        _log(s, iid, "[{", items=3)
    state = client.app.state  # type: ignore[attr-defined]
    for _ in range(intake.MAX_ATTEMPTS):
        intake.drain(state)
    monkeypatch.setenv("NINEFOLD_DATABASE_URL", db_url)
    runner = CliRunner()
    shown = runner.invoke(cli, ["alert", "intake", "-o", "json"])
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.stdout)
    assert (data["pending_batches"], data["failed_batches"]) == (0, 1)
    assert data["failed"][0]["items"] == 3
    table = runner.invoke(cli, ["alert", "intake"])
    assert "set aside: 1" in table.output
    assert "JSONDecodeError" in table.output
    retried = runner.invoke(cli, ["alert", "intake", "--retry"])
    assert retried.exit_code == 0, retried.output
    assert "1 set-aside batch(es) put back in line" in retried.output
    assert "pending: 1 batch(es), 3 alert(s)" in retried.output
    assert _pending(session_factory) == 1


def _commit_all(engine: Engine, iid: int, count: int) -> list[BaseException | None]:
    """``count`` batches committed at once from one event loop, as concurrent requests do."""

    async def one(i: int) -> BaseException | None:
        try:
            await intake.commit_batch(
                engine,
                integration_id=iid,
                format=intake.AM_API,
                payload=json.dumps([_alert(f"G{i}")]),
                items=1,
                now=T0,
            )
        except Exception as exc:
            return exc
        return None

    async def all_of() -> list[BaseException | None]:
        return list(await asyncio.gather(*(one(i) for i in range(count))))

    return asyncio.run(all_of())


def test_concurrent_batches_share_commits_and_all_are_stored(
    client: TestClient, integration_key: str, engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    iid = _integration_id(session_factory)
    commits: list[int] = []

    def committed(_conn: object) -> None:
        commits.append(1)

    event.listen(engine, "commit", committed)
    try:
        assert _commit_all(engine, iid, 60) == [None] * 60
    finally:
        event.remove(engine, "commit", committed)
    with session_factory() as s:
        stored = s.scalars(select(IntakeBatch.payload)).all()
    assert sorted(json.loads(p)[0]["labels"]["alertname"] for p in stored) == sorted(
        f"G{i}" for i in range(60)
    )
    assert 1 <= len(commits) < 60  # grouped: one commit carried several requests' batches


def test_a_failed_group_commit_reaches_every_request_and_stores_nothing(
    client: TestClient, integration_key: str, engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    missing = _integration_id(session_factory) + 1000  # no such integration: the INSERT fails
    results = _commit_all(engine, missing, 10)
    assert all(isinstance(r, Exception) for r in results), results
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(IntakeBatch)) == 0
    # the committer thread goes away when idle, and comes back for the next batch
    deadline = time.monotonic() + intake._Committer.IDLE_SECONDS + 5
    while any(t.name == "ninefold-intake-commit" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the commit thread did not stop when idle"
        time.sleep(0.05)
    assert _commit_all(engine, _integration_id(session_factory), 1) == [None]
