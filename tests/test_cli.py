"""The ninefold command: demo, slo status, gate exit codes, tokens, and a real serve process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from ninefold.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


@pytest.fixture
def demo_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A SQLite database loaded by ``ninefold demo --no-serve`` (one day of history)."""
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    monkeypatch.setenv("NINEFOLD_DATABASE_URL", url)
    result = runner.invoke(app, ["demo", "--no-serve", "--days", "2"])
    assert result.exit_code == 0, result.output
    return url


def test_demo_computes_real_slos(demo_db: str) -> None:
    result = runner.invoke(app, ["slo", "status", "--output", "json"])
    assert result.exit_code == 0, result.output
    statuses = {s["name"]: s for s in json.loads(result.stdout)}
    assert len(statuses) == 12
    # The scripted checkout outage pages; the flaky probe has spent its budget.
    # (with two days of history the outage has also spent the whole budget)
    assert statuses["checkout-success"]["status"] in {"critical", "exhausted"}
    assert any(
        a["severity"] == "page" and a["firing"] for a in statuses["checkout-success"]["alerts"]
    )
    assert statuses["recommendations-probe"]["status"] == "exhausted"
    assert statuses["auth-availability"]["status"] == "healthy"
    for st in statuses.values():
        assert st["total"] > 0
        assert 0 < st["sli"] <= 1


def test_gate_exit_codes_and_reasons(demo_db: str) -> None:
    blocked = runner.invoke(app, ["gate", "recommendations"])
    assert blocked.exit_code == 1
    assert "BLOCKED" in blocked.output
    assert "recommendations-probe" in blocked.output
    allowed = runner.invoke(app, ["gate", "auth", "--output", "json"])
    assert allowed.exit_code == 0, allowed.output
    assert json.loads(allowed.stdout)["allowed"] is True
    missing = runner.invoke(app, ["gate", "nope"])
    assert missing.exit_code == 1
    assert "not found" in missing.output


def test_status_at_a_past_time_and_bad_time(demo_db: str) -> None:
    before = runner.invoke(
        app,
        ["slo", "status", "--service", "checkout", "--at", "2020-01-01T00:00:00Z", "-o", "json"],
    )
    assert before.exit_code == 0, before.output
    assert {s["status"] for s in json.loads(before.stdout)} == {"no_data"}
    bad = runner.invoke(app, ["slo", "status", "--at", "last tuesday"])
    assert bad.exit_code == 2
    assert "RFC 3339" in bad.output


def test_slo_list_and_evaluate_records_alerts(demo_db: str) -> None:
    listed = runner.invoke(app, ["slo", "list", "-o", "json"])
    assert {s["name"] for s in json.loads(listed.stdout)} >= {
        "checkout-success",
        "ledger-write-minutes",
    }
    assert runner.invoke(app, ["slo", "evaluate"]).exit_code == 0
    alerts = runner.invoke(app, ["slo", "alerts", "checkout-success", "-o", "json"])
    assert ("page", "firing") in {(a["severity"], a["state"]) for a in json.loads(alerts.stdout)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_process_prints_first_token_hint_and_answers(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "NINEFOLD_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "NINEFOLD_PORT": str(port),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ninefold",
            "serve",
            "--config-dir",
            str(ROOT / "examples" / "acme"),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail("ninefold serve did not become ready")
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/slos").status_code == 401
        token = runner.invoke(
            app,
            ["token", "create", "--name", "t", "--role", "viewer"],
            env={"NINEFOLD_DATABASE_URL": env["NINEFOLD_DATABASE_URL"]},
        )
        secret = token.stdout.strip().splitlines()[-1]
        listed = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/slos", headers={"Authorization": f"Bearer {secret}"}
        )
        assert listed.status_code == 200
        assert listed.json()["total"] == 12
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    assert "ninefold token create --name admin --role admin" in out


def test_invalid_settings_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NINEFOLD_DATABASE_URL", "oracle://x")
    result = runner.invoke(app, ["slo", "list"])
    assert result.exit_code == 2
    assert "NINEFOLD_DATABASE_URL" in result.output
