"""Team-scoped authorisation through the HTTP API, per domain, on SQLite and PostgreSQL.

Two teams: payments owns ``checkout``, search owns ``search-api``. A token scoped to payments
gets 403 naming both teams for search's objects — and nothing changes (checked by a GET) — and
succeeds on payments' objects; an org-wide admin succeeds on both; a viewer is refused writes.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ninefold.alert.models import Alert
from ninefold.app import create_app
from ninefold.config import Settings
from ninefold.core.clock import FrozenClock
from ninefold.identity import store as identity_store
from ninefold.identity.models import TeamMember, User
from ninefold.statuspage.models import StatusComponent
from tests import factories
from tests.conftest import T0

DENIED = "token scoped to team 'payments' cannot change"


class Env:
    """A running app and tokens: ``a`` (payments responder), ``a_admin`` (payments admin),
    ``org`` (unscoped responder), ``admin`` (unscoped admin), ``viewer``."""

    def __init__(
        self, client: TestClient, headers: dict[str, dict[str, str]], sf: sessionmaker[Session]
    ) -> None:
        self.client, self.h, self.sf = client, headers, sf

    def call(self, method: str, path: str, who: str, **kw: Any) -> Any:
        resp = self.client.request(method, f"/api/v1{path}", headers=self.h[who], **kw)
        assert resp.status_code < 300, resp.text
        return resp.json() if resp.content else None

    def refused(self, method: str, path: str, who: str = "a", **kw: Any) -> str:
        resp = self.client.request(method, f"/api/v1{path}", headers=self.h[who], **kw)
        assert resp.status_code == 403, resp.text
        return str(resp.json()["detail"])

    def alert(self, service: str) -> int:
        body = {"summary": f"{service} is down", "service": service, "severity": "critical"}
        return int(self.call("POST", "/alerts", "admin", json=body)["id"])


def _token(sf: sessionmaker[Session], name: str, role: str, team: str | None) -> dict[str, str]:
    with sf() as s, s.begin():
        row = identity_store.get_team(s, name=team) if team else None
        _, secret = identity_store.create_token(s, name=name, role=role, now=T0, team=row)
    return {"Authorization": f"Bearer {secret}"}


LAYERS = [{"name": "l", "rotation": "weekly", "start": "2026-10-26T00:00:00Z"}]


@pytest.fixture
def env(
    engine: Engine, session_factory: sessionmaker[Session], settings: Settings, clock: FrozenClock
) -> Iterator[Env]:
    with session_factory() as s, s.begin():
        for team_name, service, person in (
            ("payments", "checkout", "alice"),
            ("search", "search-api", "sam"),
        ):
            team = factories.team(s, team_name, T0)
            svc = factories.service(s, service, team, T0)
            factories.slo(s, svc, T0, name=f"{service}-success")
            user = User(name=person, role="responder", created_at=T0)
            s.add(user)
            s.flush()
            s.add(TeamMember(team_id=team.id, user_id=user.id))
            component = StatusComponent(name=service, created_at=T0, updated_at=T0)
            component.services.append(svc)
            s.add(component)
    headers = {
        "a": _token(session_factory, "ci-payments", "responder", "payments"),
        "a_admin": _token(session_factory, "lead-payments", "admin", "payments"),
        "org": _token(session_factory, "ops", "responder", None),
        "admin": _token(session_factory, "root", "admin", None),
        "viewer": _token(session_factory, "dash", "viewer", None),
    }
    app = create_app(settings, clock=clock, engine=engine, start_engine=False)
    with TestClient(app) as client:
        e = Env(client, headers, session_factory)
        for team, person in (("payments", "alice"), ("search", "sam")):
            layers = [{**LAYERS[0], "participants": [person]}]
            schedule = {"time_zone": "UTC", "team": team, "layers": layers}
            e.call("PUT", f"/schedules/{team}-primary", "admin", json=schedule)
            policy = {"team": team, "levels": [{"targets": [{"schedule": f"{team}-primary"}]}]}
            e.call("PUT", f"/escalation-policies/{team}-policy", "admin", json=policy)
        yield e


# --- alerts -------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["acknowledge", "resolve"])
def test_alert_actions_are_team_scoped(env: Env, action: str) -> None:
    theirs, ours = env.alert("search-api"), env.alert("checkout")
    detail = env.refused("POST", f"/alerts/{theirs}/{action}")
    assert detail == f"{DENIED} alert '{theirs}' owned by team 'search'"
    after = env.call("GET", f"/alerts/{theirs}", "viewer")
    assert after["status"] == "firing"
    assert after["acknowledged_at"] is None
    env.call("POST", f"/alerts/{ours}/{action}", "a")
    env.call("POST", f"/alerts/{theirs}/{action}", "admin")
    env.call("POST", f"/alerts/{env.alert('search-api')}/{action}", "org")
    assert "needs the responder role" in env.refused("POST", f"/alerts/{ours}/{action}", "viewer")


def test_snooze_and_reassign_are_team_scoped(env: Env) -> None:
    theirs, ours = env.alert("search-api"), env.alert("checkout")
    assert DENIED in env.refused("POST", f"/alerts/{theirs}/snooze", json={"minutes": 30})
    with env.sf() as s:
        assert s.get_one(Alert, theirs).snoozed_until is None
    env.call("POST", f"/alerts/{ours}/snooze", "a", json={"minutes": 30})
    env.call("POST", f"/alerts/{theirs}/snooze", "admin", json={"minutes": 30})
    detail = env.refused("POST", f"/alerts/{theirs}/reassign", json={"user": "alice"})
    assert detail == f"{DENIED} alert '{theirs}' owned by team 'search'"


def _silence(service: str | None) -> dict[str, Any]:
    matchers = [{"name": "alertname", "value": "Down"}]
    if service is not None:
        matchers.append({"name": "service", "value": service})
    return {
        "matchers": matchers,
        "startsAt": T0.isoformat(),
        "endsAt": (T0 + timedelta(hours=2)).isoformat(),
        "createdBy": "ci",
        "comment": "deploy",
    }


def test_silences_of_a_team_scoped_token_must_name_its_services(env: Env) -> None:
    detail = env.refused("POST", "/silences", json=_silence("search-api"))
    assert detail == f"{DENIED} silence 'new' owned by team 'search'"
    assert "no exact service" in env.refused("POST", "/silences", json=_silence(None))
    assert env.call("GET", "/silences", "viewer")["total"] == 0
    ours = env.call("POST", "/silences", "a", json=_silence("checkout"))["silenceID"]
    org = env.call("POST", "/silences", "admin", json=_silence(None))["silenceID"]
    theirs = env.call("POST", "/silences", "admin", json=_silence("search-api"))["silenceID"]
    assert DENIED in env.refused("DELETE", f"/silences/{theirs}")
    assert "no exact service" in env.refused("DELETE", f"/silences/{org}")
    states = {s["id"]: s["state"] for s in env.call("GET", "/silences", "viewer")["items"]}
    assert states == {ours: "active", org: "active", theirs: "active"}
    assert env.call("DELETE", f"/silences/{ours}", "a")["state"] == "expired"
    assert env.call("DELETE", f"/silences/{theirs}", "admin")["state"] == "expired"


def test_maintenance_windows_are_team_scoped(env: Env) -> None:
    window = {"start": T0.isoformat(), "end": (T0 + timedelta(hours=1)).isoformat()}
    detail = env.refused("POST", "/services/search-api/maintenance", json=window)
    assert detail == f"{DENIED} service 'search-api' owned by team 'search'"
    assert env.call("GET", "/services/search-api/maintenance", "viewer") == []
    env.call("POST", "/services/checkout/maintenance", "a", json=window)
    theirs = env.call("POST", "/services/search-api/maintenance", "admin", json=window)["id"]
    assert DENIED in env.refused("DELETE", f"/services/search-api/maintenance/{theirs}")
    env.call("DELETE", f"/services/search-api/maintenance/{theirs}", "admin")


# --- on-call ------------------------------------------------------------------------------------


def test_overrides_are_team_scoped(env: Env) -> None:
    body = {
        "user": "alice",
        "start": T0.isoformat(),
        "end": (T0 + timedelta(hours=4)).isoformat(),
    }
    detail = env.refused("POST", "/schedules/search-primary/overrides", json=body)
    assert detail == f"{DENIED} schedule 'search-primary' owned by team 'search'"
    assert env.call("GET", "/schedules/search-primary", "viewer")["overrides"] == []
    env.call("POST", "/schedules/payments-primary/overrides", "a", json=body)
    theirs = env.call("POST", "/schedules/search-primary/overrides", "admin", json=body)["id"]
    assert DENIED in env.refused("DELETE", f"/schedules/search-primary/overrides/{theirs}")
    assert len(env.call("GET", "/schedules/search-primary", "viewer")["overrides"]) == 1
    env.call("DELETE", f"/schedules/search-primary/overrides/{theirs}", "org")


def test_team_admin_manages_its_own_schedules_and_policies_only(env: Env) -> None:
    layers = [{**LAYERS[0], "participants": ["sam", "alice"]}]
    theirs = {"time_zone": "Europe/Paris", "team": "search", "layers": layers}
    detail = env.refused("PUT", "/schedules/search-primary", "a_admin", json=theirs)
    assert detail == f"{DENIED} schedule 'search-primary' owned by team 'search'"
    # giving a schedule to another team, or taking one over, are refused alike
    assert DENIED in env.refused("PUT", "/schedules/new-one", "a_admin", json=theirs)
    grab = {**theirs, "team": "payments"}
    assert DENIED in env.refused("PUT", "/schedules/search-primary", "a_admin", json=grab)
    assert DENIED in env.refused("DELETE", "/schedules/search-primary", "a_admin")
    assert env.call("GET", "/schedules/search-primary", "viewer")["time_zone"] == "UTC"
    ours = {**theirs, "team": "payments"}
    env.call("PUT", "/schedules/payments-primary", "a_admin", json=ours)
    assert env.call("GET", "/schedules/payments-primary", "viewer")["time_zone"] == "Europe/Paris"
    env.call("PUT", "/schedules/search-primary", "admin", json=theirs)
    # a team-scoped responder is not an admin
    assert "needs the admin role" in env.refused("PUT", "/schedules/payments-primary", json=ours)

    policy = {"team": "search", "levels": [{"targets": [{"user": "alice"}]}]}
    detail = env.refused("PUT", "/escalation-policies/search-policy", "a_admin", json=policy)
    assert detail == f"{DENIED} escalation policy 'search-policy' owned by team 'search'"
    assert DENIED in env.refused("DELETE", "/escalation-policies/search-policy", "a_admin")
    got = env.call("GET", "/escalation-policies/search-policy", "viewer")
    assert got["levels"][0]["targets"] == [{"schedule": "search-primary"}]
    env.call("PUT", "/escalation-policies/payments-policy", "a_admin", json={**policy, "team": "payments"})  # fmt: skip
    env.call("DELETE", "/escalation-policies/search-policy", "admin")


def test_org_wide_admin_operations_refuse_team_scoped_admin_tokens(env: Env) -> None:
    body = {"name": "escalate", "role": "admin"}
    assert "org-wide admin token" in env.refused("POST", "/tokens", "a_admin", json=body)
    rules = [{"after": 0, "channel": "x"}]
    assert "org-wide" in env.refused("PUT", "/users/sam/notification-rules", "a_admin", json=rules)
    assert env.call("POST", "/tokens", "admin", json=body)["role"] == "admin"


# --- incidents, postmortems, action items ------------------------------------------------------


def _incident(env: Env, service: str, who: str = "a") -> int:
    body = {"title": f"{service} broken", "services": [service], "severity": "SEV2"}
    return int(env.call("POST", "/incidents", who, json=body)["id"])


def test_anyone_declares_but_only_owning_teams_change_an_incident(env: Env) -> None:
    theirs = _incident(env, "search-api")  # raising the alarm on another team's service is fine
    ours = _incident(env, "checkout")
    assert env.refused("POST", f"/incidents/{theirs}/acknowledge") == (
        f"{DENIED} incident '{theirs}' owned by team 'search'"
    )
    assert DENIED in env.refused("PATCH", f"/incidents/{theirs}", json={"severity": "SEV1"})
    assert DENIED in env.refused("PUT", f"/incidents/{theirs}/roles/commander", json={"user": "alice"})  # fmt: skip
    update = {"public_status": "identified", "message": "found it", "channels": []}
    assert DENIED in env.refused("POST", f"/incidents/{theirs}/updates", json=update)
    assert DENIED in env.refused("POST", f"/incidents/{theirs}/merge", json={"into": ours})
    got = env.call("GET", f"/incidents/{theirs}", "viewer")
    assert (got["status"], got["severity"], got["public_status"]) == (
        "open",
        "SEV2",
        "investigating",
    )
    assert env.call("GET", f"/incidents/{theirs}/updates", "viewer") == []
    # notes stay open to everyone: telling the owners what you see is raising the alarm too
    env.call("POST", f"/incidents/{theirs}/timeline", "a", json={"message": "we see it too"})
    env.call("POST", f"/incidents/{ours}/acknowledge", "a")
    env.call("PATCH", f"/incidents/{ours}", "a", json={"severity": "SEV1"})
    env.call("POST", f"/incidents/{theirs}/acknowledge", "admin")
    assert env.call("GET", f"/incidents/{theirs}", "viewer")["status"] == "acknowledged"
    assert "needs the responder role" in env.refused("POST", f"/incidents/{ours}/resolve", "viewer")


def test_an_incident_of_two_teams_is_changed_by_either(env: Env) -> None:
    body = {"title": "both", "services": ["checkout", "search-api"], "severity": "SEV2"}
    both = env.call("POST", "/incidents", "org", json=body)["id"]
    env.call("POST", f"/incidents/{both}/acknowledge", "a")
    assert env.call("GET", f"/incidents/{both}", "viewer")["status"] == "acknowledged"


def _postmortem(env: Env, incident: int, who: str) -> Any:
    """The incident's postmortem (resolving may have drafted it already)."""
    resp = env.client.get(f"/api/v1/incidents/{incident}/postmortem", headers=env.h["viewer"])
    if resp.status_code == 404:
        return env.call("POST", f"/incidents/{incident}/postmortem", who)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_postmortems_and_action_items_are_team_scoped(env: Env) -> None:
    theirs, ours = _incident(env, "search-api", "admin"), _incident(env, "checkout", "admin")
    for iid in (theirs, ours):
        env.call("POST", f"/incidents/{iid}/resolve", "admin")
    assert DENIED in env.refused("POST", f"/incidents/{theirs}/postmortem")
    pm_ours, pm = _postmortem(env, ours, "a"), _postmortem(env, theirs, "admin")
    key = pm["sections"][0]["key"]
    detail = env.refused("PUT", f"/postmortems/{pm['id']}/sections/{key}", json={"body": "x"})
    assert detail == f"{DENIED} postmortem '{pm['id']}' owned by team 'search'"
    assert DENIED in env.refused("POST", f"/postmortems/{pm['id']}/status", json={"status": "in_review"})  # fmt: skip
    assert DENIED in env.refused("POST", f"/postmortems/{pm['id']}/refresh")
    got = env.call("GET", f"/postmortems/{pm['id']}", "viewer")
    assert got["status"] == "draft"
    assert got["sections"][0]["body"] == pm["sections"][0]["body"]
    env.call("PUT", f"/postmortems/{pm_ours['id']}/sections/{key}", "a", json={"body": "ours"})
    env.call("PUT", f"/postmortems/{pm['id']}/sections/{key}", "admin", json={"body": "fixed"})

    item = {"title": "Add a cache", "postmortem_id": pm["id"]}  # defaults to search
    assert DENIED in env.refused("POST", "/action-items", json=item)
    assert DENIED in env.refused("POST", "/action-items", json={"title": "x", "team": "search"})
    mine = env.call("POST", "/action-items", "a", json={"title": "Ours", "team": "payments"})
    other = env.call("POST", "/action-items", "admin", json=item)
    assert other["team"] == "search"
    detail = env.refused("PATCH", f"/action-items/{other['id']}", json={"status": "done"})
    assert detail == f"{DENIED} action item 'Add a cache' owned by team 'search'"
    assert DENIED in env.refused("PATCH", f"/action-items/{mine['id']}", json={"team": "search"})
    assert DENIED in env.refused("DELETE", f"/action-items/{other['id']}")
    assert env.call("GET", f"/action-items/{other['id']}", "viewer")["status"] == "open"
    env.call("PATCH", f"/action-items/{mine['id']}", "a", json={"status": "done"})
    env.call("PATCH", f"/action-items/{other['id']}", "admin", json={"status": "done"})


