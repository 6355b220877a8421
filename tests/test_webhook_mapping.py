"""Generic JSON webhook: the path syntax, mapping validation, mapping bodies, and the endpoint."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ninefold.alert import mapping
from ninefold.alert.mapping import ItemError, Mapped, MappingError, apply, parse_mapping, parse_path
from ninefold.alert.models import Alert
from ninefold.core.clock import FrozenClock
from tests.conftest import T0

# --- paths -------------------------------------------------------------------------------------

BODY = {
    "data": {"alert": {"id": "a-1", "tags": ["db", "prod"]}, "odd.key": {"x": 1}},
    "alerts": [{"id": 1}, {"id": 2}],
    "n": None,
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("data.alert.id", "a-1"),
        ("data.alert.tags[0]", "db"),
        ("data.alert.tags[-1]", "prod"),
        ("data.alert.tags[2]", mapping.MISSING),
        ('data["odd.key"].x', 1),
        ("data['odd.key'].x", 1),
        ("alerts[1].id", 2),
        ("$.data.alert.id", "a-1"),
        ("data.alert.id.deeper", mapping.MISSING),
        ("nope", mapping.MISSING),
        ("n", mapping.MISSING),  # null counts as missing
        ("alerts.id", mapping.MISSING),  # an array has no keys
        ("data.alert.tags.0", mapping.MISSING),  # indexes need brackets
    ],
)
def test_path_resolves(path: str, expected: Any) -> None:
    assert mapping.resolve(parse_path(path, where="p"), BODY, BODY) == expected


def test_root_paths_read_the_body_while_relative_paths_read_the_item() -> None:
    item = {"id": "inner"}
    assert mapping.resolve(parse_path("id", where="p"), item, {"id": "root"}) == "inner"
    assert mapping.resolve(parse_path("$.id", where="p"), item, {"id": "root"}) == "root"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("", "empty path"),
        ("a..b", "empty name before '.'"),
        (".a", "empty name before '.'"),
        ("a.", "ends with '.'"),
        ("a[", "'[' without ']'"),
        ("a[x]", "[x] is not an index"),
        ("a]", "']' without '['"),
        ("a[0]b", "missing '.'"),
        ("a.[0]", "'.['"),
        ('a["b]', "unterminated quoted key"),
        ("a[*]", "only allowed in items"),
        ("$x", "'$' must be followed by '.' or '['"),
        ("$.", "nothing after '$.'"),
        (42, "must be a path string"),
    ],
)
def test_bad_paths_are_named(path: Any, message: str) -> None:
    with pytest.raises(MappingError) as info:
        parse_path(path, where="mapping.summary")
    assert info.value.field == "mapping.summary"
    assert message in info.value.message


def test_wildcard_only_at_the_end_of_items() -> None:
    assert parse_path("alerts[*]", where="i", allow_each=True).each
    with pytest.raises(MappingError, match="must come last"):
        parse_path("alerts[*].x", where="i", allow_each=True)


# --- mapping validation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ([], "mapping"),
        ({"summray": "x"}, "mapping.summray"),
        ({"summary": "a..b"}, "mapping.summary"),
        ({"labels": {"bad-name": "x"}}, "mapping.labels.bad-name"),
        ({"labels": {"team": "a["}}, "mapping.labels.team"),
        ({"labels": "x"}, "mapping.labels"),
        ({"severity_map": {"P1": "urgent"}}, "mapping.severity_map.P1"),
        ({"default_severity": "high"}, "mapping.default_severity"),
        ({"default_action": "close"}, "mapping.default_action"),
        ({"resolve_values": [{"a": 1}]}, "mapping.resolve_values"),
        ({"resolve_values": ["firing"]}, "mapping.resolve_values"),  # also a trigger value
        ({"items": "alerts[*].x"}, "mapping.items"),
    ],
)
def test_invalid_mappings_name_the_field(raw: Any, field: str) -> None:
    with pytest.raises(MappingError) as info:
        parse_mapping(raw)
    assert info.value.field == field


# --- applying a mapping ------------------------------------------------------------------------

GRAFANA_MAPPING = {
    "items": "alerts[*]",
    "dedup_key": "fingerprint",
    "status": "status",
    "summary": "annotations.summary",
    "labels_from": "labels",
    "labels": {"grafana_receiver": "$.receiver"},
    "annotations_from": "annotations",
    "starts_at": "startsAt",
    "generator_url": "generatorURL",
    "details": {"values": "values", "dashboard": "dashboardURL"},
}


def _grafana_alert(status: str, fingerprint: str = "57c6d9296de2ad39", **kw: Any) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": "HighCPU", "grafana_folder": "infra", "severity": "warning"},
        "annotations": {"summary": "CPU above 90%", "runbook_url": "https://runbooks/cpu"},
        "startsAt": "2026-10-31T23:55:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "https://grafana/alerting/grafana/abc/view",
        "fingerprint": fingerprint,
        "dashboardURL": "https://grafana/d/xyz",
        "values": {"B": 93.5},
        "valueString": "[ var='B' value=93.5 ]",
        **kw,
    }


def grafana_body(*alerts: dict[str, Any]) -> dict[str, Any]:
    return {
        "receiver": "ninefold",
        "status": alerts[0]["status"],
        "orgId": 1,
        "alerts": list(alerts),
        "groupLabels": {"alertname": "HighCPU"},
        "commonLabels": {"alertname": "HighCPU"},
        "externalURL": "https://grafana/",
        "version": "1",
        "groupKey": '{}:{alertname="HighCPU"}',
        "title": "[FIRING:1] HighCPU",
        "state": "alerting",
        "message": "…",
    }


def test_grafana_mapping_reads_every_field() -> None:
    (item,) = apply(parse_mapping(GRAFANA_MAPPING), grafana_body(_grafana_alert("firing")))
    assert isinstance(item, Mapped)
    assert item.action == "trigger"
    assert item.dedup_key == "57c6d9296de2ad39"
    assert item.summary == "CPU above 90%"
    assert item.severity == "warning"
    assert item.labels == {
        "alertname": "HighCPU",
        "grafana_folder": "infra",
        "severity": "warning",
        "grafana_receiver": "ninefold",
    }
    assert item.annotations["runbook_url"] == "https://runbooks/cpu"
    assert item.details == {"values": {"B": 93.5}, "dashboard": "https://grafana/d/xyz"}
    assert item.starts_at == datetime(2026, 10, 31, 23, 55, tzinfo=UTC)
    assert item.generator_url == "https://grafana/alerting/grafana/abc/view"


CUSTOM = {
    "dedup_key": "check.id",
    "summary": "check.title",
    "severity": "priority",
    "severity_map": {"P1": "critical", "P2": "error", "P3": "warning"},
    "status": "state",
    "trigger_values": ["DOWN"],
    "resolve_values": ["UP"],
    "labels": {"host": "check.host", "port": "check.port", "tls": "check.tls"},
    "starts_at": "at",
}


@pytest.mark.parametrize(
    ("body", "expect"),
    [
        (
            {"check": {"id": "c1", "title": "db down", "host": "db1", "port": 5432, "tls": True}}
            | {"priority": "P1", "state": "DOWN", "at": 1793491200},
            {
                "action": "trigger",
                "dedup_key": "c1",
                "severity": "critical",
                "labels": {"host": "db1", "port": "5432", "tls": "true", "severity": "critical"},
                "starts_at": datetime(2026, 11, 1, 0, 0, tzinfo=UTC),
            },
        ),
        (
            {"check": {"id": 7}, "priority": "p3", "state": "up", "at": 1793491200000},
            {
                "action": "resolve",
                "dedup_key": "7",
                "severity": "warning",
                "summary": "7",
                "starts_at": datetime(2026, 11, 1, 0, 0, tzinfo=UTC),  # milliseconds
            },
        ),
        (  # unknown severity words fall back to the common names, then to error
            {"check": {"id": "c"}, "priority": "sev-x", "state": "DOWN"},
            {"severity": "error", "starts_at": None},
        ),
    ],
)
def test_custom_mapping_table(body: dict[str, Any], expect: dict[str, Any]) -> None:
    (item,) = apply(parse_mapping(CUSTOM), body)
    assert isinstance(item, Mapped)
    for key, value in expect.items():
        assert getattr(item, key) == value, key


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"check": {}, "state": "DOWN"}, "dedup_key", "gives no string or number"),
        ({"check": {"id": {"a": 1}}, "state": "DOWN"}, "dedup_key", "gives no string"),
        ({"check": {"id": "c"}}, "status", "not found"),
        ({"check": {"id": "c"}, "state": "MAYBE"}, "status", "in none of trigger_values"),
        ({"check": {"id": "c"}, "state": "UP", "at": "yesterday"}, "starts_at", "not an RFC 3339"),
        ({"check": {"id": "c"}, "state": "UP", "at": "2026-11-01T00:00:00"}, "starts_at", "zone"),
        ({"check": {"id": "c"}, "state": "UP", "at": True}, "starts_at", "epoch"),
        ({"check": {"id": "c"}, "state": "UP", "at": 1e300}, "starts_at", "out of range"),
    ],
)
def test_item_errors_name_the_field(body: dict[str, Any], field: str, message: str) -> None:
    (item,) = apply(parse_mapping(CUSTOM), body)
    assert isinstance(item, ItemError)
    assert item.field == field
    assert message in item.message


def test_items_path_must_lead_to_an_array_and_bodies_without_items_path() -> None:
    with pytest.raises(MappingError, match="not found"):
        apply(parse_mapping({"items": "alerts[*]"}), {"other": []})
    with pytest.raises(MappingError, match="not an array"):
        apply(parse_mapping({"items": "alerts[*]"}), {"alerts": {"a": 1}})
    simple = parse_mapping(mapping.SIMPLE_SHAPE)
    assert len(apply(simple, [{"dedup_key": "a"}, {"dedup_key": "b"}])) == 2  # top-level array
    assert len(apply(simple, {"dedup_key": "a"})) == 1  # one object: one alert


def test_without_dedup_key_the_labels_fingerprint_deduplicates() -> None:
    spec = parse_mapping({"labels_from": "labels"})
    first, second, empty = apply(spec, [{"labels": {"a": "1"}}, {"labels": {"a": "1"}}, {}])
    assert isinstance(first, Mapped)
    assert isinstance(second, Mapped)
    assert isinstance(empty, Mapped)
    one = mapping.to_incoming(first, integration_id=3, now=T0)
    two = mapping.to_incoming(second, integration_id=3, now=T0)
    assert not isinstance(one, ItemError)
    assert not isinstance(two, ItemError)
    assert one.dedup_key == two.dedup_key
    assert one.dedup_key.startswith("wh:3:")
    refused = mapping.to_incoming(empty, integration_id=3, now=T0)
    assert isinstance(refused, ItemError)
    assert refused.field == "dedup_key"


# --- property: any JSON, any mapping: a clear error or a well-formed result ---------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["id", "a", "b", "status", "labels", "x.y", ""]), children, max_size=4
        )
    ),
    max_leaves=25,
)
path_text = st.one_of(
    st.sampled_from(["id", "a.b", "a[0]", "$.status", "labels", "a[-1].b", 'a["x.y"]', "status"]),
    st.text(alphabet="ab.[]$*\"'0-", max_size=8),
)
mapping_docs = st.fixed_dictionaries(
    {},
    optional={
        "items": st.sampled_from(["a[*]", "a", "b", "$.a[*]"]),
        "dedup_key": path_text,
        "summary": path_text,
        "severity": path_text,
        "status": path_text,
        "default_action": st.sampled_from(["trigger", "resolve", "nope"]),
        "labels": st.dictionaries(
            st.sampled_from(["team", "host", "bad-name"]), path_text, max_size=3
        ),
        "labels_from": path_text,
        "annotations_from": path_text,
        "details": st.dictionaries(st.text(max_size=5), path_text, max_size=2),
        "starts_at": path_text,
        "generator_url": path_text,
    },
)


@given(raw=mapping_docs, body=json_values)
def test_any_json_gives_a_clear_error_or_a_correct_result(raw: dict[str, Any], body: Any) -> None:
    try:
        spec = parse_mapping(raw)
    except MappingError as exc:
        error: MappingError | None = exc
    else:
        error = None
    if error is not None:
        assert error.field.startswith("mapping")
        assert error.message
        return
    try:
        results = apply(spec, body)
    except MappingError as exc:
        error = exc
    if error is not None:
        assert error.field == "items"
        return
    for i, result in enumerate(results):
        assert result.index == i
        if isinstance(result, ItemError):
            assert result.field in {"dedup_key", "status", "starts_at", "generator_url"}
            assert result.message
            continue
        assert result.action in ("trigger", "resolve", "acknowledge")
        assert result.severity in ("critical", "error", "warning", "info")
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in result.labels.items())
        assert result.starts_at is None or result.starts_at.tzinfo is not None
        assert len(result.summary) <= 1024
        incoming = mapping.to_incoming(result, integration_id=1, now=T0)
        if not isinstance(incoming, ItemError):
            assert len(incoming.dedup_key) <= 300
            json.dumps(incoming.details)  # storable in the JSON column


# --- HTTP ------------------------------------------------------------------------------------


def _integration(
    client: TestClient, admin: dict[str, str], body: dict[str, Any] | None = None
) -> str:
    resp = client.post(
        "/api/v1/integrations",
        json={"name": "grafana", "kind": "webhook", "mapping": GRAFANA_MAPPING, **(body or {})},
        headers=admin,
    )
    assert resp.status_code == 201, resp.text
    key: str = resp.json()["key"]
    return key


def _alerts(factory: sessionmaker[Session]) -> list[Alert]:
    with factory() as s:
        return list(s.scalars(select(Alert).order_by(Alert.id)).all())


def test_grafana_webhook_creates_updates_and_resolves(
    client: TestClient,
    admin_headers: dict[str, str],
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
) -> None:
    key = _integration(client, admin_headers)
    auth = {"Authorization": f"Bearer {key}"}
    firing = grafana_body(_grafana_alert("firing"), _grafana_alert("firing", "0000000000000002"))
    resp = client.post("/api/v1/webhooks/generic", json=firing, headers=auth)
    assert resp.status_code == 200, resp.text
    assert resp.json()["accepted"] == 2
    assert [a["outcome"] for a in resp.json()["alerts"]] == ["created", "created"]
    clock.advance(timedelta(minutes=1))
    # Re-sent (basic auth this time): updates, no new alert.
    basic = base64.b64encode(f"grafana:{key}".encode()).decode()
    resp = client.post(
        "/api/v1/webhooks/generic", json=firing, headers={"Authorization": f"Basic {basic}"}
    )
    assert [a["outcome"] for a in resp.json()["alerts"]] == ["updated", "updated"]
    alerts = _alerts(session_factory)
    assert len(alerts) == 2
    first = alerts[0]
    assert first.source == "webhook"
    assert first.summary == "CPU above 90%"
    assert first.severity == "warning"
    assert first.receive_count == 2
    assert first.labels["grafana_receiver"] == "ninefold"
    assert first.generator_url == "https://grafana/alerting/grafana/abc/view"
    assert first.starts_at == datetime(2026, 10, 31, 23, 55, tzinfo=UTC)
    # Resolved, key in the path this time.
    clock.advance(timedelta(minutes=1))
    resolved = grafana_body(_grafana_alert("resolved"))
    resp = client.post(f"/integrations/{key}/webhook", json=resolved)
    assert resp.status_code == 200, resp.text
    assert [a.status for a in _alerts(session_factory)] == ["resolved", "firing"]


def test_simple_shape_is_the_default_mapping(
    client: TestClient, admin_headers: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    resp = client.post(
        "/api/v1/integrations", json={"name": "custom", "kind": "webhook"}, headers=admin_headers
    )
    key = resp.json()["key"]
    body = {
        "dedup_key": "disk-db1",
        "summary": "disk 95% on db1",
        "severity": "critical",
        "labels": {"host": "db1", "team": "data"},
        "details": {"used": 95},
    }
    resp = client.post(f"/integrations/{key}/webhook", json=body)
    assert resp.status_code == 200, resp.text
    (alert,) = _alerts(session_factory)
    assert alert.summary == "disk 95% on db1"
    assert alert.severity == "critical"
    assert alert.labels == {"host": "db1", "team": "data", "severity": "critical"}
    assert alert.details == {"details": {"used": 95}}
    resp = client.post(f"/integrations/{key}/webhook", json={**body, "status": "resolved"})
    assert resp.json()["alerts"][0]["outcome"] == "resolved"
    shown = client.get("/api/v1/integrations/custom/mapping", headers=admin_headers)
    assert shown.json()["mapping"] == mapping.SIMPLE_SHAPE


def test_bad_items_are_named_and_good_ones_stored(
    client: TestClient, admin_headers: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    key = _integration(client, admin_headers)
    body = grafana_body(
        _grafana_alert("firing"),
        _grafana_alert("pending-ish"),
        _grafana_alert("firing", "0000000000000003", startsAt="last tuesday"),
    )
    resp = client.post(f"/integrations/{key}/webhook", json=body)
    assert resp.status_code == 400
    data = resp.json()
    assert data["accepted"] == 1
    assert [e["field"] for e in data["errors"]] == ["alerts[1].status", "alerts[2].starts_at"]
    assert data["detail"].startswith("alerts[1].status: 'pending-ish' is in none of")
    assert len(_alerts(session_factory)) == 1
    # The body as a whole does not fit the mapping: 400, nothing stored.
    resp = client.post(f"/integrations/{key}/webhook", json={"alerts": "nope"})
    assert resp.status_code == 400
    assert resp.json()["detail"] == "items: path 'alerts[*]' is not an array"


def test_mapping_validated_at_creation_and_update(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    bad = {"name": "w", "kind": "webhook", "mapping": {"labels": {"team": "a..b"}}}
    resp = client.post("/api/v1/integrations", json=bad, headers=admin_headers)
    assert resp.status_code == 422
    assert resp.json()["detail"].startswith("mapping.labels.team: invalid path 'a..b'")
    wrong_kind = {"name": "w", "kind": "alertmanager", "mapping": {"summary": "x"}}
    resp = client.post("/api/v1/integrations", json=wrong_kind, headers=admin_headers)
    assert resp.status_code == 422
    assert resp.json()["detail"].startswith("mapping: only webhook integrations")
    _integration(client, admin_headers)
    put = client.put(
        "/api/v1/integrations/grafana/mapping",
        json={"mapping": {"severity_map": {"P1": "urgent"}}},
        headers=admin_headers,
    )
    assert put.status_code == 422
    assert put.json()["detail"].startswith("mapping.severity_map.P1:")
    put = client.put(
        "/api/v1/integrations/grafana/mapping",
        json={"mapping": {"dedup_key": "id"}},
        headers=admin_headers,
    )
    assert put.status_code == 200
    got = client.get("/api/v1/integrations/grafana/mapping", headers=admin_headers).json()
    assert got == {"mapping": {"dedup_key": "id"}}


def test_auth_kind_and_body_errors(
    client: TestClient, admin_headers: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    key = _integration(client, admin_headers)
    assert client.post("/api/v1/webhooks/generic", json={}).status_code == 401
    assert client.post("/integrations/nf_wrong/webhook", json={}).status_code == 401
    am = client.post(
        "/api/v1/integrations", json={"name": "am", "kind": "alertmanager"}, headers=admin_headers
    ).json()["key"]
    resp = client.post(f"/integrations/{am}/webhook", json=grafana_body(_grafana_alert("firing")))
    assert resp.status_code == 400
    assert "kind webhook" in resp.json()["detail"]
    url = f"/integrations/{key}/webhook"
    resp = client.post(url, content=b"{not json")
    assert resp.status_code == 400
    assert resp.json()["detail"].startswith("body is not valid JSON")
    deep = b"[" * 100_000 + b"]" * 100_000
    assert client.post(url, content=deep).json()["detail"] == "body is nested too deeply"
    resp = client.post(url, content=b'{"alerts": [{"status": "firing", "fingerprint": "\\ud800"}]}')
    assert resp.status_code == 400
    assert "surrogate" in resp.json()["detail"]
    assert client.post(url, content=b" " * (600 * 1024)).status_code == 413
    assert _alerts(session_factory) == []
