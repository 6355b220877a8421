"""``ninefold oncall``, ``ninefold schedule …`` and ``ninefold escalation list`` on a catalog
applied with ``ninefold apply``."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from ninefold.alert.models import AlertGroup
from ninefold.cli.main import app
from ninefold.oncall import store as oncall_store
from ninefold.oncall.models import EscalationRow

runner = CliRunner()
NOW = datetime(2026, 11, 1, tzinfo=UTC)

CATALOG = """\
users:
  - name: alice
  - name: bob
  - name: carol
teams:
  - name: payments
    members: [{user: alice}, {user: bob}]
  - name: platform
    members: [{user: carol}]
schedules:
  - name: payments-primary
    team: payments
    time_zone: Europe/Berlin
    layers:
      - name: weekly
        rotation: weekly
        start: 2026-01-05T09:00:00+01:00
        handoff: "09:00"
        handoff_weekday: monday
        participants: [alice, bob]
  - name: platform-primary
    team: platform
    layers:
      - name: office-hours
        rotation: daily
        start: 2026-01-05T00:00:00Z
        participants: [carol]
        restrictions:
          - {type: daily, start: "09:00", end: "17:00", weekdays: [mon, tue, wed, thu, fri]}
escalation_policies:
  - name: payments
    team: payments
    levels:
      - delay: 10m
        targets: [{schedule: payments-primary}]
