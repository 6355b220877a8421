"""Notification targets that fail, with real processes: one ``ninefold serve`` whose alerts go to
four broken channels at once, a webhook answering 500, one that never answers (hangs past the
delivery timeout), a port that refuses connections, and an email channel whose SMTP relay is
down, plus a healthy ``backup`` channel that ``NotificationChannelFailing`` is routed to.

Each failing notification is attempted exactly ``max_attempts`` times, the gaps between attempts
within the jittered exponential ceilings, then it is on the dead-letter list (``GET
/api/v1/notifications?status=dead``) with its last error; a meta-alert per failing channel reaches
the backup channel. Repaired (the receiver answers, a real aiosmtpd relay comes up) and the dead
letters retried through the API, the notifications are delivered and the meta-alerts resolve.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiosmtpd.controller as aiosmtpd_controller
import httpx
import pytest

from tests.cluster import Replica, alert_body, api, free_port, fresh_postgres, prepare, serve_env
from tests.cluster import wait_until as wait
from tests.receiver import WebhookReceiver

PG_URL = os.environ.get("NINEFOLD_TEST_POSTGRES_URL")

MAX_ATTEMPTS = 4
BASE = 0.5
"""Retry ceiling after attempt k is BASE * 2 ** (k - 1) seconds."""
TIMEOUT = 1.0
"""Delivery timeout per attempt (the hanging receiver answers nothing for 30 s)."""
SLACK = 4.0
"""Allowed lateness of an attempt past its ceiling: the delivery tick, other channels' attempts
in the same batch (a hang costs TIMEOUT) and a busy two-core machine."""

ROUTING = """\
route:
  receiver: sink
  group_by: ['...']
  group_wait: 0s
  group_interval: 1s
  routes:
    - matchers: ['alertname="HaTest"']
      receiver: everywhere
    - matchers: ['alertname="NotificationChannelFailing"']
      receiver: backup
receivers:
  - name: sink
  - name: everywhere
    channels: [broken, hanging, refused, mail]
  - name: backup
    channels: [backup]
"""

FAILING = ("broken", "hanging", "refused", "mail")
WHY = {
    "broken": "HTTP 500",
    "hanging": "timeout",
    "refused": "refused",
    "mail": "refused",
}


class Mailbox:
    """An aiosmtpd handler keeping every message."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content)
        return "250 Message accepted for delivery"


@contextlib.contextmanager
def _database(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'ninefold.db'}"
        return
    if not PG_URL:
        pytest.fail("NINEFOLD_TEST_POSTGRES_URL is not set")
    with fresh_postgres(PG_URL, prefix="ninefold_faults") as url:
        yield url


def _by_channel(base: str, token: str, status: str) -> dict[str, dict[str, Any]]:
    items = api(base, token, "GET", f"/api/v1/notifications?status={status}&limit=500")["items"]
    return {item["channel"]: item for item in items}


def _meta(base: str, token: str) -> dict[str, dict[str, Any]]:
    items = api(base, token, "GET", "/api/v1/alerts?limit=500")["items"]
    return {
        a["labels"]["channel"]: a
        for a in items
        if a["labels"].get("alertname") == "NotificationChannelFailing"
    }


def _check_schedule(name: str, times: list[float]) -> list[float]:
    """Attempt ``k + 1`` comes at most ceiling(k) + SLACK after attempt ``k``; the gaps."""
    gaps = [b - a for a, b in itertools.pairwise(times)]
    for k, gap in enumerate(gaps, start=1):
        ceiling = BASE * 2 ** (k - 1)
        assert gap <= ceiling + SLACK, f"{name}: retry {k + 1} after {gap:.2f} s > {ceiling} s"
    return gaps


def _backends() -> list[Any]:
    return [
        "sqlite",
        pytest.param(
            "postgresql",
            marks=pytest.mark.skipif(not PG_URL, reason="NINEFOLD_TEST_POSTGRES_URL not set"),
        ),
    ]


