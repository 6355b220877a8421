"""Prometheus down or hung, with real processes: a loopback exporter, Debian's ``prometheus``
scraping it every second, one ``ninefold serve`` evaluating an SLO fed by it every second, and a
loopback webhook receiver for the meta-alert.

Stopped (connection refused) or hung (SIGSTOP: connections are accepted, nothing answers
within ninefold's query timeout, then SIGCONT):
the SLO's status becomes ``no_data`` with the reason, never ``healthy``; an ``SLONoData`` alert
(labels ``slo``, ``service``) fires through the alert pipeline and is routed to its own
receiver. Back: the status is computed again and the alert resolves.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.cluster import Replica, api, free_port, prepare, serve_env, wait_until
from tests.prom import Exporter, PrometheusServer
from tests.receiver import WebhookReceiver

CATALOG = """\
teams:
  - name: web
services:
  - name: api
    owner: web
    tier: 1
slos:
  - name: api-errors
    service: api
    objective: 0.99
    window: {rolling: 30d}
    source: prometheus
    alerting: {no_data_after: 1m}
    sli:
      ratio:
        bad: 'app_requests_total{code="500"}'
        total: app_requests_total
"""

ROUTING = """\
route:
  receiver: sink
  group_by: ['...']
  group_wait: 0s
  group_interval: 1s
  routes:
    - matchers: ['alertname="SLONoData"']
      receiver: meta
receivers:
  - name: sink
  - name: meta
    channels: [meta-hook]
"""

TIMEOUT = 2.0
"""ninefold's Prometheus query timeout in this scenario (NINEFOLD_PROMETHEUS_TIMEOUT_SECONDS)."""
DETECT_WITHIN = 20.0
"""Seconds from the fault until the SLO reports no data and the meta-alert is delivered."""


def _no_data_alerts(base: str, token: str) -> list[dict[str, Any]]:
    items = api(base, token, "GET", "/api/v1/alerts?limit=500")["items"]
    return [a for a in items if a["labels"].get("alertname") == "SLONoData"]


def _status(base: str, token: str) -> dict[str, Any]:
    return dict(api(base, token, "GET", "/api/v1/slos/api-errors/status"))


def _minute_passed_since(at: float) -> bool:
    return (time.time() // 60) * 60 > at + 1.0


def _signal(prom: PrometheusServer, sig: signal.Signals) -> None:
    assert prom.process is not None
    os.kill(prom.process.pid, sig)


def _inject(fault: str, prom: PrometheusServer) -> None:
    if fault == "down":
        prom.stop()
    else:
        _signal(prom, signal.SIGSTOP)


def _repair(fault: str, prom: PrometheusServer) -> None:
    if fault == "down":
        prom.restart()
    else:
        _signal(prom, signal.SIGCONT)


def _fault_and_back(
    fault: str,
    base: str,
    token: str,
    prom: PrometheusServer,
    receiver: WebhookReceiver,
    replica: Replica,
) -> str:
    """Inject ``fault``, check the no-data promise, repair it, check recovery; a summary."""
    n0 = len(receiver.at("/meta"))
    known = {a["id"] for a in _no_data_alerts(base, token)}

    def new_alerts() -> list[dict[str, Any]]:
        return [a for a in _no_data_alerts(base, token) if a["id"] not in known]

    _inject(fault, prom)
    faulted_at = time.monotonic()
    assert wait_until(lambda: len(receiver.at("/meta")) >= n0 + 1, timeout=DETECT_WITHIN), (
        f"{fault}: no meta-alert delivered\n" + replica.tail()
    )
    detected = time.monotonic() - faulted_at
    (meta,) = new_alerts()
    assert meta["status"] == "firing"
    assert (meta["labels"]["slo"], meta["labels"]["service"]) == ("api-errors", "api")
    why = "is unreachable" if fault == "down" else f"timed out after {TIMEOUT:g}s"
    assert why in meta["annotations"]["description"], meta["annotations"]
    delivered = receiver.at("/meta")[n0]
    assert "SLONoData" in delivered.body.decode()
    assert delivered.headers["idempotency-key"]
    # never silently healthy while Prometheus is away
    for _ in range(3):
        during = _status(base, token)
        assert during["status"] == "no_data", during
        assert why in (during["error"] or ""), during

    _repair(fault, prom)
    back_at = time.monotonic()
    assert wait_until(lambda: new_alerts()[0]["status"] == "resolved", timeout=DETECT_WITHIN), (
        f"{fault}: meta-alert not resolved\n" + replica.tail()
    )
    resolved = time.monotonic() - back_at
    after = _status(base, token)
    assert after["status"] == "healthy", after
    assert after["error"] is None, after
    assert wait_until(lambda: len(receiver.at("/meta")) >= n0 + 2, timeout=DETECT_WITHIN)
    assert "resolved" in receiver.at("/meta")[n0 + 1].body.decode().lower()
    return f"prometheus {fault}: meta-alert after {detected:.1f} s, resolved {resolved:.1f} s"


@pytest.mark.faults(limit=170)
def test_prometheus_down_or_hung_means_no_data_and_a_meta_alert(
    tmp_path: Path, prometheus_feed: tuple[Exporter, PrometheusServer]
) -> None:
    exporter, prom = prometheus_feed
    receiver = WebhookReceiver().start()
    replica: Replica | None = None
    try:
        url = f"sqlite:///{tmp_path / 'ninefold.db'}"
        token = prepare(url, tmp_path, CATALOG)
        routing = tmp_path / "routing.yml"
        routing.write_text(ROUTING, encoding="utf-8")
        env = serve_env(
            url,
            routing_file=str(routing),
            prometheus_url=prom.url,
            prometheus_timeout_seconds=TIMEOUT,
            evaluation_interval_seconds=1,
            public_url="http://127.0.0.1:1",
        )
        # SLO windows end at a whole minute: wait until one has passed since the first scrapes,
        # so that ninefold finds data from its first evaluation on (no false alarm at start)
        assert wait_until(lambda: len(exporter.scrapes()) >= 3, timeout=30)
        first = exporter.scrapes()[1].at
        assert wait_until(lambda: _minute_passed_since(first), timeout=70, step=0.5)
        replica = Replica("serve", free_port(), env, tmp_path / "serve.log").start()
        replica.wait_ready(timeout=60)
        base = replica.url
        channel = {"name": "meta-hook", "kind": "webhook", "target": receiver.url("/meta")}
        api(base, token, "POST", "/api/v1/notification-channels", channel)

        before = _status(base, token)
        assert before["status"] == "healthy", json.dumps(before)
        assert before["error"] is None
        time.sleep(2)  # two evaluations by the engine
        assert _no_data_alerts(base, token) == []

        summaries = [
            _fault_and_back(fault, base, token, prom, receiver, replica)
            for fault in ("down", "hung")
        ]
        print("; ".join(summaries))
    finally:
        if replica is not None:
            replica.stop()
        receiver.stop()
