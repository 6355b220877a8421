"""SLO engine against real databases: pushed events, evaluation at any time, alerts, gates."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ninefold.core.clock import FrozenClock
from ninefold.slo import jobs
from ninefold.slo.models import SloAlertEvent, SloBucket
from tests import factories

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _setup(factory: sessionmaker[Session], **spec: object) -> None:
    with factory() as s, s.begin():
        team = factories.team(s, "payments", T0)
        svc = factories.service(s, "checkout", team, T0, tier=0)
        factories.slo(s, svc, T0, name="checkout-availability", **spec)


def _push(
    client: TestClient,
    headers: dict[str, str],
    batch_id: str,
    events: list[dict[str, object]],
    slo: str = "checkout-availability",
) -> dict[str, object]:
    resp = client.post(
        f"/api/v1/slos/{slo}/events", json={"batch_id": batch_id, "events": events}, headers=headers
    )
    assert resp.status_code == 200, resp.text
    body: dict[str, object] = resp.json()
    return body


def _ts(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def test_pushed_events_match_brute_force(
    client: TestClient,
    session_factory: sessionmaker[Session],
    responder_headers: dict[str, str],
    viewer_headers: dict[str, str],
    clock: FrozenClock,
) -> None:
    """Random events over 35 days: every window's figures equal a direct sum over the raw events."""
    _setup(session_factory, objective=0.995, window={"rolling": "30d"})
    rng = random.Random(7)
    start = T0 - timedelta(days=34)
    raw: list[tuple[datetime, int, int]] = []
    t = start
    while t < T0:
        total = rng.randint(0, 50)
        bad = rng.randint(0, total) if rng.random() < 0.05 else 0
        raw.append((t, total - bad, total))
        t += timedelta(seconds=rng.randint(30, 4000))
    for i in range(0, len(raw), 500):
        chunk = raw[i : i + 500]
        _push(
            client,
            responder_headers,
            f"b{i}",
            [{"timestamp": _ts(ts), "good": g, "total": tot} for ts, g, tot in chunk],
        )
    for at in (T0, T0 - timedelta(days=3, minutes=17), T0 - timedelta(hours=5, minutes=1)):
        clock.set(T0)
        got = client.get(
            "/api/v1/slos/checkout-availability/status",
            params={"at": _ts(at)},
            headers=viewer_headers,
        ).json()
        end = at.replace(second=0, microsecond=0)

        def window_sum(seconds: int, end: datetime = end) -> tuple[int, int]:
            lo = end - timedelta(seconds=seconds)
            rows = [(g, tot) for ts, g, tot in raw if lo <= ts.replace(second=0) < end]
            return sum(r[0] for r in rows), sum(r[1] for r in rows)

        good, total = window_sum(30 * 86400)
        assert got["good"] == good
        assert got["total"] == total
        assert got["sli"] == pytest.approx(good / total)
        assert got["error_budget_remaining_fraction"] == pytest.approx(
            1 - (total - good) / (0.005 * total)
        )
        for label, seconds in (
            ("5m", 300),
            ("1h", 3600),
            ("6h", 21600),
            ("1d", 86400),
            ("3d", 259200),
        ):
            g, tot = window_sum(seconds)
            expected = None if tot == 0 else ((tot - g) / tot) / 0.005
            assert got["burn_rates"][label] == (
                pytest.approx(expected) if expected is not None else None
            ), label


def test_batches_are_idempotent_and_conflicts_refused(
    client: TestClient, session_factory: sessionmaker[Session], responder_headers: dict[str, str]
) -> None:
    _setup(session_factory)
    events = [{"timestamp": _ts(T0 - timedelta(minutes=5)), "good": 90, "total": 100}]
    first = _push(client, responder_headers, "batch-1", events)
    assert first == {"batch_id": "batch-1", "accepted": 1, "duplicate": False, "minutes": 1}
    again = _push(client, responder_headers, "batch-1", events)
    assert again["duplicate"] is True
    with session_factory() as s:
        row = s.scalar(select(SloBucket).where(SloBucket.res == 60))
        assert row is not None
        assert (row.good, row.total) == (90, 100)
        assert (
            s.scalar(select(func.count()).select_from(SloBucket)) == 4
        )  # one bucket per resolution
    other = client.post(
        "/api/v1/slos/checkout-availability/events",
        json={"batch_id": "batch-1", "events": [{"timestamp": _ts(T0), "good": 1, "total": 1}]},
        headers=responder_headers,
    )
    assert other.status_code == 409
    assert "batch-1" in other.json()["detail"]


