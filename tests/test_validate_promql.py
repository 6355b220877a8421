"""``ninefold validate --prometheus``: PromQL that a real Prometheus rejects is named by file:line."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ninefold.cli.main import app
from tests.prom import PrometheusServer

DATA = Path(__file__).parent / "data" / "catalog" / "promql"
runner = CliRunner()


@pytest.mark.prometheus
def test_rejected_promql_is_reported_with_position(tmp_path: Path) -> None:
    prom = PrometheusServer(tmp_path, targets=[]).start()
    try:
        result = runner.invoke(app, ["validate", str(DATA), "--prometheus", prom.url])
    finally:
        prom.stop()
    assert result.exit_code == 1, result.output
    out = result.output
    assert "catalog.yaml:" in out
    line = next(ln for ln in out.splitlines() if "catalog.yaml:" in ln)
    # the position of the broken SLO's sli, and Prometheus's own complaint
    assert line.split("catalog.yaml:", 1)[1].startswith("18:7:")
    assert "SLO 'broken'" in line
    assert "parse error" in line
    assert "1 problem" in out


def test_unreachable_prometheus_is_a_clear_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = runner.invoke(app, ["validate", str(DATA), "--prometheus", f"http://127.0.0.1:{port}"])
    assert result.exit_code == 2
    assert f"127.0.0.1:{port}" in result.output
