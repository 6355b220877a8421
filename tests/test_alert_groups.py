"""Alertmanager behaviour of alert groups, through the public HTTP API with a frozen clock.

group_wait, group_interval, repeat_interval, resolved notifications and group closing,
group_by (incl. ``...``), continue to several routes, inhibition, maintenance windows,
dependency-aware suppression, silences and snoozes. Alerts come in as Prometheus posts them
(``POST /integrations/{key}/api/v2/alerts``); what would be sent is read back from
``GET /api/v1/notifications``; the pager tick is run by hand at chosen instants.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ninefold.alert.keys import create
from ninefold.app import create_app
from ninefold.catalog.models import ServiceDependency
from ninefold.config import Settings
from ninefold.core.clock import FrozenClock
from ninefold.identity.models import TeamMember, User
from ninefold.oncall.jobs import run_with_state as pager_tick
from tests import factories
from tests.conftest import T0, make_token

CHANNELS = ("ops-hook", "pager-hook", "team-hook", "bob-app")


def ts(at: datetime) -> str:
    """RFC 3339 with Z, as Prometheus writes it."""
    return at.isoformat().replace("+00:00", "Z")


def alert(name: str, **labels: str) -> dict[str, Any]:
    """An alert as Prometheus posts it; the summary names the alert and its labels."""
    all_labels = {"alertname": name, **labels}
    summary = name + "".join(f" {k}={v}" for k, v in sorted(labels.items()))
    return {"labels": all_labels, "annotations": {"summary": summary}}


class Env:
    """A running app on a frozen clock, one Alertmanager integration per catalog service."""

    def __init__(
        self, client: TestClient, clock: FrozenClock, keys: dict[str, str], h: Any
    ) -> None:
        self.client, self.clock, self.keys, self.h = client, clock, keys, h

    def at(self, delta: timedelta) -> None:
        """Set the clock to T0 + delta (never backwards)."""
        target = T0 + delta
        assert target >= self.clock.now()
        self.clock.set(target)

    def tick(self, delta: timedelta | None = None) -> None:
        """Run the pager tick, at T0 + delta when given."""
        if delta is not None:
            self.at(delta)
        pager_tick(self.client.app.state)  # type: ignore[attr-defined]

    def post(self, *alerts: dict[str, Any], service: str = "api") -> None:
        resp = self.client.post(f"/integrations/{self.keys[service]}/api/v2/alerts", json=alerts)
        assert resp.status_code == 200, resp.text

    def notes(self) -> list[dict[str, Any]]:
        """Queued notifications, oldest first: the notification with its channel."""
        resp = self.client.get(
            "/api/v1/notifications", params={"limit": 500}, headers=self.h["viewer"]
        )
        assert resp.status_code == 200, resp.text
        items = sorted(resp.json()["items"], key=lambda i: i["id"])
        return [{**i["notification"], "channel": i["channel"]} for i in items]

    def alerts(self) -> list[dict[str, Any]]:
        resp = self.client.get("/api/v1/alerts", params={"limit": 500}, headers=self.h["viewer"])
        assert resp.status_code == 200, resp.text
        return list(resp.json()["items"])

    def find(self, name: str, **labels: str) -> dict[str, Any]:
        """The newest stored alert with alertname ``name`` and these labels, in full."""
        want = {"alertname": name, **labels}
        for a in self.alerts():
            if all(a["labels"].get(k) == v for k, v in want.items()):
                resp = self.client.get(f"/api/v1/alerts/{a['id']}", headers=self.h["viewer"])
                assert resp.status_code == 200, resp.text
                return dict(resp.json())
        raise AssertionError(f"no alert {want}")


Start = Callable[..., Env]


@pytest.fixture
def start(
    engine: Engine,
    session_factory: sessionmaker[Session],
    settings: Settings,
    tmp_path: Path,
    clock: FrozenClock,
) -> Iterator[Start]:
    """Start an app with a routing file, services (with dependencies) and webhook channels."""
    stack = ExitStack()

    def _start(
        routing: str,
        *,
        services: Sequence[str] = ("api",),
        depends: Sequence[tuple[str, str]] = (),
    ) -> Env:
        path = tmp_path / "routing.yml"
        path.write_text(routing, encoding="utf-8")
        keys: dict[str, str] = {}
        with session_factory() as s, s.begin():
            team = factories.team(s, "web", T0)
            bob = User(name="bob", email="bob@example.com", created_at=T0)
            s.add(bob)
            s.flush()
            s.add(TeamMember(team_id=team.id, user_id=bob.id))
            ids = {}
            for name in services:
                svc = factories.service(s, name, team, T0)
                ids[name] = svc.id
                _, keys[name] = create(
                    s,
                    name=f"am-{name}",
                    kind="alertmanager",
                    service_id=svc.id,
                    rate_limit_per_minute=100_000,
                    now=T0,
                )
            for src, dst in depends:
                s.add(ServiceDependency(service_id=ids[src], depends_on_id=ids[dst]))
        headers = {
            role: {"Authorization": f"Bearer {make_token(session_factory, role)}"}
            for role in ("admin", "responder", "viewer")
        }
        cfg = settings.model_copy(update={"routing_file": path, "engine_enabled": False})
        app = create_app(cfg, engine=engine, clock=clock)
        client = stack.enter_context(TestClient(app))
        for ch in CHANNELS:
            resp = client.post(
                "/api/v1/notification-channels",
                json={"name": ch, "kind": "webhook", "target": f"http://127.0.0.1:9/{ch}"},
                headers=headers["admin"],
            )
            assert resp.status_code == 201, resp.text
        return Env(client, clock, keys, headers)

    yield _start
    stack.close()


S = timedelta(seconds=1)
M = timedelta(minutes=1)

BASIC = """
route:
  receiver: ops
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
receivers:
  - name: ops
    channels: [ops-hook]