# --- deploys, heartbeats, SLO events, status page -----------------------------------------------


def test_deploys_heartbeats_and_slo_events_are_team_scoped(env: Env) -> None:
    deploy = {"service": "search-api", "version": "v1"}
    detail = env.refused("POST", "/deployments", json=deploy)
    assert detail == f"{DENIED} service 'search-api' owned by team 'search'"
    assert env.call("GET", "/deployments", "viewer", params={"service": "search-api"})["total"] == 0
    env.call("POST", "/deployments", "a", json={**deploy, "service": "checkout"})
    env.call("POST", "/deployments", "admin", json=deploy)

    for name, service in (("search-cron", "search-api"), ("checkout-cron", "checkout")):
        env.call("POST", "/heartbeats", "admin", json={"name": name, "service": service, "interval": "5m"})  # fmt: skip
    detail = env.refused("POST", "/heartbeats/search-cron/ping")
    assert detail == f"{DENIED} heartbeat 'search-cron' owned by team 'search'"
    assert env.call("GET", "/heartbeats/search-cron", "viewer")["last_beat_at"] is None
    env.call("POST", "/heartbeats/checkout-cron/ping", "a")
    env.call("POST", "/heartbeats/search-cron/ping", "org")

    at = (T0 - timedelta(minutes=5)).isoformat()
    batch = {"batch_id": "b1", "events": [{"timestamp": at, "bad": 1, "total": 10}]}
    detail = env.refused("POST", "/slos/search-api-success/events", json=batch)
    assert detail == f"{DENIED} SLO 'search-api-success' owned by team 'search'"
    env.call("POST", "/slos/checkout-success/events", "a", json=batch)
    assert env.call("POST", "/slos/search-api-success/events", "admin", json=batch)["accepted"] == 1


def test_status_overrides_are_team_scoped(env: Env) -> None:
    comps = {c["name"]: c["id"] for c in env.call("GET", "/status-page/components", "admin")}
    body = {"status": "major_outage"}
    theirs, ours = comps["search-api"], comps["checkout"]
    detail = env.refused("PUT", f"/status-page/components/{theirs}/override", "a_admin", json=body)
    assert detail == f"{DENIED} status component 'search-api' owned by team 'search'"
    assert "needs the admin role" in env.refused("PUT", f"/status-page/components/{ours}/override", json=body)  # fmt: skip
    env.call("PUT", f"/status-page/components/{ours}/override", "a_admin", json=body)
    env.call("PUT", f"/status-page/components/{theirs}/override", "admin", json=body)
    assert all(
        c["override_status"] == "major_outage"
        for c in env.call("GET", "/status-page/components", "admin")
    )