@pytest.mark.parametrize(
    ("event", "needle"),
    [
        ({"timestamp": "2026-10-31T23:00:00Z", "good": 5, "total": 3}, "exceeds total"),
        ({"timestamp": "2026-10-31T23:00:00Z", "good": -1, "total": 3}, "good"),
        ({"timestamp": "2026-10-31T23:00:00", "good": 1, "total": 3}, "time zone"),
        ({"timestamp": "yesterday", "good": 1, "total": 3}, "timestamp"),
        ({"timestamp": "2026-10-31T23:00:00Z", "good": 1, "bad": 1, "total": 3}, "exactly one"),
        ({"timestamp": "2026-10-31T23:00:00Z", "total": 3, "extra": 1}, "extra"),
        ({"timestamp": "2027-01-01T00:00:00Z", "good": 1, "total": 3}, "future"),
        ({"timestamp": "2025-01-01T00:00:00Z", "good": 1, "total": 3}, "older than"),
    ],
)
def test_bad_events_get_422_and_store_nothing(
    client: TestClient,
    session_factory: sessionmaker[Session],
    responder_headers: dict[str, str],
    event: dict[str, object],
    needle: str,
) -> None:
    _setup(session_factory)
    good = {"timestamp": "2026-10-31T22:00:00Z", "good": 1, "total": 1}
    resp = client.post(
        "/api/v1/slos/checkout-availability/events",
        json={"batch_id": "x", "events": [good, event]},
        headers=responder_headers,
    )
    assert resp.status_code == 422, resp.text
    assert needle in resp.text
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(SloBucket)) == 0


def test_push_needs_responder_and_known_slo(
    client: TestClient,
    session_factory: sessionmaker[Session],
    viewer_headers: dict[str, str],
    responder_headers: dict[str, str],
) -> None:
    _setup(session_factory)
    body = {"batch_id": "a", "events": [{"timestamp": _ts(T0), "good": 1, "total": 1}]}
    assert client.post("/api/v1/slos/checkout-availability/events", json=body).status_code == 401
    assert (
        client.post(
            "/api/v1/slos/checkout-availability/events", json=body, headers=viewer_headers
        ).status_code
        == 403
    )
    missing = client.post("/api/v1/slos/nope/events", json=body, headers=responder_headers)
    assert missing.status_code == 404
    assert "nope" in missing.json()["detail"]
    bad_json = client.post(
        "/api/v1/slos/checkout-availability/events",
        content=b"{not json",
        headers={**responder_headers, "content-type": "application/json"},
    )
    assert bad_json.status_code == 422


def test_no_data_stale_and_burn_alerts_recorded(
    client: TestClient,
    session_factory: sessionmaker[Session],
    responder_headers: dict[str, str],
    viewer_headers: dict[str, str],
    clock: FrozenClock,
) -> None:
    _setup(session_factory, objective=0.999, alerting={"no_data_after": "10m"})
    status = client.get("/api/v1/slos/checkout-availability/status", headers=viewer_headers).json()
    assert status["status"] == "no_data"
    assert status["sli"] is None
    # A healthy day, then an outage: 50% errors for the last 10 minutes.
    day = [
        {
            "timestamp": _ts(T0 - timedelta(days=1) + timedelta(minutes=m)),
            "good": 1000,
            "total": 1000,
        }
        for m in range(0, 1430)
    ]
    _push(client, responder_headers, "day", day)
    outage = [
        {
            "timestamp": _ts(T0 - timedelta(minutes=10) + timedelta(minutes=m)),
            "good": 500,
            "total": 1000,
        }
        for m in range(10)
    ]
    _push(client, responder_headers, "outage", outage)
    with session_factory() as s, s.begin():
        statuses = jobs.run(s, T0)
    assert statuses[0].status in {"critical", "exhausted"}
    with session_factory() as s:
        events = s.scalars(select(SloAlertEvent).order_by(SloAlertEvent.id)).all()
        fired = {(e.severity, e.state) for e in events}
        assert ("page", "firing") in fired
        page = next(e for e in events if e.severity == "page")
        assert page.burn_rates["5m"] == pytest.approx(500.0)
        assert "14.4" in page.reason
    # Running again at the same time records nothing new (idempotent).
    with session_factory() as s, s.begin():
        jobs.run(s, T0)
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(SloAlertEvent)) == len(events)
    # 45 minutes later without data: the 5m and 30m short windows are empty, so the page
    # resolves (the 30m window still held the outage at +20m); the no-data alert fires.
    later = T0 + timedelta(minutes=45)
    with session_factory() as s, s.begin():
        st = jobs.run(s, later)[0]
    assert st.status in {"stale", "exhausted"}
    alerts = client.get("/api/v1/slos/checkout-availability/alerts", headers=viewer_headers).json()[
        "items"
    ]
    states = [(a["severity"], a["state"]) for a in alerts]
    assert ("no_data", "firing") in states
    assert ("page", "resolved") in states


