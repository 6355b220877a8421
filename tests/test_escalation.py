"""Scenario tests with an injected clock: on-call schedules, escalation policies, personal rules.

Fire → page level 1 (whoever the schedule has on call) → escalate to level 2 → personal rule
delays → acknowledge stops escalation → resolve ends it; snooze and reassign; the API's
validation of schedules and policies; iCalendar export.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ninefold.alert.keys import create
from ninefold.app import create_app
from ninefold.config import Settings
from ninefold.core.clock import FrozenClock
from ninefold.identity.models import TeamMember, User
from ninefold.oncall.jobs import run_with_state as pager_tick
from tests import factories
from tests.conftest import T0, make_token

ROUTING = """
route:
  receiver: web-oncall
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1m
receivers:
  - name: web-oncall
    channels: [team-room]
    escalation_policy: web
"""

CHANNELS = ("team-room", "alice-app", "bob-app", "bob-phone", "carol-app")


class Env:
    """A running app with a frozen clock and helpers for the scenario."""

    def __init__(self, client: TestClient, clock: FrozenClock, key: str, headers: Any) -> None:
        self.client, self.clock, self.key, self.h = client, clock, key, headers

    def fire(self, name: str, **labels: str) -> None:
        body = [{"labels": {"alertname": name, **labels}, "annotations": {"summary": name}}]
        resp = self.client.post(f"/integrations/{self.key}/api/v2/alerts", json=body)
        assert resp.status_code == 200, resp.text

    def tick(self, after: timedelta = timedelta(0)) -> None:
        self.clock.advance(after)
        pager_tick(self.client.app.state)  # type: ignore[attr-defined]

    def sent(self) -> list[str]:
        """Channels of queued notifications, oldest first (kind:channel)."""
        items = self.client.get(
            "/api/v1/notifications", params={"limit": 200}, headers=self.h["viewer"]
        ).json()["items"]
        items.sort(key=lambda i: i["id"])
        return [f"{i['notification']['kind']}:{i['channel']}" for i in items]

    def alert_id(self, name: str) -> int:
        items = self.client.get("/api/v1/alerts", headers=self.h["viewer"]).json()["items"]
        return int(next(a["id"] for a in items if a["labels"]["alertname"] == name))

    def escalations(self) -> list[dict[str, Any]]:
        resp = self.client.get("/api/v1/escalations", headers=self.h["viewer"])
        assert resp.status_code == 200, resp.text
        return list(resp.json())


@pytest.fixture
def env(
    engine: Engine,
    session_factory: sessionmaker[Session],
    settings: Settings,
    tmp_path: Path,
    clock: FrozenClock,
) -> Iterator[Env]:
    routing = tmp_path / "routing.yml"
    routing.write_text(ROUTING, encoding="utf-8")
    with session_factory() as s, s.begin():
        team = factories.team(s, "web", T0)
        svc = factories.service(s, "api", team, T0)
        for name in ("alice", "bob", "carol"):
            user = User(name=name, email=f"{name}@example.com", created_at=T0)
            s.add(user)
            s.flush()
            if name != "alice":
                s.add(TeamMember(team_id=team.id, user_id=user.id))
        _, key = create(
            s, name="am", kind="alertmanager", service_id=svc.id, rate_limit_per_minute=6000, now=T0
        )
    cfg = settings.model_copy(update={"routing_file": routing, "engine_enabled": False})
    headers = {
        role: {"Authorization": f"Bearer {make_token(session_factory, role)}"}
        for role in ("admin", "responder", "viewer")
    }
    app = create_app(cfg, engine=engine, clock=clock)
    with TestClient(app) as client:
        for ch in CHANNELS:
            resp = client.post(
                "/api/v1/notification-channels",
                json={"name": ch, "kind": "webhook", "target": f"http://127.0.0.1:9/{ch}"},
                headers=headers["admin"],
            )
            assert resp.status_code == 201, resp.text
        rules = {
            "alice": [{"after": "0m", "channel": "alice-app"}],
            "bob": [{"after": "0m", "channel": "bob-app"}, {"after": "3m", "channel": "bob-phone"}],
            "carol": [{"after": 0, "channel": "carol-app"}],
        }
        for user, body in rules.items():
            resp = client.put(
                f"/api/v1/users/{user}/notification-rules", json=body, headers=headers["admin"]
            )
            assert resp.status_code == 200, resp.text
        schedule = {
            "time_zone": "Europe/Berlin",
            "team": "web",
            "layers": [
                {
                    "name": "weekly",
                    "rotation": "weekly",
                    "start": (T0 - timedelta(days=1)).isoformat(),
                    "participants": ["alice", "bob"],
                }
            ],
        }
        resp = client.put("/api/v1/schedules/primary", json=schedule, headers=headers["admin"])
        assert resp.status_code == 200, resp.text
        assert resp.json()["on_call_now"] == ["alice"]
        policy = {
            "team": "web",
            "repeat": 1,
            "levels": [
                {"delay": "10m", "targets": [{"schedule": "primary"}]},
                {"delay": "10m", "targets": [{"user": "bob"}]},
            ],
        }
        resp = client.put("/api/v1/escalation-policies/web", json=policy, headers=headers["admin"])
        assert resp.status_code == 200, resp.text
        yield Env(client, clock, key, headers)


def test_fire_escalates_two_levels_then_ack_stops_and_resolve_ends(env: Env) -> None:
    env.fire("Down")
    # level 1 at once: the channel of the receiver and whoever "primary" has on call (alice)
    assert env.sent() == ["page:team-room", "page:alice-app"]
    env.tick(timedelta(minutes=9, seconds=59))
    assert env.sent() == ["page:team-room", "page:alice-app"]
    env.tick(timedelta(seconds=1))  # 10 minutes: level 2 pages bob, rule 1 at once
    assert env.sent()[2:] == ["page:bob-app"]
    [esc] = env.escalations()
    assert (esc["status"], esc["level"], esc["paged"]) == ("triggered", 1, ["bob"])
    env.tick(timedelta(minutes=2, seconds=59))
    assert env.sent()[2:] == ["page:bob-app"]
    env.tick(timedelta(seconds=1))  # bob's second rule 3 minutes after his page
    assert env.sent()[2:] == ["page:bob-app", "page:bob-phone"]
    env.tick()  # a second tick at the same moment queues nothing twice
    assert len(env.sent()) == 4

    alert_id = env.alert_id("Down")
    ack = env.client.post(f"/api/v1/alerts/{alert_id}/acknowledge", headers=env.h["responder"])
    assert ack.status_code == 200, ack.text
    [esc] = env.escalations()
    assert esc["status"] == "acknowledged"
    assert esc["acknowledged_by"].startswith("token:")
    # without the ack, repeat: 1 would page alice again at 20 minutes
    env.tick(timedelta(minutes=30))
    assert len(env.sent()) == 4

    resolved = env.client.post(f"/api/v1/alerts/{alert_id}/resolve", headers=env.h["responder"])
    assert resolved.status_code == 200
    env.tick()
    [esc] = env.escalations()
    assert esc["status"] == "resolved"
    assert env.sent()[-1] == "resolved:team-room"
    events = env.client.get(f"/api/v1/alerts/{alert_id}", headers=env.h["viewer"]).json()
    kinds = [e["kind"] for e in events["events"]]
    for kind in ("escalation_started", "paged", "escalated", "escalation_acknowledged"):
        assert kind in kinds


def test_unacknowledged_policy_repeats_then_stays_exhausted(env: Env) -> None:
    env.fire("Down")
    env.tick(timedelta(minutes=10))  # level 2: bob
    env.tick(timedelta(minutes=10))  # loop 2, level 1: alice again
    env.tick(timedelta(minutes=10))  # loop 2, level 2: bob again
    pages = [p for p in env.sent() if p.endswith("-app")]
    assert pages == ["page:alice-app", "page:bob-app", "page:alice-app", "page:bob-app"]
    [esc] = env.escalations()
    # last level of the last loop: only bob's 3-minute rule is still to come
    bob_phone = (T0 + timedelta(minutes=33)).isoformat().replace("+00:00", "Z")
    assert (esc["loop"], esc["level"], esc["next_step_at"]) == (1, 1, bob_phone)
    env.tick(timedelta(hours=2))  # exhausted: nothing more
    assert [p for p in env.sent() if p.endswith("-app")] == pages
    [esc] = env.escalations()
    assert esc["next_step_at"] is None


def test_override_changes_who_level_one_pages(env: Env) -> None:
    override = {
        "user": "carol",
        "start": T0.isoformat(),
        "end": (T0 + timedelta(hours=1)).isoformat(),
    }
    resp = env.client.post(
        "/api/v1/schedules/primary/overrides", json=override, headers=env.h["responder"]
    )
    assert resp.status_code == 201, resp.text
    oncall = env.client.get("/api/v1/oncall", headers=env.h["viewer"]).json()
    assert oncall == [
        {"schedule": "primary", "team": "web", "at": oncall[0]["at"], "users": ["carol"]}
    ]
    env.fire("Down")
    assert env.sent() == ["page:team-room", "page:carol-app"]


def test_snooze_repages_later_and_reassign_pages_now(env: Env) -> None:
    env.fire("Down")
    alert_id = env.alert_id("Down")
    resp = env.client.post(
        f"/api/v1/alerts/{alert_id}/snooze", json={"minutes": 30}, headers=env.h["responder"]
    )
    assert resp.status_code == 200, resp.text
    env.tick(timedelta(minutes=29))  # snoozed: no level 2 at 10 minutes
    assert env.sent() == ["page:team-room", "page:alice-app"]
    env.tick(timedelta(minutes=1))  # snooze over: the current level is paged again
    assert env.sent()[2:] == ["page:alice-app"]

    resp = env.client.post(
        f"/api/v1/alerts/{alert_id}/reassign", json={"user": "carol"}, headers=env.h["responder"]
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()[0]["assignee"] == "carol"
    assert env.sent()[-1] == "page:carol-app"
    bad = env.client.post(
        f"/api/v1/alerts/{alert_id}/reassign", json={"user": "nobody"}, headers=env.h["responder"]
    )
    assert bad.status_code == 404
    past = env.client.post(
        f"/api/v1/alerts/{alert_id}/snooze",
        json={"until": (T0 - timedelta(hours=1)).isoformat()},
        headers=env.h["responder"],
    )
    assert past.status_code == 422


def test_bad_schedules_policies_and_rules_get_clear_errors(env: Env) -> None:
    admin = env.h["admin"]
    cases: list[tuple[str, dict[str, Any] | list[Any], str]] = [
        (
            "/api/v1/schedules/x",
            {
                "time_zone": "Mars/Base",
                "layers": [{"participants": ["alice"], "start": "2026-01-01T00:00:00Z"}],
            },
            "time_zone",
        ),
        (
            "/api/v1/schedules/x",
            {"layers": [{"participants": ["zed"], "start": "2026-01-01T00:00:00Z"}]},
            "zed",
        ),
        (
            "/api/v1/schedules/x",
            {
                "layers": [
                    {
                        "participants": ["alice"],
                        "start": "2026-01-01T00:00:00Z",
                        "rotation": "monthly",
                    }
                ]
            },
            "layers[0].rotation",
        ),
        (
            "/api/v1/escalation-policies/x",
            {"levels": [{"delay": "10m", "targets": [{"schedule": "nope"}]}]},
            "nope",
        ),
        (
            "/api/v1/escalation-policies/x",
            {"levels": [{"delay": "soon", "targets": [{"user": "bob"}]}]},
            "levels[0].delay",
        ),
        ("/api/v1/users/bob/notification-rules", [{"after": "1m", "channel": "ghost"}], "ghost"),
    ]
    for path, body, needle in cases:
        resp = env.client.put(path, json=body, headers=admin)
        assert resp.status_code == 422, (path, resp.text)
        assert needle in resp.text, (path, resp.text)
    assert (
        env.client.put("/api/v1/schedules/x", json={"layers": []}, headers=admin).status_code == 422
    )
    viewer = env.client.put(
        "/api/v1/escalation-policies/x", json={"levels": []}, headers=env.h["viewer"]
    )
    assert viewer.status_code == 403


def test_calendars_and_shifts(env: Env) -> None:
    ics = env.client.get("/api/v1/schedules/primary/calendar.ics", headers=env.h["viewer"])
    assert ics.status_code == 200
    assert ics.headers["content-type"].startswith("text/calendar")
    body = ics.text
    assert body.startswith("BEGIN:VCALENDAR\r\n")
    assert "SUMMARY:" in body
    assert "alice" in body
    assert "bob" in body
    mine = env.client.get("/api/v1/users/bob/calendar.ics", headers=env.h["viewer"]).text
    assert "bob" in mine
    assert "alice" not in mine.replace("On call: bob", "")
    shifts = env.client.get(
        "/api/v1/schedules/primary/shifts", params={"user": "bob"}, headers=env.h["viewer"]
    ).json()
    assert shifts[0]["user"] == "bob"
    # weekly turns from T0 - 1 day: alice until T0 + 6 days, then bob for a week
    assert shifts[0]["start"].startswith((T0 + timedelta(days=6)).date().isoformat())


def test_page_carries_a_signed_ack_link_that_stops_escalation(env: Env) -> None:
    env.fire("Down")
    items = env.client.get("/api/v1/notifications", headers=env.h["viewer"]).json()["items"]
    page = next(i for i in items if i["channel"] == "alice-app")
    links = page["notification"]["links"]
    assert links["ack"]
    assert links["resolve"]
    path = "/" + links["ack"].split("/", 3)[3]
    assert env.client.get(path).status_code == 200  # the confirmation page changes nothing
    [esc] = env.escalations()
    assert esc["status"] == "triggered"
    done = env.client.post(path)
    assert done.status_code == 200, done.text
    [esc] = env.escalations()
    assert esc["status"] == "acknowledged"
    env.tick(timedelta(minutes=15))  # no level 2
    assert not any(p.startswith("page:bob") for p in env.sent())


def test_a_dead_page_escalates_to_the_next_level_at_once(env: Env) -> None:
    from ninefold.notification.jobs import run_with_state as deliver
    from tests.receiver import WebhookReceiver

    receiver = WebhookReceiver().start()
    try:
        receiver.script["/alice"] = [400]  # alice's only channel refuses the page for good
        admin = env.h["admin"]
        resp = env.client.post(
            "/api/v1/notification-channels",
            json={"name": "alice-broken", "kind": "webhook", "target": receiver.url("/alice")},
            headers=admin,
        )
        assert resp.status_code == 201, resp.text
        rules = [{"after": "0m", "channel": "alice-broken"}]
        resp = env.client.put("/api/v1/users/alice/notification-rules", json=rules, headers=admin)
        assert resp.status_code == 200, resp.text
        env.fire("Down")
        assert env.sent() == ["page:team-room", "page:alice-broken"]
        deliver(env.client.app.state)  # type: ignore[attr-defined]
        # still at T0: bob (level 2) is paged without waiting 10 minutes
        assert "page:bob-app" in env.sent()
        [esc] = env.escalations()
        assert (esc["level"], esc["paged"]) == (1, ["bob"])
        events = env.client.get(
            f"/api/v1/alerts/{env.alert_id('Down')}", headers=env.h["viewer"]
        ).json()["events"]
        assert any(e["kind"] == "page_dead" for e in events)
    finally:
        receiver.stop()
