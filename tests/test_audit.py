"""Audit log: changes through the API and the CLI are recorded with actor, before and after;
secrets are redacted; machine data is left out; only admins read it."""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from ninefold.alert.keys import create as create_integration
from ninefold.app import create_app
from ninefold.audit import context
from ninefold.audit.capture import redact
from ninefold.audit.models import AuditEntry
from ninefold.cli.main import app as cli_app
from ninefold.config import Settings
from ninefold.core.clock import FrozenClock
from ninefold.identity.models import User
from tests import factories
from tests.conftest import T0, make_token

ROOT = Path(__file__).resolve().parents[1]
SECRET = "hmac-signing-secret-42"
SLACK = "https://hooks.slack.com/services/T0001/B0002/very-secret-path"


class Env:
    """A running app with tokens of every role."""

    def __init__(self, client: TestClient, factory: sessionmaker[Session], key: str) -> None:
        self.client, self.factory, self.key = client, factory, key
        self.h = {
            role: {"Authorization": f"Bearer {make_token(factory, role)}"}
            for role in ("admin", "responder", "viewer")
        }

    def audit(self, **params: Any) -> list[dict[str, Any]]:
        resp = self.client.get("/api/v1/audit", params=params, headers=self.h["admin"])
        assert resp.status_code == 200, resp.text
        entries: list[dict[str, Any]] = resp.json()
        return entries


@pytest.fixture
def env(
    settings: Settings,
    engine: Engine,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
) -> Iterator[Env]:
    with session_factory() as s, s.begin():
        team = factories.team(s, "web", T0)
        svc = factories.service(s, "web-api", team, T0)
        for name in ("alice", "bob"):
            s.add(User(name=name, created_at=T0))
        _, key = create_integration(
            s, name="am", kind="alertmanager", service_id=svc.id, rate_limit_per_minute=6000, now=T0
        )
    app = create_app(settings, engine=engine, clock=clock, start_engine=False)
    with TestClient(app) as client:
        yield Env(client, session_factory, key)


def test_api_changes_are_audited_with_actor_before_and_after(env: Env) -> None:
    admin, responder = env.h["admin"], env.h["responder"]
    # a notification channel, with a signing secret and a webhook URL that embeds a credential
    resp = env.client.post(
        "/api/v1/notification-channels",
        json={"name": "room", "kind": "webhook", "target": SLACK, "secret": SECRET},
        headers=admin,
    )
    assert resp.status_code == 201, resp.text
    (channel,) = env.audit(object_type="notification_channels")
    assert channel["actor"] == "token:test-admin"
    assert channel["action"] == "create"
    assert channel["object_name"] == "room"
    assert channel["at"].startswith("2026-11-01T00:00:00")  # the app's clock
    assert channel["before"] is None
    assert channel["after"]["secret"] == "***"
    assert channel["after"]["target"] == "https://hooks.slack.com/…"
    assert channel["after"]["kind"] == "webhook"

    # a silence, created then expired, by a responder
    silence = {
        "matchers": [{"name": "alertname", "value": "Disk"}],
        "startsAt": "2026-11-01T00:00:00Z",
        "endsAt": "2026-11-01T02:00:00Z",
        "createdBy": "alice",
        "comment": "replica maintenance",
    }
    created = env.client.post("/api/v1/silences", json=silence, headers=responder)
    assert created.status_code == 201, created.text
    sid = created.json()["silenceID"]
    assert env.client.delete(f"/api/v1/silences/{sid}", headers=responder).status_code == 200
    expired, made = env.audit(object_type="alert_silences")
    assert made["action"] == "create"
    assert made["actor"] == expired["actor"] == "token:test-responder"
    assert made["after"]["comment"] == "replica maintenance"
    assert expired["action"] == "update"
    assert expired["object_id"] == made["object_id"] == str(sid)
    assert expired["before"]["ends_at"].startswith("2026-11-01T02:00:00")
    assert expired["after"]["ends_at"].startswith("2026-11-01T00:00:00")

    # a schedule PUT twice: created, then only the changed fields
    schedule = {
        "time_zone": "UTC",
        "layers": [
            {
                "name": "weekly",
                "rotation": "weekly",
                "start": (T0 - timedelta(days=1)).isoformat(),
                "participants": ["alice", "bob"],
            }
        ],
    }
    assert env.client.put("/api/v1/schedules/primary", json=schedule, headers=admin).is_success
    changed = {**schedule, "time_zone": "Europe/Berlin"}
    assert env.client.put("/api/v1/schedules/primary", json=changed, headers=admin).is_success
    update, create = env.audit(object_type="schedules")
    assert create["action"] == "create"
    assert create["object_name"] == "primary"
    assert create["after"]["layers"][0]["participants"] == ["alice", "bob"]
    assert update["action"] == "update"
    assert update["before"] == {"time_zone": "UTC"}
    assert update["after"] == {"time_zone": "Europe/Berlin"}
    assert env.client.delete("/api/v1/schedules/primary", headers=admin).status_code == 204
    deleted = env.audit(object_type="schedules", limit=1)[0]
    assert deleted["action"] == "delete"
    assert deleted["before"]["time_zone"] == "Europe/Berlin"
    assert deleted["after"] is None


