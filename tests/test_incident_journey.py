"""The whole incident journey end to end through the public HTTP API, with a frozen clock, on
SQLite and PostgreSQL (issue 4, section 5).

An SLO on ``api`` (owned by team web, whose members have personal notification rules) burns from
pushed events → Alertmanager fires through an integration key → an incident is declared from
the alert → roles assigned (pages queued to each person's channel) → status updates posted and
published → the public status page, read with an independent HTTP client from a real server,
shows the component state and the published text and nothing private → mitigated → resolved →
a postmortem draft with numbers computed here by hand → action items → the clock passes the due
date → the overdue reminder is queued exactly once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ninefold.app import create_app
from ninefold.catalog.flows import apply_directory
from ninefold.config import Settings
from ninefold.core.clock import FrozenClock
from ninefold.postmortem.jobs import run_with_state as postmortem_tick
from tests.conftest import T0, make_token
from tests.live import serve

H = timedelta(hours=1)
M = timedelta(minutes=1)
D = timedelta(days=1)

CATALOG = """\
users:
  - name: alice
    display_name: Alice Marker-Commander
  - name: bob
    display_name: Bob Marker-Comms
teams:
  - name: web
    members:
      - user: alice
      - user: bob
services:
  - name: api
    owner: web
  - name: billing
    owner: web
slos:
  - name: api-availability
    service: api
    objective: 0.99
    window: {rolling: 30d}
    source: push
    sli:
      ratio: {}
status_page:
  title: Acme status
  components:
    - name: API
      services: [api]
    - name: Billing
      services: [billing]