"""


@pytest.fixture
def catalog_db(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("NINEFOLD_DATABASE_URL", db_url)
    org = tmp_path / "org"
    org.mkdir()
    (org / "org.yaml").write_text(textwrap.dedent(CATALOG))
    applied = runner.invoke(app, ["apply", str(org)])
    assert applied.exit_code == 0, applied.output
    assert "create │ schedule          │ payments-primary" in applied.output
    assert "create │ escalation_policy │ payments" in applied.output
    return db_url


def invoke_json(*args: str) -> Any:
    result = runner.invoke(app, [*args, "-o", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_oncall_shows_who_is_on_call_per_schedule(catalog_db: str) -> None:
    # Monday 2026-11-02 10:00 UTC: week 43 of the payments rotation is bob's (handoff 09:00
    # Berlin = 08:00 UTC); carol is inside her 09:00-17:00 UTC weekday window
    assert invoke_json("oncall", "--at", "2026-11-02T10:00:00Z") == [
        {
            "schedule": "payments-primary",
            "team": "payments",
            "time_zone": "Europe/Berlin",
            "at": "2026-11-02T10:00:00Z",
            "users": ["bob"],
            "until": "2026-11-09T08:00:00Z",
        },
        {
            "schedule": "platform-primary",
            "team": "platform",
            "time_zone": "UTC",
            "at": "2026-11-02T10:00:00Z",
            "users": ["carol"],
            "until": "2026-11-02T17:00:00Z",
        },
    ]
    night = invoke_json("oncall", "--at", "2026-11-02T07:59:00Z", "--team", "platform")
    assert night == [
        {
            "schedule": "platform-primary",
            "team": "platform",
            "time_zone": "UTC",
            "at": "2026-11-02T07:59:00Z",
            "users": [],
            "until": None,
        }
    ]
    table = runner.invoke(app, ["oncall", "--at", "2026-11-02T07:59:00Z"])
    assert table.exit_code == 0, table.output
    assert "payments-primary │ payments │ alice   │ 2026-11-02 09:00 CET" in table.output
    assert "platform-primary │ platform │ nobody  │ —" in table.output


def test_oncall_errors(catalog_db: str) -> None:
    bad = runner.invoke(app, ["oncall", "--at", "next monday"])
    assert bad.exit_code == 2
    assert "RFC 3339" in bad.output
    missing = runner.invoke(app, ["oncall", "--team", "ghosts"])
    assert missing.exit_code == 1
    assert "team 'ghosts' not found" in missing.output
    unknown = runner.invoke(app, ["schedule", "show", "nope"])
    assert unknown.exit_code == 1
    assert "schedule 'nope' not found" in unknown.output


def test_schedule_list_show_and_shifts(catalog_db: str) -> None:
    listed = invoke_json("schedule", "list")
    assert [(s["name"], s["team"], s["managed"]) for s in listed] == [
        ("payments-primary", "payments", True),
        ("platform-primary", "platform", True),
    ]
    shown = runner.invoke(app, ["schedule", "show", "payments-primary"])
    assert shown.exit_code == 0, shown.output
    assert "Europe/Berlin" in shown.output
    assert "weekly" in shown.output
    assert "alice, bob" in shown.output
    shifts = invoke_json(
        "schedule", "shifts", "payments-primary", "--start", "2026-11-02T00:00:00Z", "--days", "14"
    )
    assert shifts == [
        {
            "user": "alice",
            "start": "2026-11-02T00:00:00Z",
            "end": "2026-11-02T08:00:00Z",
            "source": "weekly",
        },
        {
            "user": "bob",
            "start": "2026-11-02T08:00:00Z",
            "end": "2026-11-09T08:00:00Z",
            "source": "weekly",
        },
        {
            "user": "alice",
            "start": "2026-11-09T08:00:00Z",
            "end": "2026-11-16T00:00:00Z",
            "source": "weekly",
        },
    ]
    mine = invoke_json(
        "schedule",
        "shifts",
        "payments-primary",
        "--user",
        "bob",
        "--start",
        "2026-11-02T00:00:00Z",
        "--days",
        "21",
    )
    assert [(s["start"], s["end"]) for s in mine] == [
        ("2026-11-02T08:00:00Z", "2026-11-09T08:00:00Z"),
        ("2026-11-16T08:00:00Z", "2026-11-23T08:00:00Z"),
    ]
    table = runner.invoke(
        app, ["schedule", "shifts", "payments-primary", "--start", "2026-11-02T00:00:00Z"]
    )
    assert "bob   │ 2026-11-02 09:00 CET │ 2026-11-09 09:00 CET │ 168" in table.output


def test_override_takes_the_schedule(catalog_db: str) -> None:
    made = runner.invoke(
        app,
        [
            "schedule",
            "override",
            "payments-primary",
            "--user",
            "carol",
            "--start",
            "2099-01-05T12:00:00Z",
            "--end",
            "2099-01-05T18:00:00Z",
        ],
    )
    assert made.exit_code == 0, made.output
    assert "carol is on call on payments-primary" in made.output
    during = invoke_json("oncall", "--at", "2099-01-05T13:00:00Z", "--team", "payments")
    assert [(d["users"], d["until"]) for d in during] == [(["carol"], "2099-01-05T18:00:00Z")]
    after = invoke_json("oncall", "--at", "2099-01-05T18:00:00Z", "--team", "payments")
    assert after[0]["users"] != ["carol"]
    shown = invoke_json("schedule", "show", "payments-primary", "--at", "2099-01-01T00:00:00Z")
    assert [o["user"] for o in shown["overrides"]] == ["carol"]
    bad = runner.invoke(
        app,
        [
            "schedule",
            "override",
            "payments-primary",
            "--user",
            "zed",
            "--start",
            "2099-01-05T12:00:00Z",
            "--end",
            "2099-01-05T18:00:00Z",
        ],
    )
    assert bad.exit_code == 1
    assert "unknown user(s) zed" in bad.output


def test_escalation_list(catalog_db: str, session_factory: sessionmaker[Session]) -> None:
    assert invoke_json("escalation", "list") == []
    with session_factory() as session, session.begin():
        group = AlertGroup(
            group_hash="h",
            route_id="r",
            receiver="owner",
            group_labels={},
            status="open",
            group_wait_s=0,
            group_interval_s=60,
            repeat_interval_s=3600,
            last_resolved=[],
            created_at=NOW,
        )
        session.add(group)
        session.flush()
        policy = oncall_store.get_policy(session, name="payments")
        for status in ("triggered", "resolved"):
            session.add(
                EscalationRow(
                    group_id=group.id,
                    policy_id=policy.id,
                    status=status,
                    level=0,
                    loop=0,
                    level_started_at=NOW,
                    next_step_at=None,
                    paged=["bob"],
                    created_at=NOW,
                )
            )
    rows = invoke_json("escalation", "list", "--status", "triggered")
    assert [(r["policy"], r["status"], r["paged"]) for r in rows] == [
        ("payments", "triggered", ["bob"])
    ]
    assert len(invoke_json("escalation", "list")) == 2
    table = runner.invoke(app, ["escalation", "list"])
    assert "payments" in table.output
    assert "triggered" in table.output
    bad = runner.invoke(app, ["escalation", "list", "--status", "open"])
    assert bad.exit_code == 2


def test_escalation_policies_list_and_show(catalog_db: str) -> None:
    [policy] = invoke_json("escalation", "policies")
    assert (policy["name"], policy["team"], policy["managed"]) == ("payments", "payments", True)
    assert policy["levels"] == [{"delay": "10m", "targets": [{"schedule": "payments-primary"}]}]
    shown = invoke_json("escalation", "policy", "payments")
    assert shown == policy
    table = runner.invoke(app, ["escalation", "policy", "payments"])
    assert table.exit_code == 0, table.output
    assert "schedule:payments-primary" in table.output
    listed = runner.invoke(app, ["escalation", "policies"])
    assert "payments" in listed.output
    missing = runner.invoke(app, ["escalation", "policy", "nope"])
    assert missing.exit_code != 0
    assert "escalation policy 'nope' not found" in missing.output