def test_alert_acknowledge_and_resolve_by_people_are_audited_machine_alerts_not(env: Env) -> None:
    body = [{"labels": {"alertname": "DiskFull"}, "annotations": {"summary": "disk full"}}]
    assert env.client.post(f"/integrations/{env.key}/api/v2/alerts", json=body).is_success
    assert env.client.post(f"/integrations/{env.key}/api/v2/alerts", json=body).is_success
    # Prometheus' alerts and their events are machine data: not in the audit log
    assert env.audit(object_type="alerts") == []
    assert env.audit(object_type="alert_events") == []
    alert_id = env.client.get("/api/v1/alerts", headers=env.h["viewer"]).json()["items"][0]["id"]
    resp = env.client.post(f"/api/v1/alerts/{alert_id}/acknowledge", headers=env.h["responder"])
    assert resp.status_code == 200, resp.text
    resp = env.client.post(f"/api/v1/alerts/{alert_id}/resolve", headers=env.h["admin"])
    assert resp.status_code == 200, resp.text
    resolved, acked = env.audit(object_type="alerts")
    assert acked["actor"] == "token:test-responder"
    assert acked["object_id"] == str(alert_id)
    assert acked["object_name"] == "disk full"
    assert acked["before"] == {"acknowledged_at": None, "acknowledged_by": None}
    assert acked["after"]["acknowledged_by"] == "token:test-responder"
    assert resolved["actor"] == "token:test-admin"
    assert resolved["before"]["status"] == "firing"
    assert resolved["after"]["status"] == "resolved"
    # a manual alert (inserted with Core on the intake path) is recorded explicitly
    resp = env.client.post(
        "/api/v1/alerts", json={"summary": "db failover drill"}, headers=env.h["responder"]
    )
    assert resp.status_code == 201, resp.text
    manual = env.audit(object_type="alerts", limit=1)[0]
    assert manual["action"] == "create"
    assert manual["actor"] == "token:test-responder"
    assert manual["object_id"] == str(resp.json()["id"])
    assert manual["after"]["summary"] == "db failover drill"


def test_keys_and_token_hashes_are_redacted(env: Env) -> None:
    admin = env.h["admin"]
    made = env.client.post(
        "/api/v1/integrations", json={"name": "pd", "kind": "pagerduty"}, headers=admin
    )
    assert made.status_code == 201, made.text
    rotated = env.client.post("/api/v1/integrations/pd/rotate", json={}, headers=admin)
    assert rotated.status_code == 200, rotated.text
    token = env.client.post("/api/v1/tokens", json={"name": "ci", "role": "viewer"}, headers=admin)
    assert token.status_code == 201, token.text
    rotate, create = env.audit(object_type="integrations", actor="token:*")
    assert create["after"]["key_hash"] == "***"
    assert rotate["before"]["key_hash"] == rotate["after"]["key_hash"] == "***"
    assert rotate["before"]["previous_key_hash"] is None
    assert rotate["after"]["previous_key_hash"] == "***"
    tok = env.audit(object_type="api_tokens", actor="token:test-admin")[0]
    assert tok["after"]["token_hash"] == "***"
    assert tok["after"]["name"] == "ci"
    everything = json.dumps(env.audit(limit=1000))
    for secret in (made.json()["key"], rotated.json()["key"], token.json()["token"], SECRET):
        assert secret not in everything
    # using a token updates its last_used_at: bookkeeping, not a change worth auditing
    assert env.client.get("/api/v1/whoami", headers=env.h["viewer"]).is_success
    assert all(e["action"] == "create" for e in env.audit(object_type="api_tokens"))