def test_timeslices_slo(
    client: TestClient,
    session_factory: sessionmaker[Session],
    responder_headers: dict[str, str],
    viewer_headers: dict[str, str],
) -> None:
    _setup(
        session_factory,
        objective=0.9,
        budgeting="timeslices",
        timeslice={"length": "5m", "target": 0.95},
        window={"rolling": "1d"},
    )
    base = T0 - timedelta(hours=2)
    events = []
    for sl in range(20):  # 20 five-minute slices; slices 3 and 7 are bad (90% good)
        for m in range(5):
            good = 90 if sl in (3, 7) else 100
            events.append(
                {"timestamp": _ts(base + timedelta(minutes=5 * sl + m)), "good": good, "total": 100}
            )
    _push(client, responder_headers, "first", events[:37])
    _push(client, responder_headers, "second", events[37:])
    # a late fix-up batch that makes slice 7 good again (adds many good events in its last minute)
    _push(
        client,
        responder_headers,
        "late",
        [{"timestamp": _ts(base + timedelta(minutes=39)), "good": 10_000, "total": 10_000}],
    )
    st = client.get("/api/v1/slos/checkout-availability/status", headers=viewer_headers).json()
    assert st["unit"] == "timeslices"
    assert st["total"] == 20
    assert st["good"] == 19
    assert st["sli"] == pytest.approx(0.95)


def test_gate_api(
    client: TestClient,
    session_factory: sessionmaker[Session],
    responder_headers: dict[str, str],
    viewer_headers: dict[str, str],
) -> None:
    _setup(session_factory, objective=0.99)
    _push(
        client,
        responder_headers,
        "ok",
        [{"timestamp": _ts(T0 - timedelta(hours=1)), "good": 995, "total": 1000}],
    )
    ok = client.get("/api/v1/services/checkout/gate", headers=viewer_headers).json()
    assert ok["allowed"] is True
    _push(
        client,
        responder_headers,
        "bad",
        [{"timestamp": _ts(T0 - timedelta(minutes=30)), "good": 900, "total": 1000}],
    )
    blocked = client.get("/api/v1/services/checkout/gate", headers=viewer_headers).json()
    assert blocked["allowed"] is False
    assert "checkout-availability" in blocked["reason"]
    assert "exhausted" in blocked["reason"]
    # the same question asked for a time before the bad batch is answered as it was then
    earlier = client.get(
        "/api/v1/services/checkout/gate",
        params={"at": "2026-10-31T23:20:00Z"},
        headers=viewer_headers,
    ).json()
    assert earlier["allowed"] is True
    assert client.get("/api/v1/services/nope/gate", headers=viewer_headers).status_code == 404
    bad_at = client.get(
        "/api/v1/services/checkout/gate", params={"at": "not-a-time"}, headers=viewer_headers
    )
    assert bad_at.status_code == 422


def _prom_setup(factory: sessionmaker[Session]) -> None:
    with factory() as s, s.begin():
        team = factories.team(s, "search", T0)
        svc = factories.service(s, "search-api", team, T0)
        for name, good in (("search-ok", "up"), ("search-broken", 'up{job=~"("}')):
            factories.slo(
                s,
                svc,
                T0,
                name=name,
                source="prometheus",
                sli={"ratio": {"good": good, "total": "up"}},
            )


