"""Manual alerts (API and CLI) and the alert/silence commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from ninefold.alert.dispatch import parse_routing
from ninefold.alert.models import Alert, AlertEvent
from ninefold.cli.main import app as cli
from ninefold.notification.models import NotificationChannel, OutboxItem
from tests import factories
from tests.conftest import T0

runner = CliRunner()


@pytest.fixture
def service(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as s, s.begin():
        factories.service(s, "checkout", factories.team(s, "shop", T0), T0)


def test_create_manual_alert_through_the_api(
    client: TestClient,
    responder_headers: dict[str, str],
    viewer_headers: dict[str, str],
    session_factory: sessionmaker[Session],
    service: None,
) -> None:
    body = {
        "summary": "Card payments failing at the PSP",
        "service": "checkout",
        "severity": "critical",
        "labels": {"team": "shop"},
        "details": {"ticket": "OPS-12"},
    }
    assert client.post("/api/v1/alerts", json=body, headers=viewer_headers).status_code == 403
    resp = client.post("/api/v1/alerts", json=body, headers=responder_headers)
    assert resp.status_code == 201, resp.text
    data = resp.json()
    assert data["source"] == "manual"
    assert data["status"] == "firing"
    assert data["service"] == "checkout"
    assert data["severity"] == "critical"
    assert data["labels"] == {
        "alertname": "ManualAlert",
        "team": "shop",
        "severity": "critical",
        "service": "checkout",
    }
    assert data["details"] == {"ticket": "OPS-12", "created_by": "token:test-responder"}
    assert data["starts_at"] == "2026-11-01T00:00:00Z"
    # Committed and visible to readers; filters by source and service find it.
    listed = client.get(
        "/api/v1/alerts", params={"source": "manual", "service": "checkout"}, headers=viewer_headers
    ).json()
    assert [a["id"] for a in listed["items"]] == [data["id"]]
    # Without dedup_key every call is a new alert.
    again = client.post("/api/v1/alerts", json=body, headers=responder_headers).json()
    assert again["id"] != data["id"]


def test_dedup_key_updates_the_open_alert(
    client: TestClient, responder_headers: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    body = {"summary": "db replica lagging", "dedup_key": "db-lag"}
    first = client.post("/api/v1/alerts", json=body, headers=responder_headers).json()
    body["summary"] = "db replica lagging 10 minutes"
    second = client.post("/api/v1/alerts", json=body, headers=responder_headers).json()
    assert second["id"] == first["id"]
    assert second["summary"] == "db replica lagging 10 minutes"
    assert second["receive_count"] == 2
    assert second["severity"] == "error"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body.summary"),
        ({"summary": "   "}, "body.summary"),
        ({"summary": "x", "severity": "sev1"}, "body.severity"),
        ({"summary": "x", "labels": {"bad-name": "v"}}, "body.labels"),
        ({"summary": "x", "labels": {"a": 1}}, "body.labels.a"),
        ({"summary": "x", "extra": 1}, "body.extra"),
        ({"summary": "x", "service": "ghost"}, "service"),
    ],
)
def test_bad_manual_alerts_get_422_naming_the_field(
    client: TestClient, responder_headers: dict[str, str], body: dict[str, Any], field: str
) -> None:
    resp = client.post("/api/v1/alerts", json=body, headers=responder_headers)
    assert resp.status_code == 422, resp.text
    assert resp.json()["detail"].startswith(field)


def test_manual_alert_is_routed_and_pages(
    client: TestClient,
    admin_headers: dict[str, str],
    responder_headers: dict[str, str],
    session_factory: sessionmaker[Session],
) -> None:
    client.app.state.routing = parse_routing(  # type: ignore[attr-defined]
        {
            "route": {"receiver": "ops", "group_wait": "0s"},
            "receivers": [{"name": "ops", "channels": ["ops-hook"]}],
        }
    )
    resp = client.post(
        "/api/v1/notification-channels",
        json={"name": "ops-hook", "kind": "webhook", "target": "http://127.0.0.1:9/hook"},
        headers=admin_headers,
    )
    assert resp.status_code == 201, resp.text
    resp = client.post(
        "/api/v1/alerts", json={"summary": "manual page test"}, headers=responder_headers
    )
    assert resp.status_code == 201
    with session_factory() as s:
        queued = [o.notification for o in s.scalars(select(OutboxItem))]
    assert [n["kind"] for n in queued] == ["page"]
    assert "manual page test" in json.dumps(queued)


# --- CLI ---------------------------------------------------------------------------------------


@pytest.fixture
def cli_db(db_url: str, monkeypatch: pytest.MonkeyPatch, service: None) -> str:
    monkeypatch.setenv("NINEFOLD_DATABASE_URL", db_url)
    monkeypatch.delenv("NINEFOLD_ROUTING_FILE", raising=False)
    return db_url


def _run(*args: str) -> Any:
    result = runner.invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result


def test_cli_alert_lifecycle(cli_db: str, session_factory: sessionmaker[Session]) -> None:
    created = json.loads(
        _run(
            "alert",
            "create",
            "Checkout latency high",
            "--service",
            "checkout",
            "--severity",
            "warning",
            "--label",
            "region=eu",
            "--detail",
            "p99=2.3s",
            "-o",
            "json",
        ).stdout
    )
    assert created["source"] == "manual"
    assert created["labels"]["region"] == "eu"
    assert created["details"]["p99"] == "2.3s"
    assert created["details"]["created_by"].startswith("cli")
    alert_id = str(created["id"])

    table = _run("alert", "list").stdout
    assert "Checkout latency high" in table
    assert "warning" in table
    listed = json.loads(_run("alert", "list", "--source", "manual", "-o", "json").stdout)
    assert [a["id"] for a in listed] == [created["id"]]

    assert "snoozed for 45 minutes" in _run("alert", "snooze", alert_id, "--minutes", "45").stdout
    snoozed = json.loads(_run("alert", "show", alert_id, "-o", "json").stdout)
    assert any(e["kind"] == "snoozed" for e in snoozed["events"])
    assert "acknowledged" in _run("alert", "ack", alert_id).stdout
    assert "resolved" in _run("alert", "resolve", alert_id).stdout
    shown = json.loads(_run("alert", "show", alert_id, "-o", "json").stdout)
    assert shown["status"] == "resolved"
    assert shown["acknowledged_by"].startswith("cli")
    assert [e["kind"] for e in shown["events"]] == [
        "created",
        "snoozed",
        "acknowledged",
        "resolved",
    ]
    assert "resolved" in _run("alert", "show", alert_id).stdout

    # Errors are messages with a non-zero exit, never tracebacks.
    missing = runner.invoke(cli, ["alert", "show", "999"])
    assert missing.exit_code == 1
    assert "alert 999 not found" in missing.output
    again = runner.invoke(cli, ["alert", "ack", alert_id])
    assert again.exit_code == 1
    assert "only firing alerts" in again.output
    bad = runner.invoke(cli, ["alert", "create", "x", "--severity", "sev1"])
    assert bad.exit_code == 2
    assert "severity" in bad.output
    ghost = runner.invoke(cli, ["alert", "create", "x", "--service", "ghost"])
    assert ghost.exit_code == 1
    assert "service: no service 'ghost'" in ghost.output


def test_cli_silence_keeps_a_manual_alert_from_paging(
    cli_db: str,
    session_factory: sessionmaker[Session],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    routing = tmp_path / "routing.yml"
    routing.write_text(
        "route: {receiver: ops, group_wait: 0s}\nreceivers: [{name: ops, channels: [ops-hook]}]\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("NINEFOLD_ROUTING_FILE", str(routing))
    with session_factory() as s, s.begin():
        s.add(
            NotificationChannel(
                name="ops-hook", kind="webhook", target="http://127.0.0.1:9/h", created_at=T0
            )
        )
    created = json.loads(
        _run(
            "silence",
            "create",
            'service="checkout"',
            "alertname=~Manual.*",
            "--duration",
            "2h",
            "--comment",
            "maintenance",
            "-o",
            "json",
        ).stdout
    )
    assert created["state"] == "active"
    assert created["matchers"][1] == {
        "name": "alertname",
        "value": "Manual.*",
        "isRegex": True,
        "isEqual": True,
    }
    listed = _run("silence", "list").stdout
    assert 'service="checkout"' in listed
    assert "maintenance" in listed

    _run("alert", "create", "deploying", "--service", "checkout", "-l", "run=1")
    assert _pages(session_factory) == []  # silenced: stored, not paged
    with session_factory() as s:
        history = [(e.kind, e.details) for e in s.scalars(select(AlertEvent))]
    assert "silence" in json.dumps(history)  # routed through dispatch: the silence is on record

    assert "expired" in _run("silence", "expire", str(created["id"])).stdout
    assert json.loads(_run("silence", "list", "-o", "json").stdout) == []
    expired = json.loads(_run("silence", "list", "--expired", "-o", "json").stdout)
    assert [s["state"] for s in expired] == ["expired"]

    bad = runner.invoke(cli, ["silence", "create", 'a="b"', "--duration", "soon", "-c", "x"])
    assert bad.exit_code == 2
    assert "invalid duration" in bad.output
    bad = runner.invoke(cli, ["silence", "create", "a=~(", "-c", "x"])
    assert bad.exit_code == 2
    with session_factory() as s:
        assert [a.status for a in s.scalars(select(Alert))] == ["firing"]


def _pages(factory: sessionmaker[Session]) -> list[dict[str, Any]]:
    with factory() as s:
        return [o.notification for o in s.scalars(select(OutboxItem).order_by(OutboxItem.id))]


def test_cli_maintenance_window_holds_a_services_pages(
    cli_db: str,
    session_factory: sessionmaker[Session],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    routing = tmp_path / "routing.yml"
    routing.write_text(
        "route: {receiver: ops, group_wait: 0s, group_by: ['...']}\n"
        "receivers: [{name: ops, channels: [ops-hook]}]\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("NINEFOLD_ROUTING_FILE", str(routing))
    with session_factory() as s, s.begin():
        s.add(
            NotificationChannel(
                name="ops-hook", kind="webhook", target="http://127.0.0.1:9/h", created_at=T0
            )
        )
    out = _run("maintenance", "add", "checkout", "--duration", "2h", "-r", "db upgrade").stdout
    assert "maintenance window" in out
    [window] = json.loads(_run("maintenance", "list", "-o", "json").stdout)
    assert (window["service"], window["reason"]) == ("checkout", "db upgrade")
    assert window["created_by"].startswith("cli:")

    _run("alert", "create", "slow during upgrade", "--service", "checkout", "-l", "run=1")
    assert _pages(session_factory) == []  # held: stored, not paged
    with session_factory() as s:
        [alert] = s.scalars(select(Alert))
        assert alert.suppression == {"kind": "maintenance", "window": window["id"]}

    assert "ended" in _run("maintenance", "end", str(window["id"])).stdout
    assert json.loads(_run("maintenance", "list", "-o", "json").stdout) == []
    _run("alert", "create", "slow after upgrade", "--service", "checkout", "-l", "run=2")
    assert [p["title"] for p in _pages(session_factory)] == ["slow after upgrade"]

    missing = runner.invoke(cli, ["maintenance", "end", "999"])
    assert missing.exit_code == 1
    assert "maintenance window 999 not found" in missing.output
    ghost = runner.invoke(cli, ["maintenance", "add", "ghost"])
    assert ghost.exit_code == 1
    bad = runner.invoke(cli, ["maintenance", "add", "checkout", "--start", "tomorrow"])
    assert bad.exit_code == 2
    assert "invalid time" in bad.output