"""


# --- 1, 2: group_wait and group_interval ---------------------------------------------------


def test_group_wait_batches_alerts_and_group_interval_spaces_updates(start: Start) -> None:
    env = start(BASIC)
    env.post(alert("HighLatency", instance="a"))
    env.tick(10 * S)
    env.post(alert("HighLatency", instance="b"))
    env.tick(10 * S)
    env.tick(29 * S)
    assert env.notes() == []  # group_wait (30s from the first alert) not over yet

    env.tick(30 * S)
    env.tick()  # the tick run again at the same instant queues nothing twice
    notes = env.notes()
    assert len(notes) == 1
    first = notes[0]
    assert first["kind"] == "page"
    assert first["channel"] == "ops-hook"
    assert first["title"].startswith("[FIRING:2]")
    assert "HighLatency instance=a" in first["summary"]
    assert "HighLatency instance=b" in first["summary"]
    assert first["labels"] == {"alertname": "HighLatency"}

    # a third alert at +1m: the group flushed at 30s, so the next flush is at 30s + 5m
    env.at(M)
    env.post(alert("HighLatency", instance="c"))
    assert len(env.notes()) == 1
    for at in (2 * M, 5 * M, 5 * M + 29 * S):
        env.tick(at)
        assert len(env.notes()) == 1, at
    env.tick(5 * M + 30 * S)
    env.tick()
    notes = env.notes()
    assert len(notes) == 2
    update = notes[1]
    assert update["kind"] == "page"
    assert update["title"].startswith("[FIRING:3]")
    for inst in "abc":
        assert f"HighLatency instance={inst}" in update["summary"]
    # nothing changed since: no further notification until repeat_interval
    env.tick(10 * M + 30 * S)
    env.tick(3 * 60 * M)
    assert len(env.notes()) == 2


def test_group_wait_zero_notifies_in_the_request(start: Start) -> None:
    env = start(BASIC.replace("group_wait: 30s", "group_wait: 0s"))
    env.post(alert("DiskFull"))
    notes = env.notes()
    assert [(n["kind"], n["title"]) for n in notes] == [("page", "DiskFull")]


def test_an_alert_older_than_group_wait_is_notified_at_once(start: Start) -> None:
    env = start(BASIC)
    old = {**alert("DiskFull"), "startsAt": ts(T0 - 10 * M)}
    env.post(old)
    assert [n["title"] for n in env.notes()] == ["DiskFull"]


# --- 3: repeat_interval ----------------------------------------------------------------------


def test_unchanged_group_repeats_after_repeat_interval_and_resends_queue_nothing(
    start: Start,
) -> None:
    env = start(
        BASIC.replace("group_interval: 5m", "group_interval: 1m").replace(
            "repeat_interval: 4h", "repeat_interval: 10m"
        )
    )
    env.post(alert("QueueBacklog"))
    env.tick(30 * S)
    assert [n["title"] for n in env.notes()] == ["QueueBacklog"]

    # Prometheus re-sends the firing alert: 1,000 times before the repeat is due (10m30s),
    # with the pager tick running every 50 re-sends.
    step = (10 * M - 1 * S) / 1000
    for i in range(1, 1001):
        env.at(30 * S + i * step)
        env.post(alert("QueueBacklog"))
        if i % 50 == 0:
            env.tick()
    env.tick(10 * M + 29 * S)
    assert len(env.notes()) == 1
    stored = env.find("QueueBacklog")
    assert stored["receive_count"] == 1001
    assert stored["status"] == "firing"

    env.tick(10 * M + 30 * S)
    env.tick()
    notes = env.notes()
    assert [(n["kind"], n["title"]) for n in notes] == [
        ("page", "QueueBacklog"),
        ("page", "QueueBacklog"),
    ]
    # and again one repeat_interval later, not before
    env.post(alert("QueueBacklog"))
    env.tick(20 * M + 29 * S)
    assert len(env.notes()) == 2
    env.post(alert("QueueBacklog"))
    env.tick(20 * M + 30 * S)
    assert len(env.notes()) == 3


# --- 4: resolved -----------------------------------------------------------------------------


def test_all_resolved_sends_resolved_closes_group_and_new_alert_pages_again(
    start: Start,
) -> None:
    env = start(BASIC)
    env.post(alert("Errors", instance="a"), alert("Errors", instance="b"))
    env.tick(30 * S)
    assert [n["title"][:11] for n in env.notes()] == ["[FIRING:2] "]

    # one resolved by Prometheus (endsAt in the past), the other by hand
    env.at(M)
    env.post({**alert("Errors", instance="a"), "endsAt": ts(T0 + 50 * S)})
    env.at(2 * M)
    b = env.find("Errors", instance="b")
    resp = env.client.post(f"/api/v1/alerts/{b['id']}/resolve", headers=env.h["responder"])
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "resolved"
    env.tick(5 * M + 29 * S)
    assert len(env.notes()) == 1  # the next allowed flush is 30s + group_interval

    env.tick(5 * M + 30 * S)
    env.tick()
    notes = env.notes()
    assert len(notes) == 2
    assert notes[1]["kind"] == "resolved"
    assert notes[1]["title"].startswith("[RESOLVED:2]")
    # the group is closed: nothing more, ever
    env.tick(60 * M)
    env.tick(5 * 60 * M)
    assert len(env.notes()) == 2

    # the same labels again: a new group (group_wait again, not group_interval) pages again
    env.at(5 * 60 * M + 1 * S)
    env.post(alert("Errors", instance="a"))
    env.tick(5 * 60 * M + 30 * S)
    assert len(env.notes()) == 2
    env.tick(5 * 60 * M + 31 * S)
    notes = env.notes()
    assert len(notes) == 3
    assert (notes[2]["kind"], notes[2]["title"]) == ("page", "Errors instance=a")
    firsts = [a for a in env.alerts() if a["labels"].get("instance") == "a"]
    assert len(firsts) == 2  # a new alert record, the old one stays resolved
    assert notes[2]["alert_id"] != notes[0]["alert_id"]


def test_resolve_before_first_flush_sends_nothing(start: Start) -> None:
    env = start(BASIC)
    env.post(alert("Flapping"))
    env.at(10 * S)
    env.post({**alert("Flapping"), "endsAt": ts(T0 + 5 * S)})
    env.tick(30 * S)
    env.tick(10 * M)
    assert env.notes() == []


# --- 5: group_by -----------------------------------------------------------------------------


def test_group_by_label_splits_groups(start: Start) -> None:
    env = start(BASIC.replace("group_by: [alertname]", "group_by: [alertname, cluster]"))
    env.post(
        alert("NodeDown", cluster="eu", instance="1"),
        alert("NodeDown", cluster="eu", instance="2"),
        alert("NodeDown", cluster="us", instance="3"),
    )
    env.tick(30 * S)
    notes = env.notes()
    assert len(notes) == 2
    by_cluster = {n["labels"]["cluster"]: n for n in notes}
    assert by_cluster["eu"]["title"].startswith("[FIRING:2]")
    assert by_cluster["eu"]["labels"] == {"alertname": "NodeDown", "cluster": "eu"}
    assert by_cluster["us"]["title"] == "NodeDown cluster=us instance=3"


def test_group_by_all_labels_makes_every_alert_its_own_group(start: Start) -> None:
    env = start(BASIC.replace("group_by: [alertname]", "group_by: ['...']"))
    env.post(alert("NodeDown", instance="1"), alert("NodeDown", instance="2"))
    env.tick(30 * S)
    notes = env.notes()
    assert sorted(n["title"] for n in notes) == ["NodeDown instance=1", "NodeDown instance=2"]
    assert all(n["kind"] == "page" for n in notes)


# --- 6: continue -----------------------------------------------------------------------------

CONTINUE = """
route:
  receiver: ops
  group_by: [alertname]
  group_wait: 30s
  routes:
    - matchers: ['severity="critical"']
      receiver: pager
      continue: true
    - matchers: ['team="web"']
      receiver: team
