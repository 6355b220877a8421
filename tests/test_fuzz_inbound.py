"""Property-based fuzzing of every inbound alert format through the real endpoints: Alertmanager
API v2 (an array of alerts), Alertmanager webhook v4, PagerDuty Events v2 and the generic JSON
webhook. Whatever the body, the answer is 2xx or 4xx with a message, never 5xx.

Bodies are arbitrary JSON, raw bytes, and documents shaped like each format whose values are
random (times out of range, wrong types, huge numbers, odd labels), which get past the first
checks and into normalisation and storage.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ninefold.alert.keys import create as create_integration
from ninefold.app import create_app
from ninefold.config import Settings
from ninefold.core.clock import FrozenClock
from ninefold.db.engine import make_engine, make_session_factory
from tests import factories
from tests.conftest import T0

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=25,
)
times = st.one_of(
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat()),  # naive
    st.sampled_from(
        [
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "2026-11-01T00:00:00Z",
            "2026-13-45T25:61:61Z",
            "1970-01-01T00:00:00+14:00",
            "",
            "now",
        ]
    ),
    scalars,
)
label_names = st.one_of(
    st.sampled_from(["alertname", "severity", "service", "instance", "job", "team"]),
    st.text(max_size=20),
)
label_sets = st.one_of(
    st.dictionaries(label_names, st.one_of(st.text(max_size=60), scalars), max_size=6), json_values
)
severities = st.one_of(st.sampled_from(["critical", "error", "warning", "info", "page"]), scalars)


@st.composite
def am_alerts(draw: st.DrawFn) -> dict[str, Any]:
    """An Alertmanager alert with any subset of its fields, each random."""
    fields = {
        "labels": label_sets,
        "annotations": label_sets,
        "startsAt": times,
        "endsAt": times,
        "generatorURL": st.one_of(st.text(max_size=60), scalars),
        "status": st.one_of(st.sampled_from(["firing", "resolved"]), scalars),
        "fingerprint": st.one_of(st.text(max_size=20), scalars),
    }
    keys = draw(st.lists(st.sampled_from(sorted(fields)), unique=True))
    return {k: draw(fields[k]) for k in keys}


am_v2_bodies = st.one_of(st.lists(am_alerts(), max_size=5), json_values)
webhook_v4_bodies = st.one_of(
    st.fixed_dictionaries(
        {
            "version": st.one_of(st.just("4"), scalars),
            "status": st.one_of(st.sampled_from(["firing", "resolved"]), scalars),
            "alerts": st.one_of(st.lists(am_alerts(), max_size=4), json_values),
        },
        optional={
            "groupKey": st.one_of(st.text(max_size=40), scalars),
            "receiver": st.one_of(st.text(max_size=20), scalars),
            "groupLabels": label_sets,
            "commonLabels": label_sets,
            "commonAnnotations": label_sets,
            "externalURL": st.one_of(st.text(max_size=40), scalars),
            "truncatedAlerts": st.one_of(st.integers(), scalars),
        },
    ),
    json_values,
)


def pd_bodies(key: str) -> st.SearchStrategy[Any]:
    """PagerDuty Events v2 events; the routing key is the real one half of the time."""
    payload = st.fixed_dictionaries(
        {},
        optional={
            "summary": st.one_of(st.text(max_size=100), scalars),
            "source": st.one_of(st.text(max_size=30), scalars),
            "severity": severities,
            "timestamp": times,
            "component": st.one_of(st.text(max_size=20), scalars),
            "group": st.one_of(st.text(max_size=20), scalars),
            "class": st.one_of(st.text(max_size=20), scalars),
            "custom_details": json_values,
        },
    )
    return st.one_of(
        st.fixed_dictionaries(
            {
                "routing_key": st.one_of(st.just(key), st.text(max_size=40), scalars),
                "event_action": st.one_of(
                    st.sampled_from(["trigger", "acknowledge", "resolve"]), scalars
                ),
            },
            optional={
                "dedup_key": st.one_of(st.text(max_size=300), scalars),
                "payload": st.one_of(payload, json_values),
                "images": json_values,
                "links": json_values,
                "client": st.one_of(st.text(max_size=20), scalars),
                "client_url": st.one_of(st.text(max_size=40), scalars),
            },
        ),
        json_values,
    )


generic_bodies = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "dedup_key": st.one_of(st.text(max_size=300), scalars),
            "summary": st.one_of(st.text(max_size=100), scalars),
            "severity": severities,
            "status": st.one_of(st.sampled_from(["firing", "resolved", "ok", "alerting"]), scalars),
            "labels": label_sets,
            "details": json_values,
            "starts_at": times,
            "ends_at": times,
        },
    ),
    json_values,
)


class Inbound:
    """A running app with one integration of each kind."""

    def __init__(self, client: TestClient, keys: dict[str, str]) -> None:
        self.client, self.keys = client, keys

    def post(self, path: str, body: Any, *, raw: bytes | None = None) -> None:
        content = raw if raw is not None else json.dumps(body).encode()
        resp = self.client.post(path, content=content, headers={"Content-Type": "application/json"})
        assert resp.status_code < 500, (path, body, resp.status_code, resp.text)
        if resp.status_code >= 400:
            answer = resp.json()
            message = answer.get("detail") or answer.get("message") or answer.get("errors")
            assert message, resp.text


@pytest.fixture(scope="module")
def inbound(tmp_path_factory: pytest.TempPathFactory, _sqlite_template: Path) -> Iterator[Inbound]:
    path = tmp_path_factory.mktemp("inbound") / "inbound.db"
    shutil.copy(_sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    factory = make_session_factory(engine)
    keys: dict[str, str] = {}
    with factory() as s, s.begin():
        team = factories.team(s, "web", T0)
        svc = factories.service(s, "web-api", team, T0)
        for kind in ("alertmanager", "pagerduty", "webhook"):
            _, keys[kind] = create_integration(
                s, name=kind, kind=kind, service_id=svc.id, rate_limit_per_minute=10**9, now=T0
            )
    cfg = Settings(database_url=f"sqlite:///{path}", engine_enabled=False)
    app = create_app(
        cfg, clock=FrozenClock(T0 + timedelta(hours=1)), engine=engine, start_engine=False
    )
    with TestClient(app) as client:
        yield Inbound(client, keys)
    engine.dispose()


@FUZZ
@given(body=am_v2_bodies)
def test_alertmanager_api_v2(inbound: Inbound, body: Any) -> None:
    inbound.post(f"/integrations/{inbound.keys['alertmanager']}/api/v2/alerts", body)


@FUZZ
@given(body=webhook_v4_bodies)
def test_alertmanager_webhook_v4(inbound: Inbound, body: Any) -> None:
    inbound.post(f"/integrations/{inbound.keys['alertmanager']}/alertmanager", body)


@FUZZ
@given(data=st.data())
def test_pagerduty_events_v2(inbound: Inbound, data: st.DataObject) -> None:
    inbound.post("/v2/enqueue", data.draw(pd_bodies(inbound.keys["pagerduty"])))


@FUZZ
@given(body=generic_bodies)
def test_generic_webhook(inbound: Inbound, body: Any) -> None:
    inbound.post(f"/integrations/{inbound.keys['webhook']}/webhook", body)


@settings(FUZZ, max_examples=60)
@given(raw=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)))
def test_raw_bytes_on_every_endpoint(inbound: Inbound, raw: bytes) -> None:
    for path in (
        f"/integrations/{inbound.keys['alertmanager']}/api/v2/alerts",
        f"/integrations/{inbound.keys['alertmanager']}/alertmanager",
        "/v2/enqueue",
        f"/integrations/{inbound.keys['webhook']}/webhook",
    ):
        inbound.post(path, None, raw=raw)