def test_unreachable_prometheus_is_no_data_never_healthy(
    session_factory: sessionmaker[Session],
    viewer_headers: dict[str, str],
    settings: object,
    engine: object,
    clock: FrozenClock,
) -> None:
    import socket

    from ninefold.app import create_app
    from ninefold.config import Settings

    _prom_setup(session_factory)
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert isinstance(settings, Settings)
    cfg = settings.model_copy(
        update={"prometheus_url": f"http://127.0.0.1:{port}", "prometheus_timeout_seconds": 2}
    )
    app = create_app(cfg, clock=clock, engine=engine, start_engine=False)  # type: ignore[arg-type]
    with TestClient(app) as tc:
        got = tc.get("/api/v1/slos/status", headers=viewer_headers).json()["items"]
    assert {s["status"] for s in got} == {"no_data"}
    assert all(f"127.0.0.1:{port}" in s["error"] for s in got), got
    with session_factory() as s, s.begin():
        jobs.run(s, T0, prometheus=None)
    with session_factory() as s:
        fired = s.scalars(
            select(SloAlertEvent.severity).where(SloAlertEvent.state == "firing")
        ).all()
    assert sorted(fired) == ["no_data", "no_data"]


@pytest.mark.prometheus
def test_rejected_promql_affects_only_its_slo(
    session_factory: sessionmaker[Session], tmp_path: object, clock: FrozenClock
) -> None:
    from pathlib import Path

    from ninefold.slo.prometheus import PrometheusSource
    from ninefold.slo.store import list_slos
    from tests.prom import PrometheusServer

    _prom_setup(session_factory)
    prom = PrometheusServer(Path(str(tmp_path)), targets=[])
    prom.start()
    try:
        with PrometheusSource(prom.url, timeout=5) as source, session_factory() as s:
            from ninefold.slo.flows import evaluate_slos

            slos, _ = list_slos(s)
            got = {
                st.name: st for st in evaluate_slos(s, slos=slos, at=clock.now(), prometheus=source)
            }
    finally:
        prom.stop()
    assert got["search-broken"].error is not None
    assert "search-broken" in got["search-broken"].error
    assert got["search-ok"].error is None


@pytest.mark.parametrize(
    "at", ["0718-04-30T07:56:03Z", "9999-12-31T00:00:00Z", "2026-11-01T00:00:00"]
)
def test_out_of_range_or_naive_times_are_422(
    client: TestClient,
    session_factory: sessionmaker[Session],
    viewer_headers: dict[str, str],
    at: str,
) -> None:
    _setup(session_factory)
    for path in ("status", "burndown"):
        resp = client.get(
            f"/api/v1/slos/checkout-availability/{path}", params={"at": at}, headers=viewer_headers
        )
        assert resp.status_code == 422, resp.text
        assert "time" in resp.json()["detail"]


def test_burndown_series(
    client: TestClient,
    session_factory: sessionmaker[Session],
    responder_headers: dict[str, str],
    viewer_headers: dict[str, str],
) -> None:
    _setup(session_factory, objective=0.99, window={"rolling": "7d"})
    # steady 0.5% errors for the week, then a 4-hour burst at 20%
    events = []
    for h in range(7 * 24):
        t = T0 - timedelta(days=7) + timedelta(hours=h)
        bad = 200 if h >= 7 * 24 - 4 else 5
        events.append({"timestamp": _ts(t), "good": 1000 - bad, "total": 1000})
    _push(client, responder_headers, "week", events)
    got = client.get(
        "/api/v1/slos/checkout-availability/burndown", params={"points": 7}, headers=viewer_headers
    ).json()
    points = got["points"]
    assert len(points) == 7
    assert points[-1]["at"].startswith("2026-11-01T00:00")
    fractions = [p["remaining_fraction"] for p in points]
    # budget stays at half while errors run at half the allowed rate, then the burst spends it
    assert all(f == pytest.approx(0.5) for f in fractions[:-1])
    expected_last = 1 - (5 * (7 * 24 - 4) + 200 * 4) / (0.01 * 1000 * 7 * 24)
    assert fractions[-1] == pytest.approx(expected_last)
    assert fractions[-1] < 0.1