def test_only_admins_read_the_audit_log_and_filters_work(env: Env) -> None:
    assert env.client.get("/api/v1/audit").status_code == 401
    for role in ("viewer", "responder"):
        assert env.client.get("/api/v1/audit", headers=env.h[role]).status_code == 403
    env.client.post(
        "/api/v1/notification-channels",
        json={"name": "mail", "kind": "email", "target": "ops@example.com"},
        headers=env.h["admin"],
    )
    assert [e["object_name"] for e in env.audit(actor="token:test-admin")] == ["mail"]
    assert env.audit(actor="token:nobody") == []
    # requests are timed by the app's (frozen) clock, the fixture's rows by the wall clock
    assert env.audit(since="2026-11-01T00:00:01Z", actor="token:*") == []
    assert len(env.audit(since="2026-11-01T00:00:00Z", object_type="notification_channels")) == 1
    system = env.audit(actor="system")  # the fixture's rows, made outside any request
    assert {"teams", "services", "users", "integrations"} <= {e["object_type"] for e in system}
    assert len(env.audit(limit=2)) == 2
    bad = env.client.get("/api/v1/audit", params={"since": "yesterday"}, headers=env.h["admin"])
    assert bad.status_code == 422
    naive = env.client.get(
        "/api/v1/audit", params={"since": "2026-11-01T00:00:00"}, headers=env.h["admin"]
    )
    assert naive.status_code == 422


def test_cli_changes_carry_the_os_user_and_ninefold_audit_lists_them(
    db_url: str, session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NINEFOLD_DATABASE_URL", db_url)
    runner = CliRunner()
    result = runner.invoke(cli_app, ["apply", str(ROOT / "examples" / "acme")])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli_app, ["token", "create", "--name", "deploy", "--role", "responder"])
    assert result.exit_code == 0, result.output
    actor = f"cli:{getpass.getuser()}"
    result = runner.invoke(cli_app, ["audit", "--object-type", "teams", "-o", "json"])
    assert result.exit_code == 0, result.output
    teams = json.loads(result.stdout)
    assert teams
    assert {e["actor"] for e in teams} == {actor}
    assert {e["action"] for e in teams} == {"create"}
    result = runner.invoke(cli_app, ["audit", "--actor", "cli:*", "--since", "1h", "-o", "json"])
    entries = json.loads(result.stdout)
    kinds = {e["object_type"] for e in entries}
    assert {"teams", "services", "slos", "api_tokens"} <= kinds
    table = runner.invoke(cli_app, ["audit", "-t", "api_tokens"])
    assert table.exit_code == 0, table.output
    assert "deploy" in table.output
    assert "***" in table.output
    bad = runner.invoke(cli_app, ["audit", "--since", "yesterday"])
    assert bad.exit_code == 2


def test_engine_and_scoped_actors(session_factory: sessionmaker[Session]) -> None:
    with context.actor_scope("engine:heartbeats"), session_factory() as s, s.begin():
        factories.team(s, "ops", T0)
    with session_factory() as s, s.begin():
        factories.team(s, "dev", T0)
    with session_factory() as s:
        rows = s.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        assert [(r.actor, r.object_name) for r in rows] == [
            ("engine:heartbeats", "ops"),
            ("system", "dev"),
        ]


def test_people_and_machines() -> None:
    for actor in ("token:ci", "user:alice", "cli:root", "link:email link"):
        assert context.is_human(actor)
    for actor in ("engine:pager", "anonymous", "system", "alertmanager", "expiry"):
        assert not context.is_human(actor)


def test_redaction_rules() -> None:
    out = redact(
        "integrations",
        {
            "key_hash": "abc",
            "previous_key_hash": None,
            "config": {"auth": {"bearer_token": "x", "hmac_secret": "y", "header": "X-Sig"}},
            "name": "pd",
        },
    )
    assert out == {
        "key_hash": "***",
        "previous_key_hash": None,
        "config": {"auth": {"bearer_token": "***", "hmac_secret": "***", "header": "X-Sig"}},
        "name": "pd",
    }
    assert redact("app_secrets", {"value": "k"}) == {"value": "***"}
    assert redact("notification_channels", {"target": "ops@example.com"}) == {
        "target": "ops@example.com"
    }
    assert redact("notification_channels", {"target": "https://u:p@chat.example:8443/"}) == {
        "target": "https://chat.example:8443"
    }
