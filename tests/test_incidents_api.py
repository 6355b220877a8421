"""Incident scenarios through the HTTP API with a frozen clock, on SQLite and PostgreSQL.

Alert fires → incident declared from it → roles assigned (pages through personal rules) →
stakeholder updates → mitigate → resolve; the timeline holds alerts, pages, role, status and
severity changes, SLO burn alerts and deploys; merge; bad input is 4xx naming the field.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from ninefold.alert.models import Alert
from ninefold.app import create_app
from ninefold.config import Settings
from ninefold.core.clock import FrozenClock
from ninefold.identity.models import TeamMember, User
from tests import factories
from tests.conftest import T0, make_token

CHANNELS = ("status-room", "alice-app", "bob-app", "bob-phone", "carol-app")


class Env:
    """A running app with a frozen clock."""

    def __init__(self, client: TestClient, clock: FrozenClock, headers: Any, sf: Any) -> None:
        self.client, self.clock, self.h, self.sf = client, clock, headers, sf

    def call(self, method: str, path: str, role: str = "responder", **kw: Any) -> Any:
        resp = self.client.request(method, f"/api/v1{path}", headers=self.h[role], **kw)
        assert resp.status_code < 300, resp.text
        return resp.json()

    def fail(self, method: str, path: str, status: int, role: str = "responder", **kw: Any) -> str:
        resp = self.client.request(method, f"/api/v1{path}", headers=self.h[role], **kw)
        assert resp.status_code == status, resp.text
        return str(resp.json()["detail"])

    def alert(self, summary: str, service: str = "api", severity: str = "critical") -> int:
        body = {"summary": summary, "service": service, "severity": severity}
        return int(self.call("POST", "/alerts", json=body)["id"])

    def sent(self) -> list[str]:
        items = self.call("GET", "/notifications", "admin", params={"limit": 200})["items"]
        items.sort(key=lambda i: i["id"])
        return [f"{i['notification']['kind']}:{i['channel']}" for i in items]

    def timeline(self, incident: int, **params: Any) -> list[dict[str, Any]]:
        return list(self.call("GET", f"/incidents/{incident}/timeline", "viewer", params=params))


@pytest.fixture
def env(
    engine: Engine, session_factory: sessionmaker[Session], settings: Settings, clock: FrozenClock
) -> Iterator[Env]:
    with session_factory() as s, s.begin():
        team = factories.team(s, "web", T0)
        factories.service(s, "api", team, T0)
        factories.service(s, "db", team, T0)
        for name in ("alice", "bob", "carol"):
            user = User(name=name, email=f"{name}@example.com", created_at=T0)
            s.add(user)
            s.flush()
            s.add(TeamMember(team_id=team.id, user_id=user.id))
    headers = {
        role: {"Authorization": f"Bearer {make_token(session_factory, role)}"}
        for role in ("admin", "responder", "viewer")
    }
    app = create_app(
        settings.model_copy(update={"engine_enabled": False}), engine=engine, clock=clock
    )
    with TestClient(app) as client:
        e = Env(client, clock, headers, session_factory)
        for ch in CHANNELS:
            e.call(
                "POST",
                "/notification-channels",
                "admin",
                json={"name": ch, "kind": "webhook", "target": f"http://127.0.0.1:9/{ch}"},
            )
        rules = {
            "alice": [{"after": "0m", "channel": "alice-app"}],
            "bob": [{"after": "0m", "channel": "bob-app"}, {"after": "5m", "channel": "bob-phone"}],
            "carol": [{"after": 0, "channel": "carol-app"}],
        }
        for name, body in rules.items():
            e.call("PUT", f"/users/{name}/notification-rules", "admin", json=body)
        schedule = {
            "time_zone": "UTC",
            "layers": [
                {
                    "name": "w",
                    "rotation": "weekly",
                    "start": (T0 - timedelta(days=1)).isoformat(),
                    "participants": ["carol", "bob"],
                }
            ],
        }
        e.call("PUT", "/schedules/primary", "admin", json=schedule)
        policy = {
            "levels": [{"delay": "5m", "targets": [{"user": "alice"}, {"schedule": "primary"}]}]
        }
        e.call("PUT", "/escalation-policies/web-policy", "admin", json=policy)
        yield e


def _kinds(entries: list[dict[str, Any]]) -> list[str]:
    return [e["kind"] for e in entries]


def test_declare_from_alert_roles_updates_mitigate_resolve(env: Env) -> None:
    alert_id = env.alert("Checkout 5xx")
    env.clock.advance(timedelta(minutes=3))
    inc = env.call("POST", f"/alerts/{alert_id}/incident", json={"severity": "sev1"})
    iid = inc["id"]
    assert (inc["title"], inc["severity"], inc["status"], inc["public_status"]) == (
        "Checkout 5xx",
        "SEV1",
        "open",
        "investigating",
    )
    assert inc["services"] == ["api"]
    assert [a["id"] for a in inc["alerts"]] == [alert_id]
    # detected when the alert fired, declared 3 minutes later
    assert inc["detected_at"] == inc["started_at"] == T0.isoformat().replace("+00:00", "Z")
    before = len(env.sent())

    env.clock.advance(timedelta(minutes=1))
    inc = env.call("PUT", f"/incidents/{iid}/roles/commander", json={"user": "bob"})
    assert inc["roles"][0]["role"] == "commander"
    assert inc["roles"][0]["user"] == "bob"
    assert [r["user"] for r in inc["responders"]] == ["bob"]
    assert inc["responders"][0]["paged_at"] is not None
    # bob's immediate rule pages now; the 5-minute rule is not scheduled
    assert env.sent()[before:] == ["page:bob-app"]
    inc = env.call("PUT", f"/incidents/{iid}/roles/communications", json={"user": "alice"})
    assert env.sent()[before:] == ["page:bob-app", "page:alice-app"]

    inc = env.call("POST", f"/incidents/{iid}/acknowledge")
    assert inc["status"] == "acknowledged"
    # a stakeholder update to a named channel
    upd = env.call(
        "POST",
        f"/incidents/{iid}/updates",
        json={
            "public_status": "identified",
            "message": "Bad config push",
            "channels": ["status-room"],
        },
    )
    assert upd["public_status"] == "identified"
    assert upd["published"] is True
    assert env.sent()[-1] == "incident:status-room"
    notes = env.call("GET", "/notifications", "admin", params={"limit": 200})["items"]
    text = next(n["notification"] for n in notes if n["channel"] == "status-room")
    assert text["title"] == "Identified: Checkout 5xx"
    assert "Bad config push" in text["summary"]

    env.call("PATCH", f"/incidents/{iid}", json={"severity": "SEV2", "services": ["api", "db"]})
    env.clock.advance(timedelta(minutes=10))
    inc = env.call("POST", f"/incidents/{iid}/mitigate")
    assert inc["status"] == "mitigated"
    env.call(
        "POST",
        f"/incidents/{iid}/updates",
        json={"public_status": "monitoring", "message": "Rolled back", "channels": []},
    )
    env.clock.advance(timedelta(minutes=30))
    inc = env.call("POST", f"/incidents/{iid}/resolve")
    assert (inc["status"], inc["public_status"]) == ("resolved", "resolved")
    assert [u["public_status"] for u in inc["updates"]] == ["identified", "monitoring"]

    kinds = _kinds(env.timeline(iid))
    for kind in (
        "alert",
        "declared",
        "role",
        "page",
        "status",
        "update",
        "severity",
        "services",
        "public_status",
    ):
        assert kind in kinds, kind
    assert kinds[0] == "alert"  # at the time the alert fired, before the declaration
    key = env.timeline(iid, key_moments=True)
    assert [e["kind"] for e in key] == ["declared", "status", "severity", "status", "status"]
    # acting twice is refused with a clear message
    assert "reopen" in env.fail("POST", f"/incidents/{iid}/resolve", 422)
    inc = env.call("POST", f"/incidents/{iid}/reopen")
    assert (inc["status"], inc["public_status"], inc["mitigated_at"]) == (
        "acknowledged",
        "investigating",
        None,
    )


def test_responders_from_schedule_and_policy(env: Env) -> None:
    iid = env.call(
        "POST", "/incidents", json={"title": "Slow", "severity": "SEV3", "services": ["db"]}
    )["id"]
    inc = env.call("POST", f"/incidents/{iid}/responders", json={"schedule": "primary"})
    assert [(r["user"], r["source"], r["source_name"]) for r in inc["responders"]] == [
        ("carol", "schedule", "primary")
    ]
    inc = env.call("POST", f"/incidents/{iid}/responders", json={"escalation_policy": "web-policy"})
    assert [r["user"] for r in inc["responders"]] == ["carol", "alice"]
    assert env.sent() == ["page:carol-app", "page:alice-app"]
    detail = env.fail("POST", f"/incidents/{iid}/responders", 422, json={"schedule": "nope"})
    assert detail.startswith("schedule:")


def test_timestamps_corrections_keep_order(env: Env) -> None:
    iid = env.call(
        "POST",
        "/incidents",
        json={
            "title": "Past",
            "severity": "SEV2",
            "started_at": (T0 - timedelta(hours=2)).isoformat(),
        },
    )["id"]
    inc = env.call("GET", f"/incidents/{iid}", "viewer")
    assert inc["started_at"].startswith("2026-10-31T22:00")
    env.clock.advance(timedelta(minutes=5))
    env.call(
        "POST", f"/incidents/{iid}/mitigate", json={"at": (T0 + timedelta(minutes=2)).isoformat()}
    )
    inc = env.call("GET", f"/incidents/{iid}", "viewer")
    assert inc["acknowledged_at"] == inc["mitigated_at"]  # mitigating records the ack too
    detail = env.fail(
        "PATCH",
        f"/incidents/{iid}/timestamps",
        422,
        json={"detected_at": (T0 + timedelta(minutes=3)).isoformat()},
    )
    assert detail.startswith("acknowledged_at:")
    detail = env.fail("PATCH", f"/incidents/{iid}/timestamps", 422, json={"acknowledged_at": None})
    assert detail.startswith("mitigated_at:")
    env.call(
        "PATCH",
        f"/incidents/{iid}/timestamps",
        json={"acknowledged_at": (T0 + timedelta(minutes=1)).isoformat()},
    )
    assert "timestamp_corrected" in _kinds(env.timeline(iid))
    assert env.fail("POST", f"/incidents/{iid}/acknowledge", 422).startswith("acknowledged_at:")
    future = (T0 + timedelta(hours=1)).isoformat()
    assert env.fail("POST", f"/incidents/{iid}/resolve", 422, json={"at": future}).startswith("at:")


def test_slo_burn_alerts_and_deploys_join_the_timeline(env: Env) -> None:
    with env.sf() as s, s.begin():
        api_id = s.execute(text("SELECT id FROM services WHERE name='api'")).scalar()
        s.add(
            Alert(
                dedup_key="slo-1",
                fingerprint="0" * 16,
                source="slo",
                service_id=api_id,
                status="firing",
                severity="critical",
                summary="api availability burning",
                labels={},
                starts_at=T0,
                last_received_at=T0,
                created_at=T0,
            )
        )
    env.call(
        "POST",
        "/deployments",
        json={
            "service": "api",
            "version": "v41",
            "deployed_at": (T0 - timedelta(minutes=30)).isoformat(),
        },
    )
    env.call(
        "POST",
        "/deployments",
        json={
            "service": "api",
            "version": "v40",
            "deployed_at": (T0 - timedelta(hours=5)).isoformat(),
        },
    )
    env.clock.advance(timedelta(minutes=5))
    iid = env.call(
        "POST", "/incidents", json={"title": "Errors", "severity": "SEV2", "services": ["api"]}
    )["id"]
    env.clock.advance(timedelta(minutes=5))
    dep = env.call(
        "POST",
        "/deployments",
        json={"service": "api", "version": "v42", "commit": "abc123", "outcome": "rollback"},
    )
    assert dep["incidents"] == [iid]
    other = env.call("POST", "/deployments", json={"service": "db", "version": "d1"})
    assert other["incidents"] == []
    entries = env.timeline(iid)
    assert [(e["kind"], e["details"].get("version")) for e in entries if e["kind"] == "deploy"] == [
        ("deploy", "v41"),
        ("deploy", "v42"),
    ]
    assert "slo_burn" in _kinds(entries)
    listed = env.call("GET", "/deployments", "viewer", params={"service": "api"})
    assert [d["version"] for d in listed["items"]] == ["v42", "v41", "v40"]
    assert listed["items"][0]["commit"] == "abc123"
    assert env.fail(
        "POST", "/deployments", 422, json={"service": "nope", "version": "1"}
    ).startswith("service:")
    detail = env.fail(
        "POST", "/deployments", 422, json={"service": "api", "version": "1", "outcome": "meh"}
    )
    assert "outcome" in detail


def test_attach_detach_and_merge(env: Env) -> None:
    a1, a2, a3 = env.alert("A1"), env.alert("A2", service="db"), env.alert("A3")
    first = env.call(
        "POST", "/incidents", json={"title": "One", "severity": "SEV2", "alert_ids": [a1]}
    )
    second = env.call(
        "POST", "/incidents", json={"title": "Two", "severity": "SEV3", "services": ["db"]}
    )
    env.call("POST", f"/incidents/{second['id']}/alerts", json={"alert_ids": [a2, a3]})
    detail = env.fail("POST", f"/incidents/{first['id']}/alerts", 409, json={"alert_ids": [a2]})
    assert "already attached to incident" in detail
    inc = env.call("DELETE", f"/incidents/{second['id']}/alerts/{a3}")
    assert [a["id"] for a in inc["alerts"]] == [a2]
    env.call("POST", f"/incidents/{second['id']}/timeline", json={"message": "Looking at db"})
    survivor = env.call("POST", f"/incidents/{second['id']}/merge", json={"into": first["id"]})
    assert survivor["id"] == first["id"]
    assert sorted(a["id"] for a in survivor["alerts"]) == [a1, a2]
    assert survivor["services"] == ["api", "db"]
    merged = env.call("GET", f"/incidents/{second['id']}", "viewer")
    assert (merged["status"], merged["merged_into"], merged["alerts"]) == (
        "merged",
        first["id"],
        [],
    )
    kinds = _kinds(env.timeline(first["id"]))
    assert "note" in kinds
    assert "merged" in kinds
    assert env.fail("POST", f"/incidents/{second['id']}/acknowledge", 409).startswith("incident")
    assert env.fail(
        "POST", f"/incidents/{first['id']}/merge", 422, json={"into": first["id"]}
    ).startswith("into:")
    active = env.call("GET", "/incidents", "viewer", params={"status": "active"})
    assert [i["id"] for i in active["items"]] == [first["id"]]


def test_bad_input_names_the_field_and_viewer_cannot_write(env: Env) -> None:
    assert env.fail("POST", "/incidents", 422, json={"title": "x", "severity": "SEV9"}).startswith(
        "severity:"
    )
    assert env.fail("POST", "/incidents", 422, json={"title": "", "severity": "SEV1"}).startswith(
        "body.title"
    )
    assert env.fail("POST", "/incidents", 422, json={"title": "x", "services": ["zz"]}).startswith(
        "services:"
    )
    assert env.fail("POST", "/incidents", 422, json={"title": "x", "alert_ids": [999]}).startswith(
        "alert_ids:"
    )
    future = (T0 + timedelta(days=1)).isoformat()
    assert env.fail(
        "POST", "/incidents", 422, json={"title": "x", "started_at": future}
    ).startswith("started_at:")
    iid = env.call("POST", "/incidents", json={"title": "x"})["id"]
    assert env.call("GET", f"/incidents/{iid}", "viewer")["severity"] == "SEV2"
    assert env.fail("PUT", f"/incidents/{iid}/roles/boss", 422, json={"user": "bob"}).startswith(
        "role:"
    )
    assert env.fail("PUT", f"/incidents/{iid}/roles/scribe", 422, json={"user": "zed"}).startswith(
        "user:"
    )
    detail = env.fail(
        "POST",
        f"/incidents/{iid}/updates",
        422,
        json={"public_status": "identified", "message": "m", "channels": ["nope"]},
    )
    assert detail.startswith("channels:")
    assert "public_status" in env.fail(
        "POST", f"/incidents/{iid}/updates", 422, json={"public_status": "fine", "message": "m"}
    )
    assert env.fail("POST", f"/incidents/{iid}/reopen", 422).startswith("status:")
    env.fail("GET", "/incidents/999", 404, "viewer")
    env.fail("POST", "/incidents", 403, "viewer", json={"title": "x"})
    env.fail("POST", f"/incidents/{iid}/resolve", 403, "viewer")
    env.fail("POST", "/deployments", 403, "viewer", json={"service": "api", "version": "1"})
    sev = env.call("GET", "/incident-severities", "viewer")
    assert [s["name"] for s in sev] == ["SEV1", "SEV2", "SEV3", "SEV4"]
    roles = env.call("GET", "/incident-roles", "viewer")
    assert [r["name"] for r in roles] == ["commander", "communications", "scribe"]
    # a stakeholder update saying resolved resolves the incident (and mitigates it)
    env.call(
        "POST", f"/incidents/{iid}/updates", json={"public_status": "resolved", "message": "ok"}
    )
    inc = env.call("GET", f"/incidents/{iid}", "viewer")
    assert inc["status"] == "resolved"
    assert inc["mitigated_at"] == inc["resolved_at"]
    entries = env.timeline(iid)
    env.call("PATCH", f"/incidents/{iid}/timeline/{entries[-1]['id']}", json={"key_moment": True})
    assert env.timeline(iid, key_moments=True)[-1]["id"] == entries[-1]["id"]
