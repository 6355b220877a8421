"""A month of history built through the public API (catalog apply, pushed SLO events, alerts
paged by the pager tick, incidents declared and corrected, deploys), then every number of the
October scorecard of team payments checked against values worked out by hand below.

Timeline (UTC; payments owns checkout (tier 0) and ledger (tier 1), search owns search-api):

* SLO events: checkout 2 000 events, 15 bad (objective 99%); ledger 1 000 events, 2 bad
  (objective 99.9%); ledger-freshness none (no data).
* Shifts of payments-primary (weekly from Monday 2026-09-28, ana then ben) in October:
  ana 1-5, ben 5-12, ana 12-19, ben 19-26, ana 26-1 Nov: 5 shifts.
* Pages: Tue 6 Oct 14:01 ben (New York 10:01, working hours; two rules, one page) for A1;
  Tue 13 Oct 02:01 ana (Berlin 04:01, outside) for A2; Sat 17 Oct 12:01 ana (outside) for A3.
  A1 is acknowledged and attached to incident I1 (actionable); A2 never acknowledged; A3
  acknowledged without an incident.
* Incidents (started, detected, acknowledged, mitigated, resolved):
  I1 checkout SEV2: 6 Oct 13:50, 14:00, 14:10, 15:00, 16:00
  I2 ledger SEV1: 14 Oct 08:00, 08:30, 09:30, (12:00), 12:00 (resolve fills mitigated)
  I3 checkout SEV2 across the period end: 31 Oct 22:00, 22:20, then resolved 1 Nov 03:00
     (resolving fills acknowledged and mitigated with 03:00)
  I4 ledger SEV3 open, never acknowledged: 25 Oct 10:00, 10:05
  I0 checkout, 30 Sep 20:00 → 1 Oct 01:00: before the period, not counted
  I6 search-api, 9 Oct: other team
* Deploys: D1 checkout 6 Oct 13:30 (I1 started 20 min later: failed; D2 2 h later: rework),
  D2 checkout 6 Oct 15:30, D3 ledger 10 Oct rollback, D4 ledger 20 Oct failure,
  D5 checkout 31 Oct 23:00 (D6 on 1 Nov 01:00: rework), D7 search-api.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from ninefold.app import create_app
from ninefold.catalog.flows import apply_directory
from ninefold.cli.main import app as cli_app
from ninefold.config import Settings
from ninefold.core.clock import FrozenClock
from ninefold.oncall.jobs import run_with_state as pager_tick
from tests.conftest import make_token

OCT1 = datetime(2026, 10, 1, tzinfo=UTC)
M = 60.0
H = 3600.0

CATALOG = """
users:
  - {name: ana, timezone: Europe/Berlin, role: responder}
  - {name: ben, timezone: America/New_York, role: responder}
  - {name: cat, timezone: UTC, role: responder}
teams:
  - name: payments
    members: [{user: ana}, {user: ben}]
  - name: search
    members: [{user: cat}]
services:
  - {name: checkout, tier: 0, owner: payments}
  - {name: ledger, tier: 1, owner: payments}
  - {name: search-api, tier: 2, owner: search}
slos:
  - {name: checkout-availability, service: checkout, objective: 0.99, window: {rolling: 30d}, source: push, sli: {ratio: {}}}
  - {name: ledger-availability, service: ledger, objective: 0.999, window: {rolling: 30d}, source: push, sli: {ratio: {}}}
  - {name: ledger-freshness, service: ledger, objective: 0.95, window: {rolling: 30d}, source: push, sli: {ratio: {}}}
  - {name: search-availability, service: search-api, objective: 0.99, window: {rolling: 30d}, source: push, sli: {ratio: {}}}
notification_channels:
  - {name: ana-app, kind: webhook, target: "http://127.0.0.1:9/ana"}
  - {name: ben-app, kind: webhook, target: "http://127.0.0.1:9/ben"}
  - {name: ben-sms, kind: webhook, target: "http://127.0.0.1:9/ben-sms"}
