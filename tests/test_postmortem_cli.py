"""``ninefold postmortem …`` and ``ninefold action …`` on a catalog applied by ``ninefold apply``
(severities P1/P2 from YAML: the default policy follows their ranks)."""

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
incident_severities:
  - {name: P1, rank: 1, description: Everything is on fire}
  - {name: P2, rank: 2, description: Something is on fire}
  - {name: P3, rank: 3, description: Smoke}
"""


@pytest.fixture
def catalog_db(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("NINEFOLD_DATABASE_URL", db_url)
    org = tmp_path / "org"
    org.mkdir()
    (org / "org.yaml").write_text(textwrap.dedent(CATALOG))
    applied = runner.invoke(app, ["apply", str(org)])
    assert applied.exit_code == 0, applied.output
    return db_url


def run(*args: str, code: int = 0, stdin: str | None = None) -> Any:
    result = runner.invoke(app, list(args), input=stdin)
    assert result.exit_code == code, result.output
    return result


def as_json(*args: str) -> Any:
    return json.loads(run(*args, "-o", "json").stdout)


def test_postmortem_and_action_commands(catalog_db: str, tmp_path: Path) -> None:
    p1 = as_json("incident", "declare", "API down", "--severity", "P1", "-s", "api")["id"]
    p3 = as_json("incident", "declare", "API slow", "--severity", "P3", "-s", "api")["id"]
    run("incident", "resolve", str(p1))
    run("incident", "resolve", str(p3))
    listed = as_json("postmortem", "list")
    assert [(p["incident"], p["status"]) for p in listed] == [(p1, "draft")]  # P3 is optional
    pid = str(listed[0]["id"])
    assert "drafted for incident" in run("postmortem", "create", str(p3)).output
    run("postmortem", "create", str(p3), code=1)

    body = tmp_path / "cf.md"
    body.write_text("The health check did not cover the database.\n")
    run("postmortem", "edit", pid, "contributing_factors", "-f", str(body))
    run("postmortem", "edit", pid, "where_we_got_lucky", stdin="Low traffic at night.\n")
    run("postmortem", "status", pid, "published", code=1)
    run("postmortem", "status", pid, "in_review")

    out = run("action", "add", "Cover the database", "--owner", "alice", "--due", "2026-01-10",
              "--priority", "high", "--incident", str(p1)).output  # fmt: skip
    assert "action item" in out
    items = as_json("action", "list")
    assert [(i["title"], i["priority"], i["team"], i["overdue"]) for i in items] == [
        ("Cover the database", "P2", "web", True)
    ]
    run("action", "add", "x", "--due", "10/01/2026", code=2)
    run("action", "done", str(items[0]["id"]))
    assert as_json("action", "list") == []
    assert as_json("action", "list", "--all")[0]["status"] == "done"
    stats = as_json("action", "stats", "--team", "web", "--days", "36500")
    assert (stats["due"], stats["closed_on_time"], stats["rate"]) == (1, 0, 0.0)  # closed late

    text = run("postmortem", "export", pid).stdout
    assert text.startswith("# Postmortem: API down\n")
    assert "- **Status:** in_review" in text
    assert "The health check did not cover the database." in text
    assert "Low traffic at night." in text
    assert "[x] #1 Cover the database — alice, P2, due 2026-01-10 (done)" in text
    out_file = tmp_path / "pm.md"
    run("postmortem", "export", pid, "--out", str(out_file))
    assert out_file.read_text() == text
    shown = as_json("postmortem", "show", pid)
    assert shown["reason"] == "severity P1 always gets a postmortem"