@pytest.mark.faults(limit=150)
@pytest.mark.parametrize("backend", _backends())
def test_failing_targets_retry_then_dead_letter_and_alert_elsewhere(
    tmp_path: Path, backend: str
) -> None:
    receiver = WebhookReceiver(faults={"/broken": 500, "/hang": "hang"}, hang_seconds=30).start()
    smtp_port = free_port()  # nothing listens: the relay is down
    refused_port = free_port()
    mailbox = Mailbox()
    controller: aiosmtpd_controller.Controller | None = None
    with _database(backend, tmp_path) as url:
        token = prepare(url, tmp_path)
        routing = tmp_path / "routing.yml"
        routing.write_text(ROUTING, encoding="utf-8")
        env = serve_env(
            url,
            routing_file=str(routing),
            notification_max_attempts=MAX_ATTEMPTS,
            notification_retry_base_seconds=BASE,
            notification_timeout_seconds=TIMEOUT,
            delivery_interval_seconds=0.2,
            smtp_host="127.0.0.1",
            smtp_port=smtp_port,
            public_url="http://127.0.0.1:1",
        )
        replica = Replica("serve", free_port(), env, tmp_path / "serve.log").start()
        try:
            replica.wait_ready(timeout=60)
            base = replica.url
            targets = {
                "broken": receiver.url("/broken"),
                "hanging": receiver.url("/hang"),
                "refused": f"http://127.0.0.1:{refused_port}/hook",
                "mail": "ops@example.com",
                "backup": receiver.url("/backup"),
            }
            for name, target in targets.items():
                kind = "email" if name == "mail" else "webhook"
                body = {"name": name, "kind": kind, "target": target}
                api(base, token, "POST", "/api/v1/notification-channels", body)
            integration = {"name": "am", "kind": "alertmanager", "rate_limit_per_minute": 1000}
            key = api(base, token, "POST", "/api/v1/integrations", integration)["key"]
            started = time.monotonic()
            answer = httpx.post(
                f"{base}/api/v2/alerts",
                json=alert_body(1, "notify-faults"),
                headers={"Authorization": f"Bearer {key}"},
                timeout=30,
            )
            assert answer.is_success, answer.text

            # -- retries, then the dead-letter list ---------------------------------------------
            assert wait(lambda: set(FAILING) <= set(_by_channel(base, token, "dead")), 60), (
                _by_channel(base, token, "pending"),
                replica.tail(),
            )
            dead_after = time.monotonic() - started
            dead = _by_channel(base, token, "dead")
            for name in FAILING:
                assert dead[name]["attempts"] == MAX_ATTEMPTS, dead[name]
                assert WHY[name] in dead[name]["last_error"], (name, dead[name]["last_error"])
            gaps = {
                name: _check_schedule(name, [h.at for h in receiver.at(path)])
                for name, path in (("broken", "/broken"), ("hanging", "/hang"))
            }
            for path in ("/broken", "/hang"):
                hits = receiver.at(path)
                keys = [h.headers["idempotency-key"] for h in hits]
                assert len(hits) == MAX_ATTEMPTS, f"{path}: {len(hits)} attempts, keys {keys}"
                assert len(set(keys)) == 1

            # -- a meta-alert per failing channel on the backup channel --------------------------
            def alerted() -> bool:
                bodies = " ".join(h.body.decode() for h in receiver.at("/backup"))
                return all(
                    f"notification channel {name} keeps failing" in bodies for name in FAILING
                )

            assert wait(alerted, 40), [h.body[:300] for h in receiver.at("/backup")]
            meta = _meta(base, token)
            assert {n: meta[n]["status"] for n in FAILING} == dict.fromkeys(FAILING, "firing")
            assert "backup" not in meta
            assert _by_channel(base, token, "sent").get("backup") is not None

            # -- repaired: dead letters retried through the API are delivered; alerts resolve ---
            receiver.faults["/broken"] = 200
            controller = aiosmtpd_controller.Controller(
                mailbox, hostname="127.0.0.1", port=smtp_port
            )
            controller.start()
            for name in ("broken", "mail"):
                api(base, token, "POST", f"/api/v1/notifications/{dead[name]['id']}/retry")
            assert wait(lambda: len(mailbox.messages) == 1, 30), replica.tail()
            assert wait(
                lambda: (
                    {n: _meta(base, token)[n]["status"] for n in ("broken", "mail")}
                    == {"broken": "resolved", "mail": "resolved"}
                ),
                40,
            ), replica.tail()
            still = _meta(base, token)
            assert (still["hanging"]["status"], still["refused"]["status"]) == ("firing", "firing")
            summary = json.dumps({n: [round(g, 2) for g in gs] for n, gs in gaps.items()})
            print(f"{backend}: dead after {dead_after:.1f} s; retry gaps {summary}")
        finally:
            replica.stop()
            receiver.stop()
            if controller is not None:
                controller.stop()