"""

# Strings that exist only in private places; none may reach a public page.
PRIVATE = (
    "MARKER-LABEL",  # an alert label value
    "MARKER-ALERT-SUMMARY",  # the alert's annotation
    "MARKER-NOTE",  # an internal timeline note
    "MARKER-UNPUBLISHED",  # an update kept off the status page
    "MARKER-SUMMARY",  # the incident's internal summary
    "Marker-Commander",  # responders' display names
    "Marker-Comms",
    "alice",
    "bob",
    "commander",  # role names
    "communications",
)


def iso(at: Any) -> str:
    return str(at.isoformat().replace("+00:00", "Z"))


class Journey:
    """The app under test: TestClient for responders, helpers for the outbox."""

    def __init__(self, app: FastAPI, client: TestClient, clock: FrozenClock, headers: Any) -> None:
        self.app, self.client, self.clock, self.h = app, client, clock, headers

    def call(self, method: str, path: str, role: str = "responder", **kw: Any) -> Any:
        resp = self.client.request(method, f"/api/v1{path}", headers=self.h[role], **kw)
        assert resp.status_code < 300, resp.text
        return resp.json() if resp.content else None

    def at(self, when: Any) -> None:
        self.clock.set(when)

    def outbox(self) -> list[dict[str, Any]]:
        items = self.call("GET", "/notifications", "admin", params={"limit": 200})["items"]
        return sorted(items, key=lambda i: i["id"])


@pytest.fixture
def journey(
    engine: Engine,
    session_factory: sessionmaker[Session],
    settings: Settings,
    clock: FrozenClock,
    tmp_path: Path,
) -> Iterator[Journey]:
    config = tmp_path / "catalog"
    config.mkdir()
    (config / "catalog.yaml").write_text(CATALOG)
    with session_factory() as s, s.begin():
        apply_directory(s, config, dry_run=False, now=T0 - 30 * D)
    headers = {
        role: {"Authorization": f"Bearer {make_token(session_factory, role)}"}
        for role in ("admin", "responder", "viewer")
    }
    app = create_app(
        settings.model_copy(update={"engine_enabled": False, "public_url": "https://x.test"}),
        engine=engine,
        clock=clock,
    )
    with TestClient(app) as client:
        j = Journey(app, client, clock, headers)
        for ch in ("alice-app", "bob-app", "bob-phone", "status-room"):
            body = {"name": ch, "kind": "webhook", "target": f"http://127.0.0.1:9/{ch}"}
            j.call("POST", "/notification-channels", "admin", json=body)
        j.call(
            "PUT",
            "/users/alice/notification-rules",
            "admin",
            json=[{"after": "0m", "channel": "alice-app"}],
        )
        j.call(
            "PUT",
            "/users/bob/notification-rules",
            "admin",
            json=[{"after": "0m", "channel": "bob-app"}, {"after": "5m", "channel": "bob-phone"}],
        )
        yield j


def _public(http: httpx.Client, path: str) -> Any:
    resp = http.get(path)
    assert resp.status_code == 200, (path, resp.text)
    return resp.json()


def _no_leaks(http: httpx.Client) -> str:
    """Every public page, checked for private markers; returns the concatenated bodies."""
    bodies = []
    for path in (
        "/status",
        "/status/history.atom",
        "/status/api/v2/summary.json",
        "/status/api/v2/incidents.json",
        "/status/api/v2/incidents/unresolved.json",
        "/status/api/v2/components.json",
    ):
        resp = http.get(path)
        assert resp.status_code == 200, path
        assert "authorization" not in {k.lower() for k in resp.request.headers}  # no token
        for marker in PRIVATE:
            assert marker.lower() not in resp.text.lower(), (path, marker)
        bodies.append(resp.text)
    return "\n".join(bodies)


def test_alert_to_overdue_action_item(journey: Journey) -> None:
    j = journey
    app = j.app

    # --- the SLO burns: events pushed by hand ---------------------------------------------------
    # api-availability, 99 % over a rolling 30 days. Impact starts at 01:00.
    #   T0-10d   200,000 events, 100 bad   (in the window, before the incident)
    #   00:50     10,000 events,  20 bad   (in the window, before the incident)
    #   01:10     20,000 events, 600 bad   (during)
    #   01:30     20,000 events, 300 bad   (during)
    # Window ending at resolve (01:50): 250,000 events → budget 1 % = 2,500 bad events.
    # Burned during the incident (01:00 → 01:50): 900 → 900 / 2,500 = 36 % of the budget.
    j.at(T0 + H + 35 * M)
    j.call(
        "POST",
        "/slos/api-availability/events",
        json={
            "batch_id": "journey-1",
            "events": [
                {"timestamp": iso(t), "total": total, "bad": bad}
                for t, total, bad in (
                    (T0 - 10 * D, 200_000, 100),
                    (T0 + 50 * M, 10_000, 20),
                    (T0 + H + 10 * M, 20_000, 600),
                    (T0 + H + 30 * M, 20_000, 300),
                )
            ],
        },
    )

    # the SLO engine sees the same numbers: 100 + 20 + 900 bad events of a 2,500 budget
    slo = j.call(
        "GET", "/slos/api-availability/status", "viewer", params={"at": iso(T0 + H + 50 * M)}
    )
    assert (slo["total"], slo["good"]) == (250_000, 250_000 - 1_020)
    assert slo["error_budget_total"] == pytest.approx(2_500)
    assert slo["error_budget_consumed"] == pytest.approx(1_020)
    assert slo["error_budget_consumed_fraction"] == pytest.approx(1_020 / 2_500)
    assert slo["objective_met"] is True  # 99.592 % ≥ 99 %

    # --- the alert fires at 01:04 through Alertmanager's v2 API with an integration key ---------
    j.at(T0 + H + 4 * M)
    key = j.call(
        "POST",
        "/integrations",
        "admin",
        json={"name": "prom-main", "kind": "alertmanager", "service": "api"},
    )["key"]
    resp = j.client.post(
        f"/integrations/{key}/api/v2/alerts",
        json=[
            {
                "labels": {
                    "alertname": "CheckoutErrors",
                    "severity": "critical",
                    "secret_label": "MARKER-LABEL",
                },
                "annotations": {"summary": "MARKER-ALERT-SUMMARY 5xx on checkout"},
                "startsAt": iso(T0 + H + 4 * M),
            }
        ],
    )
    assert resp.status_code == 200, resp.text
    (alert,) = j.call("GET", "/alerts", "viewer", params={"service": "api"})["items"]
    assert alert["labels"]["secret_label"] == "MARKER-LABEL"

    # --- declared from the alert at 01:06; impact began at 01:00 ------------------------------
    j.at(T0 + H + 6 * M)
    inc = j.call(
        "POST",
        f"/alerts/{alert['id']}/incident",
        json={"severity": "SEV2", "title": "Checkout API errors", "summary": "MARKER-SUMMARY"},
    )
    iid = inc["id"]
    assert (inc["status"], inc["severity"], inc["services"]) == ("open", "SEV2", ["api"])
    assert [a["id"] for a in inc["alerts"]] == [alert["id"]]
    assert inc["detected_at"] == iso(T0 + H + 4 * M)  # when the alert fired
    inc = j.call("PATCH", f"/incidents/{iid}/timestamps", json={"started_at": iso(T0 + H)})
    assert inc["started_at"] == iso(T0 + H)

    # --- roles: each assignment pages the person through their immediate rules ---------------
    j.at(T0 + H + 7 * M)
    before = len(j.outbox())
    j.call("PUT", f"/incidents/{iid}/roles/commander", json={"user": "alice"})
    inc = j.call("PUT", f"/incidents/{iid}/roles/communications", json={"user": "bob"})
    assert {r["role"]: r["user"] for r in inc["roles"]} == {
        "commander": "alice",
        "communications": "bob",
    }
    pages = [(n["notification"]["kind"], n["channel"]) for n in j.outbox()[before:]]
    # bob's 5-minute phone rule is not scheduled for incident pages
    assert pages == [("page", "alice-app"), ("page", "bob-app")]

    j.at(T0 + H + 9 * M)
    j.call("POST", f"/incidents/{iid}/acknowledge")

    # --- internal note, an unpublished update, then a published one ---------------------------
    j.at(T0 + H + 12 * M)
    j.call("POST", f"/incidents/{iid}/timeline", json={"message": "MARKER-NOTE db password"})
    j.call(
        "POST",
        f"/incidents/{iid}/updates",
        json={
            "public_status": "identified",
            "message": "MARKER-UNPUBLISHED bad config",
            "publish": False,
            "channels": [],
        },
    )
    published = "Some checkout requests fail. We are investigating."
    upd = j.call(
        "POST",
        f"/incidents/{iid}/updates",
        json={"public_status": "investigating", "message": published, "channels": ["status-room"]},
    )
    assert upd["published"] is True
    assert j.outbox()[-1]["channel"] == "status-room"
    assert published in j.outbox()[-1]["notification"]["summary"]
    # responders do see the private detail
    internal = json.dumps(j.call("GET", f"/incidents/{iid}", "viewer"))
    assert "MARKER-UNPUBLISHED" in internal
    assert "alice" in internal

    with serve(app) as base, httpx.Client(base_url=base, timeout=10) as http:
        # --- the public page, read from the real server ------------------------------------------
        summary = _public(http, "/status/api/v2/summary.json")
        states = {c["name"]: c["status"] for c in summary["components"]}
        assert states == {"API": "partial_outage", "Billing": "operational"}  # SEV2 → partial
        assert summary["status"] == {"indicator": "major", "description": "Partial System Outage"}
        (pub,) = summary["incidents"]
        assert (pub["name"], pub["status"], pub["impact"]) == (
            "Checkout API errors",
            "investigating",
            "major",
        )
        assert [c["name"] for c in pub["components"]] == ["API"]
        assert [(u["status"], u["body"]) for u in pub["incident_updates"]] == [
            ("investigating", published)
        ]
        (listed,) = _public(http, "/status/api/v2/incidents.json")["incidents"]
        assert listed["id"] == pub["id"]
        assert listed["incident_updates"][0]["body"] == published
        assert listed["started_at"] == iso(T0 + H)
        text = _no_leaks(http)
        assert "Checkout API errors" in text
        assert published in text
        html = http.get("/status").text
        assert "Checkout API errors" in html
        assert published in html

        # --- mitigated at 01:35, monitoring published ---------------------------------------------
        j.at(T0 + H + 35 * M)
        j.call("POST", f"/incidents/{iid}/mitigate")
        monitoring = "A fix is in place; we are watching the error rate."
        j.call(
            "POST",
            f"/incidents/{iid}/updates",
            json={"public_status": "monitoring", "message": monitoring, "channels": []},
        )
        summary = _public(http, "/status/api/v2/summary.json")
        assert {c["name"]: c["status"] for c in summary["components"]}["API"] == (
            "degraded_performance"
        )
        (pub,) = summary["incidents"]
        assert pub["status"] == "monitoring"
        assert pub["monitoring_at"] == iso(T0 + H + 35 * M)
        assert [u["body"] for u in pub["incident_updates"]] == [monitoring, published]

        # --- resolved at 01:50 --------------------------------------------------------------------
        j.at(T0 + H + 50 * M)
        inc = j.call("POST", f"/incidents/{iid}/resolve")
        assert (inc["status"], inc["public_status"]) == ("resolved", "resolved")
        summary = _public(http, "/status/api/v2/summary.json")
        assert {c["status"] for c in summary["components"]} == {"operational"}
        assert summary["status"]["indicator"] == "none"
        assert summary["incidents"] == []
        (done,) = _public(http, "/status/api/v2/incidents.json")["incidents"]
        assert (done["status"], done["resolved_at"]) == ("resolved", iso(T0 + H + 50 * M))
        _no_leaks(http)

    # --- the postmortem draft, with numbers computed by hand -----------------------------------
    pm = j.call("GET", f"/incidents/{iid}/postmortem", "viewer")
    assert pm["status"] == "draft"
    assert pm["reason"] == "severity SEV2 always gets a postmortem"
    (budget,) = pm["facts"]["budgets"]
    assert budget["slo"] == "api-availability"
    assert budget["bad"] == 900
    assert budget["budget"] == pytest.approx(2_500)
    assert budget["consumed_fraction"] == pytest.approx(900 / 2_500)
    # started 01:00, detected 01:04, acknowledged 01:09, mitigated 01:35, resolved 01:50
    timings = {t["label"]: t["seconds"] for t in pm["facts"]["timings"]}
    assert timings == {
        "Time to detect": 4 * 60,
        "Time to acknowledge": 5 * 60,
        "Time to mitigate": 31 * 60,
        "Time to resolve": 46 * 60,
        "Impact duration": 50 * 60,
    }
    sections = {s["key"]: s["body"] for s in pm["sections"]}
    impact = sections["impact"]
    assert "Duration of impact (started → resolved): 50m" in impact
    assert "Affected services: api" in impact
    assert "(900 bad events of a 2,500 budget)" in impact
    assert "Alerts attached: 1; pages sent: 2" in impact
    assert "| Time to detect | started → detected | 4m |" in sections["detection_and_response"]

    # --- action items ---------------------------------------------------------------------------
    j.at(T0 + 2 * H)
    late = j.call(
        "POST",
        "/action-items",
        json={
            "title": "Canary config pushes",
            "owner": "alice",
            "due_date": "2026-11-05",
            "priority": "high",
            "postmortem_id": pm["id"],
        },
    )
    assert (late["incident_id"], late["team"], late["priority"], late["overdue"]) == (
        iid,
        "web",
        "P2",
        False,
    )
    on_time = j.call(
        "POST",
        "/action-items",
        json={"title": "Alert on 5xx ratio", "owner": "bob", "due_date": "2026-11-05"},
    )
    later = j.call(
        "POST",
        "/action-items",
        json={"title": "Runbook", "owner": "bob", "incident_id": iid, "due_date": "2026-12-01"},
    )
    j.at(T0 + 3 * D)
    j.call("PATCH", f"/action-items/{on_time['id']}", json={"status": "done"})
    pm = j.call("GET", f"/postmortems/{pm['id']}", "viewer")
    items_text = next(s["body"] for s in pm["sections"] if s["key"] == "action_items")
    assert f"#{late['id']} Canary config pushes — alice, P2, due 2026-11-05 (open)" in items_text

    def reminders() -> list[dict[str, Any]]:
        return [n for n in j.outbox() if "action-item" in n["notification"]["idempotency_key"]]

    # due today is not overdue yet
    j.at(T0 + 4 * D + 12 * H)  # 2026-11-05 12:00
    assert postmortem_tick(app.state)["reminders"] == 0
    assert reminders() == []

    # two days past the due date: one reminder to alice's channel, however often the job runs
    j.at(T0 + 6 * D + 9 * H)  # 2026-11-07 09:00
    assert postmortem_tick(app.state)["reminders"] == 1
    assert postmortem_tick(app.state)["reminders"] == 0
    (reminder,) = reminders()
    assert reminder["channel"] == "alice-app"
    assert reminder["notification"]["idempotency_key"].startswith(
        f"action-item-{late['id']}:overdue:2026-11-07:alice"
    )
    assert (
        reminder["notification"]["title"]
        == f"Overdue action item #{late['id']}: Canary config pushes"
    )
    assert "was due 2026-11-05" in reminder["notification"]["summary"]
    overdue = j.call("GET", "/action-items", "viewer", params={"overdue": True})["items"]
    assert [i["id"] for i in overdue] == [late["id"]]
    assert later["id"] not in {i["id"] for i in overdue}