receivers:
  - name: ops
    channels: [ops-hook]
  - name: pager
    channels: [pager-hook]
  - name: team
    channels: [team-hook]
"""


def test_continue_notifies_every_matching_route(start: Start) -> None:
    env = start(CONTINUE)
    env.post(
        alert("CheckoutDown", severity="critical", team="web"),
        alert("CacheMiss", team="web"),
        alert("Other"),
    )
    env.tick(30 * S)
    got = sorted((n["channel"], n["labels"]["alertname"]) for n in env.notes())
    assert got == [
        ("ops-hook", "Other"),
        ("pager-hook", "CheckoutDown"),
        ("team-hook", "CacheMiss"),
        ("team-hook", "CheckoutDown"),
    ]


# --- 7: inhibition ---------------------------------------------------------------------------

INHIBIT = (
    BASIC.replace("group_by: [alertname]", "group_by: [alertname, service]")
    + """
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity="warning"']
    equal: [service]
"""
)


def test_inhibited_warning_is_not_notified_and_says_why(start: Start) -> None:
    env = start(INHIBIT)
    env.post(
        alert("ApiDown", severity="critical", service="api"),
        alert("ApiSlow", severity="warning", service="api"),
        alert("DbSlow", severity="warning", service="db"),
    )
    env.tick(30 * S)
    assert sorted(n["labels"]["alertname"] for n in env.notes()) == ["ApiDown", "DbSlow"]
    slow = env.find("ApiSlow")
    assert slow["suppression"] is not None, "GET /api/v1/alerts/{id} does not say why"
    assert slow["suppression"]["kind"] == "inhibited"
    assert slow["suppression"]["by"]["alertname"] == "ApiDown"
    assert any(e["kind"] == "suppressed" for e in slow["events"])
    assert env.find("DbSlow")["suppression"] is None

    # the critical alert resolves: the warning is no longer inhibited and is notified
    env.at(M)
    env.post({**alert("ApiDown", severity="critical", service="api"), "endsAt": ts(T0 + M)})
    env.post(alert("ApiSlow", severity="warning", service="api"))
    env.tick(5 * M + 30 * S)
    later = [n for n in env.notes()[2:] if n["kind"] == "page"]
    assert [n["labels"]["alertname"] for n in later] == ["ApiSlow"]
    assert env.find("ApiSlow")["suppression"] is None


# --- 8: maintenance windows ------------------------------------------------------------------


def _window(env: Env, service: str, end: datetime) -> int:
    body = {"start": ts(env.clock.now()), "end": ts(end), "reason": "db upgrade"}
    resp = env.client.post(
        f"/api/v1/services/{service}/maintenance", json=body, headers=env.h["responder"]
    )
    assert resp.status_code == 201, resp.text
    return int(resp.json()["id"])


def test_maintenance_window_holds_alerts_until_it_is_ended(start: Start) -> None:
    env = start(BASIC, services=("api", "db"))
    body = {"start": ts(T0), "end": ts(T0 + 2 * 60 * M)}
    viewer = env.client.post("/api/v1/services/api/maintenance", json=body, headers=env.h["viewer"])
    assert viewer.status_code == 403
    window = _window(env, "api", T0 + 2 * 60 * M)
    env.post(alert("ApiErrors"))
    env.post(alert("DbErrors"), service="db")
    env.tick(30 * S)
    assert [n["labels"]["alertname"] for n in env.notes()] == ["DbErrors"]
    held = env.find("ApiErrors")
    assert held["suppression"] == {"kind": "maintenance", "window": window}
    env.post(alert("ApiErrors"))
    env.tick(5 * M + 30 * S)
    assert len(env.notes()) == 1

    env.at(10 * M)
    resp = env.client.delete(
        f"/api/v1/services/api/maintenance/{window}", headers=env.h["responder"]
    )
    assert resp.status_code == 204
    env.post(alert("ApiErrors"))
    env.tick()
    assert len(env.notes()) == 1
    # held groups are re-checked every group_interval: 30s, 5m30s, 10m30s
    env.tick(10 * M + 30 * S)
    env.tick()
    pages = [n for n in env.notes() if n["labels"]["alertname"] == "ApiErrors"]
    assert [(p["kind"], p["title"]) for p in pages] == [("page", "ApiErrors")]
    assert env.find("ApiErrors")["suppression"] is None


def test_maintenance_window_end_releases_held_alerts(start: Start) -> None:
    env = start(BASIC)
    _window(env, "api", T0 + 12 * M)
    env.post(alert("ApiErrors"))
    env.tick(30 * S)
    for at in (5 * M + 30 * S, 10 * M + 30 * S):
        env.post(alert("ApiErrors"))
        env.tick(at)
    assert env.notes() == []
    env.post(alert("ApiErrors"))
    env.tick(15 * M + 30 * S)
    assert [n["title"] for n in env.notes()] == ["ApiErrors"]


# --- 9: dependency-aware suppression ----------------------------------------------------------

DEPENDENCY = """
route:
  receiver: ops
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  routes:
    - matchers: ['team="web"']
      receiver: team
      suppress_dependents: false
