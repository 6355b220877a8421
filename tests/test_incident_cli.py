"""``ninefold incident …`` and ``ninefold deploy …`` on a catalog with incident severities and
roles applied by ``ninefold apply``."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ninefold.cli.main import app

runner = CliRunner()

CATALOG = """\
users:
  - name: alice
teams:
  - name: web
    members: [{user: alice}]
services:
  - name: api
    owner: web
notification_channels:
  - name: alice-app
    kind: webhook
    target: http://127.0.0.1:9/alice
  - name: status-room
    kind: slack
    target: https://hooks.slack.com/services/T/B/x
notification_rules:
  - user: alice
    rules: [{after: 0m, channel: alice-app}]
incident_severities:
  - name: P1
    rank: 1
    description: Everything is on fire
    channels: [status-room]
  - name: P2
    rank: 2
    description: Something is on fire
incident_roles:
  - name: liaison
    description: Customer liaison
"""


@pytest.fixture
def catalog_db(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("NINEFOLD_DATABASE_URL", db_url)
    org = tmp_path / "org"
    org.mkdir()
    (org / "org.yaml").write_text(textwrap.dedent(CATALOG))
    applied = runner.invoke(app, ["apply", str(org)])
    assert applied.exit_code == 0, applied.output
    assert "incident_severity" in applied.output
    return db_url


def run(*args: str, code: int = 0) -> Any:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result


def as_json(*args: str) -> Any:
    return json.loads(run(*args, "-o", "json").stdout)


def test_incident_commands(catalog_db: str) -> None:
    inc = as_json("incident", "declare", "API down", "--severity", "P1", "-s", "api")
    iid = str(inc["id"])
    assert (inc["severity"], inc["services"], inc["status"]) == ("P1", ["api"], "open")
    bad = run("incident", "declare", "x", "--severity", "SEV1", code=1)
    assert "severity: unknown 'SEV1'; one of P1, P2" in bad.output
    out = run("incident", "role", iid, "liaison", "alice").output
    assert "alice is liaison" in out
    assert "paged via alice-app" in out
    run("incident", "note", iid, "Restarted the pods", "--key-moment")
    dep = as_json("deploy", "record", "-s", "api", "--version", "v2", "--outcome", "rollback")
    assert dep["incidents"] == [inc["id"]]
    updated = as_json("incident", "update", iid, "--status", "identified", "-m", "Found it")
    assert updated["updates"][0]["channels"] == ["status-room"]  # the severity's channels
    as_json("incident", "mitigate", iid)
    resolved = as_json("incident", "resolve", iid)
    assert (resolved["status"], resolved["public_status"]) == ("resolved", "resolved")
    shown = as_json("incident", "show", iid)
    kinds = [e["kind"] for e in shown["timeline"]]
    for kind in ("declared", "role", "page", "note", "deploy", "update", "status"):
        assert kind in kinds, kind
    table = run("incident", "show", iid).output
    assert "Restarted the pods" in table
    assert "★" in table
    listed = as_json("incident", "list", "--status", "resolved")
    assert [i["id"] for i in listed] == [inc["id"]]
    assert "API down" in run("incident", "list").output
    other = as_json("incident", "declare", "Dup", "--severity", "P2")
    run("incident", "merge", str(other["id"]), "--into", iid)
    assert as_json("incident", "show", str(other["id"]))["merged_into"] == inc["id"]
    deploys = as_json("deploy", "list", "-s", "api")
    assert [d["version"] for d in deploys] == ["v2"]
    bad_outcome = run("deploy", "record", "-s", "api", "--version", "1", "--outcome", "x", code=2)
    assert "outcome" in bad_outcome.output
    run("incident", "resolve", "999", code=1)