notification_rules:
  - {user: ana, rules: [{after: 0m, channel: ana-app}]}
  - {user: ben, rules: [{after: 0m, channel: ben-app}, {after: 0m, channel: ben-sms}]}
schedules:
  - name: payments-primary
    team: payments
    time_zone: UTC
    layers:
      - {name: weekly, rotation: weekly, start: "2026-09-28T00:00:00Z", participants: [ana, ben]}
escalation_policies:
  - name: payments
    team: payments
    levels:
      - {delay: 30m, targets: [{schedule: payments-primary}]}
"""


def at(day: int, hour: int = 0, minute: int = 0, month: int = 10) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


class World:
    """The app, its frozen clock and API helpers."""

    def __init__(self, client: TestClient, clock: FrozenClock, headers: dict[str, Any]) -> None:
        self.client, self.clock, self.h = client, clock, headers

    def call(self, method: str, path: str, role: str = "responder", **kw: Any) -> Any:
        resp = self.client.request(method, f"/api/v1{path}", headers=self.h[role], **kw)
        assert resp.status_code < 300, resp.text
        return (
            resp.json()
            if resp.headers.get("content-type", "").startswith("application/json")
            else resp.text
        )

    def go(self, when: datetime) -> None:
        self.clock.set(when)

    def tick(self) -> None:
        pager_tick(self.client.app.state)  # type: ignore[attr-defined]

    def alert(self, name: str, service: str, dedup_key: str | None = None) -> int:
        body: dict[str, Any] = {
            "summary": name,
            "service": service,
            "severity": "critical",
            "labels": {"alertname": name},
        }
        if dedup_key:
            body["dedup_key"] = dedup_key
        return int(self.call("POST", "/alerts", json=body)["id"])

    def push(self, slo: str, when: datetime, total: float, bad: float) -> None:
        batch = {
            "batch_id": f"{slo}-{when:%m%d%H}",
            "events": [{"timestamp": when.isoformat(), "total": total, "bad": bad}],
        }
        self.call("POST", f"/slos/{slo}/events", json=batch)

    def act(self, incident: int, action: str, when: datetime) -> None:
        self.call("POST", f"/incidents/{incident}/{action}", json={"at": when.isoformat()})

    def declare(
        self, title: str, service: str, severity: str, started: datetime, detected: datetime
    ) -> int:
        body = {
            "title": title,
            "services": [service],
            "severity": severity,
            "started_at": started.isoformat(),
            "detected_at": detected.isoformat(),
        }
        return int(self.call("POST", "/incidents", json=body)["id"])


@pytest.fixture
def world(
    engine: Engine, session_factory: sessionmaker[Session], settings: Settings, tmp_path: Path
) -> Iterator[World]:
    (tmp_path / "catalog.yaml").write_text(CATALOG, encoding="utf-8")
    with session_factory() as s, s.begin():
        apply_directory(s, tmp_path, dry_run=False, now=OCT1)
    clock = FrozenClock(OCT1)
    headers = {
        role: {"Authorization": f"Bearer {make_token(session_factory, role, OCT1)}"}
        for role in ("admin", "responder", "viewer")
    }
    app = create_app(
        settings.model_copy(update={"engine_enabled": False}), engine=engine, clock=clock
    )
    with TestClient(app) as client:
        yield World(client, clock, headers)


def build_october(w: World) -> dict[str, int]:
    ids: dict[str, int] = {}
    w.go(at(3, 10, 30))
    w.push("checkout-availability", at(3, 10), 1000, 5)
    w.push("search-availability", at(3, 10), 100, 0)
    # A1 → page ben (two rules, one page), acknowledged, incident I1 declared from it
    w.go(at(6, 14))
    ids["A1"] = w.alert("CheckoutErrors", "checkout")
    w.go(at(6, 14, 1))
    w.tick()
    w.go(at(6, 14, 10))
    w.call("POST", f"/alerts/{ids['A1']}/acknowledge")
    w.go(at(6, 14, 12))
    ids["I1"] = int(
        w.call("POST", f"/alerts/{ids['A1']}/incident", json={"severity": "SEV2"})["id"]
    )
    w.go(at(6, 16, 30))
    w.call(
        "PATCH",
        f"/incidents/{ids['I1']}/timestamps",
        json={"started_at": at(6, 13, 50).isoformat(), "detected_at": at(6, 14).isoformat()},
    )
    w.act(ids["I1"], "acknowledge", at(6, 14, 10))
    w.act(ids["I1"], "mitigate", at(6, 15))
    w.act(ids["I1"], "resolve", at(6, 16))
    w.call("POST", f"/alerts/{ids['A1']}/resolve")
    w.tick()
    # another team's alert (no policy: nobody paged)
    w.go(at(8, 10))
    w.alert("SearchSlow", "search-api")
    w.go(at(8, 10, 1))
    w.tick()
    w.go(at(10, 9, 30))
    w.push("ledger-availability", at(10, 9), 1000, 2)
    # A2 → page ana at night in Berlin, never acknowledged
    w.go(at(13, 2))
    ids["A2"] = w.alert("LedgerLag", "ledger")
    w.go(at(13, 2, 1))
    w.tick()
    w.go(at(13, 2, 20))
    w.call("POST", f"/alerts/{ids['A2']}/resolve")
    w.tick()
    # I2 declared later with its past timestamps
    w.go(at(14, 12, 30))
    ids["I2"] = w.declare("Ledger down", "ledger", "SEV1", at(14, 8), at(14, 8, 30))
    w.act(ids["I2"], "acknowledge", at(14, 9, 30))
    w.act(ids["I2"], "resolve", at(14, 12))
    # A3 → page ana on a Saturday, acknowledged, no incident
    w.go(at(17, 12))
    ids["A3"] = w.alert("CheckoutErrors", "checkout")
    w.go(at(17, 12, 1))
    w.tick()
    w.go(at(17, 12, 5))
    w.call("POST", f"/alerts/{ids['A3']}/acknowledge")
    w.go(at(17, 12, 30))
    w.call("POST", f"/alerts/{ids['A3']}/resolve")
    w.tick()
    w.go(at(20, 10, 30))
    w.push("checkout-availability", at(20, 10), 1000, 10)
    # a flapping alert: fired and resolved five times within its group's 30 s wait (never paged)
    for k in range(5):
        w.go(at(22, 10) + timedelta(seconds=5 * k))
        a = w.alert("DiskFlap", "ledger", dedup_key="disk-flap")
        w.call("POST", f"/alerts/{a}/resolve")
    # I4 open, never acknowledged
    w.go(at(25, 10, 10))
    ids["I4"] = w.declare("Ledger slow", "ledger", "SEV3", at(25, 10), at(25, 10, 5))
    # I3 across the period end; I0 before the period; I6 another team's
    w.go(at(1, 3, 30, month=11))
    ids["I3"] = w.declare("Checkout errors", "checkout", "SEV2", at(31, 22), at(31, 22, 20))
    w.act(ids["I3"], "resolve", at(1, 3, month=11))
    ids["I0"] = w.declare("Old", "checkout", "SEV3", at(30, 20, month=9), at(30, 20, 10, month=9))
    w.act(ids["I0"], "resolve", at(1, 1))
    ids["I6"] = w.declare("Search", "search-api", "SEV2", at(9, 10), at(9, 10))
    w.act(ids["I6"], "resolve", at(9, 11))
    # deploys recorded afterwards with their times
    w.go(at(2, 0, 0, month=11))
    hour = timedelta(hours=1)
    for service, when, outcome, lead in (
        ("checkout", at(6, 13, 30), "success", 2 * hour),
        ("checkout", at(6, 15, 30), "success", 24 * hour),
        ("ledger", at(10, 9), "rollback", None),
        ("ledger", at(20, 9), "failure", 6 * hour),
        ("checkout", at(31, 23), "success", None),
        ("checkout", at(1, 1, month=11), "success", hour),
        ("search-api", at(15, 9), "success", hour),
    ):
        body = {
            "service": service,
            "version": f"v{when:%m%d%H%M}",
            "commit": "abc123",
            "deployed_at": when.isoformat(),
            "outcome": outcome,
        }
        if lead is not None:
            body["committed_at"] = (when - lead).isoformat()
        w.call("POST", "/deployments", json=body)
    late = {
        "service": "checkout",
        "version": "x",
        "deployed_at": at(6).isoformat(),
        "committed_at": at(7).isoformat(),
    }
    resp = w.client.post("/api/v1/deployments", json=late, headers=w.h["responder"])
    assert resp.status_code in (400, 422)
    assert "committed_at" in resp.text
    return ids


def summary(
    s: dict[str, Any],
    count: int,
    mean: float | None,
    median: float | None,
    p90: float | None,
    max_: float | None,
) -> None:
    assert s["count"] == count
    for key, want in (("mean", mean), ("median", median), ("p90", p90), ("max", max_)):
        if want is None:
            assert s[key] is None, key
        else:
            assert s[key] == pytest.approx(want), key


def test_october_scorecard_of_payments(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_october(world)
    card = world.call(
        "GET", "/reports/scorecard", "viewer", params={"period": "2026-10", "team": "payments"}
    )
    assert card["period"]["start"] == "2026-10-01T00:00:00Z"
    assert card["buckets"] == ["W40", "W41", "W42", "W43", "W44"]

    # --- SLOs: checkout 1985/2000 met, ledger 998/1000 missed, freshness no data
    slo = card["slo"]
    lines = {s["name"]: s for s in slo["slos"]}
    assert set(lines) == {"checkout-availability", "ledger-availability", "ledger-freshness"}
    assert lines["checkout-availability"]["sli"] == pytest.approx(0.9925)
    assert lines["checkout-availability"]["met"] is True
    assert lines["checkout-availability"]["budget_consumed"] == pytest.approx(0.75)
    assert lines["ledger-availability"]["sli"] == pytest.approx(0.998)
    assert lines["ledger-availability"]["met"] is False
    assert lines["ledger-availability"]["budget_consumed"] == pytest.approx(2.0)
    assert lines["ledger-freshness"]["sli"] is None
    assert lines["ledger-freshness"]["met"] is None
    assert slo["overall"] == {
        "group": "all",
        "slos": 3,
        "with_data": 2,
        "met": 1,
        "missed": 1,
        "attainment": 0.5,
    }
    assert {a["group"]: a["attainment"] for a in slo["by_tier"]} == {"0": 1.0, "1": 0.0}
    assert {a["group"]: a["attainment"] for a in slo["by_service"]} == {
        "checkout": 1.0,
        "ledger": 0.0,
    }
    assert slo["missed"] == ["ledger-availability"]
    assert slo["no_data"] == ["ledger-freshness"]
    burn = {s["name"]: s["values"] for s in slo["burn"]}
    # checkout: 5 bad in W40 (0.25 of the 20-event budget), 10 more in W43 → 0.75
    assert burn["checkout-availability"] == pytest.approx([0.25, 0.25, 0.25, 0.75, 0.75])
    assert burn["ledger-availability"] == pytest.approx([0.0, 2.0, 2.0, 2.0, 2.0])

    # --- incidents I1, I2, I3, I4
    inc = card["incidents"]
    assert inc["total"] == 4
    assert inc["open"] == 1
    assert inc["unacknowledged"] == 1
    assert inc["by_severity"] == {"SEV1": 1, "SEV2": 2, "SEV3": 1}
    assert inc["by_service"] == {"checkout": 2, "ledger": 2}
    assert inc["by_team"] == {"payments": 4}
    summary(inc["time_to_detect"], 4, 16.25 * M, 15 * M, 27 * M, 30 * M)  # 10, 30, 20, 5 min
    summary(inc["time_to_acknowledge"], 3, 350 / 3 * M, 60 * M, 236 * M, 280 * M)  # 10, 60, 280
    summary(inc["time_to_mitigate"], 3, 610 / 3 * M, 240 * M, 288 * M, 300 * M)  # 70, 240, 300
    summary(inc["time_to_resolve"], 3, 670 / 3 * M, 240 * M, 288 * M, 300 * M)  # 130, 240, 300
    tbf = inc["time_between_failures"]
    checkout_gap = (at(31, 22) - at(6, 13, 50)).total_seconds()
    ledger_gap = (at(25, 10) - at(14, 8)).total_seconds()
    summary(tbf["checkout"], 1, checkout_gap, checkout_gap, checkout_gap, checkout_gap)
    summary(tbf["ledger"], 1, ledger_gap, ledger_gap, ledger_gap, ledger_gap)
    assert [s["values"] for s in inc["severity_trend"]] == [
        [0, 0, 1, 0, 0],  # SEV1: I2 in W42
        [0, 1, 0, 0, 1],  # SEV2: I1 in W41, I3 in W44
        [0, 0, 0, 1, 0],  # SEV3: I4 in W43
    ]
    mttr = next(s["values"] for s in inc["mttx_trend"] if s["name"] == "resolve")
    assert mttr == pytest.approx([None, 130 / 60, 4.0, None, 5.0])
    # two resolved incidents needed a postmortem, none was written; no action items, no repeats
    assert inc["postmortem_completion"] == {"numerator": 0, "denominator": 2, "rate": 0.0}
    assert inc["action_items_on_time"] == {"numerator": 0, "denominator": 0, "rate": None}
    assert inc["repeat_available"] is True
    assert inc["repeat_rate"] == 0.0

    # --- on-call: pages ben (A1), ana (A2), ana (A3) over 5 shifts
    oc = card["oncall"]
    assert oc["pages"] == 3
    assert oc["shifts"] == 5
    summary(oc["pages_per_shift"], 5, 0.6, 0.0, 1.6, 2.0)  # 0, 1, 2, 0, 0
    assert oc["pages_outside_shifts"] == 0
    assert [(s["user"], s["pages"]) for s in oc["busiest_shifts"]] == [("ana", 2), ("ben", 1)]
    assert oc["pages_per_person"] == {"ana": 2, "ben": 1}
    assert oc["outside_working_hours"] == 2
    assert oc["outside_working_hours_rate"] == pytest.approx(2 / 3)
    assert oc["actionability"] == pytest.approx(1 / 3)
    assert [(n["alertname"], n["service"], n["count"]) for n in oc["noisiest"]] == [
        ("DiskFlap", "ledger", 5),
        ("CheckoutErrors", "checkout", 2),
        ("LedgerLag", "ledger", 1),
    ]
    assert [(n["alertname"], n["count"]) for n in oc["flapping"]] == [("DiskFlap", 5)]
    assert oc["pages_trend"][0]["values"] == [0, 1, 2, 0, 0]

    # --- DORA: D1..D5
    d = card["dora"]
    assert d["deploys"] == 5
    assert d["deploys_per_day"] == pytest.approx(5 / 31)
    assert d["per_service_median_per_day"] == pytest.approx(2.5 / 31)
    assert d["without_commit_time"] == 2  # D3, D5
    summary(d["lead_time"], 3, 32 / 3 * H, 6 * H, 20.4 * H, 24 * H)  # 2, 24, 6 hours
    assert d["failed_deploys"] == 3  # D1 (I1 within 24 h), D3 rollback, D4 failure
    assert d["change_failure_rate"] == pytest.approx(0.6)
    summary(d["time_to_restore"], 1, 130 * M, 130 * M, 130 * M, 130 * M)  # I1
    assert d["restore_open"] == 0
    assert d["rework_deploys"] == 3  # D1 (D2 2 h later), D3 rollback, D5 (D6 2 h later)
    assert d["rework_rate"] == pytest.approx(0.6)
    assert d["levels"] == {
        "deployment_frequency": "medium",
        "lead_time": "elite",
        "change_failure_rate": "low",
        "time_to_restore": "high",
    }
    assert "2024" in d["levels_source"]
    assert [s["values"] for s in d["trend"]] == [
        [0, 3, 0, 1, 1],
        [None, 2 / 3, None, 1.0, 0.0],
        [None, 13.0, None, 6.0, None],  # median lead time (h): W41 D1 2 h and D2 24 h
    ]
    assert not any("lead time" in n for n in card["notes"])

    # --- the whole organisation adds search: I6, D7, its SLO and alert
    org = world.call("GET", "/reports/scorecard", "viewer", params={"period": "2026-10"})
    assert org["incidents"]["total"] == 5
    assert org["incidents"]["by_team"] == {"payments": 4, "search": 1}
    assert org["dora"]["deploys"] == 6
    assert org["slo"]["overall"]["met"] == 2
    assert org["oncall"]["pages"] == 3
    assert org["oncall"]["shifts"] == 5
    tier = world.call(
        "GET", "/reports/scorecard", "viewer", params={"period": "2026-10", "tier": 0}
    )
    assert tier["incidents"]["total"] == 2
    assert tier["dora"]["deploys"] == 3

    # --- renderings: API html/md/csv, CLI with a file, gauges at /metrics
    html = world.call(
        "GET",
        "/reports/scorecard",
        "viewer",
        params={"period": "2026-10", "team": "payments", "format": "html"},
    )
    assert html.startswith("<!DOCTYPE html>")
    assert html.count("<svg") == 8
    assert "<script" not in html
    md = world.call(
        "GET",
        "/reports/scorecard",
        "viewer",
        params={"period": "2026-10", "team": "payments", "format": "md"},
    )
    assert "Attainment: **50.0%**" in md
    csv_text = world.call(
        "GET",
        "/reports/scorecard",
        "viewer",
        params={"period": "2026-10", "team": "payments", "format": "csv"},
    )
    assert "dora,change_failure_rate,,0.6\n" in csv_text
    missing = world.client.get(
        "/api/v1/reports/scorecard", params={"team": "nope"}, headers=world.h["viewer"]
    )
    assert missing.status_code == 404
    bad = world.client.get(
        "/api/v1/reports/scorecard", params={"period": "2026-13"}, headers=world.h["viewer"]
    )
    assert bad.status_code in (400, 422)
    assert world.client.get("/api/v1/reports/scorecard").status_code == 401

    metrics = world.client.get("/metrics").text
    assert 'ninefold_report_incidents{team="payments"}' in metrics
    assert 'ninefold_report_change_failure_ratio{team="payments"}' in metrics

    db_url = world.client.app.state.settings.database_url  # type: ignore[attr-defined]
    monkeypatch.setenv("NINEFOLD_DATABASE_URL", db_url)
    out = tmp_path / "report.json"
    result = CliRunner().invoke(
        cli_app,
        [
            "report",
            "--period",
            "2026-10",
            "--team",
            "payments",
            "--format",
            "json",
            "--output",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert '"change_failure_rate": 0.6' in out.read_text()
    for fmt in ("html", "md", "csv"):
        result = CliRunner().invoke(
            cli_app, ["report", "--period", "2026-10", "--team", "payments", "--format", fmt]
        )
        assert result.exit_code == 0, result.output
    monkeypatch.setattr("ninefold.report.pdf.browser", lambda: None)
    result = CliRunner().invoke(
        cli_app,
        ["report", "--period", "2026-10", "--format", "pdf", "--output", str(tmp_path / "r.pdf")],
    )
    assert result.exit_code == 1
    assert "needs Chromium" in result.output