receivers:
  - name: ops
    channels: [ops-hook]
  - name: team
    channels: [team-hook]
"""


def test_alert_on_dependent_service_is_held_while_its_dependency_pages(start: Start) -> None:
    env = start(DEPENDENCY, services=("web", "db"), depends=[("web", "db")])
    env.post(alert("DbDown", severity="critical"), service="db")
    env.at(5 * S)
    env.post(alert("WebErrors", severity="critical"), service="web")
    env.post(alert("WebLatency", severity="critical", team="web"), service="web")
    env.tick(30 * S)
    env.tick(35 * S)
    notes = env.notes()
    assert sorted((n["channel"], n["labels"]["alertname"]) for n in notes) == [
        ("ops-hook", "DbDown"),
        ("team-hook", "WebLatency"),  # its route keeps suppress_dependents off
    ]
    db = env.find("DbDown")
    web = env.find("WebErrors")
    assert web["suppression"] is not None
    assert web["suppression"]["kind"] == "dependency"
    assert web["suppression"]["service"] == "db"
    assert web["suppression"]["alert_id"] == db["id"]
    assert env.find("WebLatency")["suppression"] is None


def test_dependency_does_not_hold_alerts_of_the_service_it_depends_on(start: Start) -> None:
    env = start(DEPENDENCY, services=("web", "db"), depends=[("web", "db")])
    env.post(alert("WebDown", severity="critical"), service="web")
    env.post(alert("DbSlow", severity="critical"), service="db")
    env.tick(30 * S)
    # db does not depend on web; web depends on db, which has a critical page
    assert [n["labels"]["alertname"] for n in env.notes()] == ["DbSlow"]


def test_dependency_that_was_held_and_released_still_holds_dependents(start: Start) -> None:
    env = start(BASIC, services=("web", "db"), depends=[("web", "db")])
    window = _window(env, "db", T0 + 2 * 60 * M)
    env.post(alert("DbDown", severity="critical"), service="db")
    env.tick(30 * S)
    assert env.find("DbDown")["suppression"]["kind"] == "maintenance"
    env.at(M)
    resp = env.client.delete(
        f"/api/v1/services/db/maintenance/{window}", headers=env.h["responder"]
    )
    assert resp.status_code == 204
    env.post(alert("DbDown", severity="critical"), service="db")
    env.tick(5 * M + 30 * S)
    assert [n["labels"]["alertname"] for n in env.notes()] == ["DbDown"]
    assert env.find("DbDown")["suppression"] is None
    # db pages now; a new alert on web (which depends on db) must be held
    env.at(6 * M)
    env.post(alert("DbDown", severity="critical"), service="db")
    env.post(alert("WebErrors", severity="critical"), service="web")
    env.tick(6 * M + 30 * S)
    assert [n["labels"]["alertname"] for n in env.notes()] == ["DbDown"]
    assert env.find("WebErrors")["suppression"]["kind"] == "dependency"


# --- 10: silences and snoozes ----------------------------------------------------------------


def test_silenced_alert_is_not_notified(start: Start) -> None:
    env = start(BASIC)
    silence = {
        "matchers": [{"name": "alertname", "value": "Lag", "isRegex": False}],
        "startsAt": ts(T0),
        "endsAt": ts(T0 + 60 * M),
        "createdBy": "alice",
        "comment": "replica rebuild",
    }
    resp = env.client.post("/api/v1/silences", json=silence, headers=env.h["responder"])
    assert resp.status_code == 201, resp.text
    env.post(alert("Lag"), alert("Cpu"))
    env.tick(30 * S)
    assert [n["labels"]["alertname"] for n in env.notes()] == ["Cpu"]
    assert env.find("Lag")["suppression"] == {
        "kind": "silenced",
        "silences": [str(resp.json()["silenceID"])],
    }


def test_snoozed_alert_is_held_until_the_snooze_ends(start: Start) -> None:
    env = start(BASIC)
    env.post(alert("Backup"))
    env.at(5 * S)
    a = env.find("Backup")
    resp = env.client.post(
        f"/api/v1/alerts/{a['id']}/snooze", json={"minutes": 20}, headers=env.h["responder"]
    )
    assert resp.status_code == 200, resp.text
    for at in (30 * S, 5 * M + 30 * S, 10 * M + 30 * S, 15 * M + 30 * S):
        env.post(alert("Backup"))
        env.tick(at)
    assert env.notes() == []
    assert env.find("Backup")["suppression"]["kind"] == "snoozed"
    env.post(alert("Backup"))
    env.tick(20 * M + 30 * S)  # the first re-check after the snooze ended (at 20m05s)
    assert [(n["kind"], n["title"]) for n in env.notes()] == [("page", "Backup")]


def test_snooze_after_a_page_holds_the_repeat_and_sends_no_resolved(start: Start) -> None:
    env = start(
        BASIC.replace("group_interval: 5m", "group_interval: 1m").replace(
            "repeat_interval: 4h", "repeat_interval: 10m"
        )
    )
    env.post(alert("Backup"))
    env.tick(30 * S)
    assert len(env.notes()) == 1
    a = env.find("Backup")
    env.at(M)
    resp = env.client.post(
        f"/api/v1/alerts/{a['id']}/snooze", json={"minutes": 30}, headers=env.h["responder"]
    )
    assert resp.status_code == 200, resp.text
    for minute in range(2, 31):
        env.post(alert("Backup"))
        env.tick(minute * M + 30 * S)
    # snoozed: no repeat at 10m30s/20m30s, and the alert is not reported as resolved
    assert [n["kind"] for n in env.notes()] == ["page"]
    env.post(alert("Backup"))
    env.tick(31 * M + 30 * S)
    assert [n["kind"] for n in env.notes()] == ["page", "page"]


ESCALATING = """
route:
  receiver: pager
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 10m
receivers:
  - name: pager
    channels: [pager-hook]
    escalation_policy: web
"""


def test_snoozed_alert_escalation_pages_again_when_the_snooze_ends(start: Start) -> None:
    env = start(ESCALATING)
    admin = env.h["admin"]
    resp = env.client.put(
        "/api/v1/users/bob/notification-rules",
        json=[{"after": "0m", "channel": "bob-app"}],
        headers=admin,
    )
    assert resp.status_code == 200, resp.text
    policy = {"team": "web", "levels": [{"delay": "10m", "targets": [{"user": "bob"}]}]}
    resp = env.client.put("/api/v1/escalation-policies/web", json=policy, headers=admin)
    assert resp.status_code == 200, resp.text
    env.post(alert("Backup"))
    env.tick(30 * S)
    assert sorted(n["channel"] for n in env.notes()) == ["bob-app", "pager-hook"]
    a = env.find("Backup")
    env.at(M)
    resp = env.client.post(
        f"/api/v1/alerts/{a['id']}/snooze", json={"minutes": 20}, headers=env.h["responder"]
    )
    assert resp.status_code == 200, resp.text
    for at in (5 * M + 30 * S, 10 * M + 30 * S, 15 * M + 30 * S, 20 * M + 30 * S):
        env.post(alert("Backup"))
        env.tick(at)
    escalations = env.client.get("/api/v1/escalations", headers=env.h["viewer"]).json()
    assert [e["status"] for e in escalations] == ["snoozed"]
    env.post(alert("Backup"))
    env.tick(21 * M)
    assert [n["channel"] for n in env.notes()].count("bob-app") == 2
