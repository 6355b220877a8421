"""PostgreSQL restarted under load, with real processes: a private PostgreSQL, one ``ninefold
serve``, a client posting an alert every 50 ms and a loopback webhook receiver.

While the database is away (a fast shutdown, or the postmaster killed with SIGKILL) ``/readyz``
answers 503, alert requests get a clear 503 with ``Retry-After`` (never a 500 or a dropped
connection), and the process stays up. Once PostgreSQL is back, ``/readyz`` is 200 again within
a bound, the engine leads its modules again, every alert that got a 2xx is stored (read back
through the API) and every stored alert's notification reaches the receiver exactly once.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.cluster import MODULES, Replica, api, free_port, prepare, serve_env, wait_until
from tests.faults.harness import AlertLoad, alerts_of_run, private_postgres
from tests.ha_scenario import ROUTING_CRASH
from tests.receiver import WebhookReceiver

OUTAGE_SECONDS = 4.0
READY_AGAIN_WITHIN = 20.0
"""Seconds from PostgreSQL accepting connections again to ``/readyz`` answering 200."""
LEASE_SECONDS = 30
"""Longer than the outage: a result that could not be recorded is recorded once the database
is back, and the notification is not sent a second time."""


def _readyz(base: str) -> int:
    try:
        return httpx.get(f"{base}/readyz", timeout=3).status_code
    except httpx.HTTPError:
        return 0


def _leads(base: str) -> list[str]:
    try:
        resp = httpx.get(f"{base}/readyz", timeout=3)
        return list(resp.json().get("engine_leader", [])) if resp.status_code == 200 else []
    except (httpx.HTTPError, ValueError):
        return []


def _unsent(base: str, token: str) -> int:
    total = 0
    for status in ("pending", "sending"):
        page = api(base, token, "GET", f"/api/v1/notifications?status={status}&limit=1")
        total += int(page["total"])
    return total


@pytest.mark.faults(limit=150)
@pytest.mark.parametrize("how", ["fast-shutdown", "kill-9"])
def test_postgresql_restart_under_load_loses_nothing_acknowledged(tmp_path: Path, how: str) -> None:
    with private_postgres() as pg:
        url = pg.create_database("ninefold")
        token = prepare(url, tmp_path)
        routing = tmp_path / "routing.yml"
        routing.write_text(ROUTING_CRASH, encoding="utf-8")
        receiver = WebhookReceiver().start()
        env = serve_env(
            url,
            routing_file=str(routing),
            notification_lease_seconds=LEASE_SECONDS,
            public_url="http://127.0.0.1:1",
        )
        replica = Replica("serve", free_port(), env, tmp_path / "serve.log").start()
        load: AlertLoad | None = None
        try:
            replica.wait_ready(timeout=60)
            base = replica.url
            channel = {"name": "room", "kind": "webhook", "target": receiver.url("/room")}
            api(base, token, "POST", "/api/v1/notification-channels", channel)
            body = {"name": "am", "kind": "alertmanager", "rate_limit_per_minute": 10**6}
            key = str(api(base, token, "POST", "/api/v1/integrations", body)["key"])
            assert wait_until(lambda: set(MODULES) <= set(_leads(base)), timeout=30), _leads(base)

            run = f"db-{how}"
            load = AlertLoad(base, key, run).start()
            assert wait_until(lambda: load.count() >= 20, timeout=30, step=0.05)

            # -- the outage -------------------------------------------------------------------
            (pg.stop_fast if how == "fast-shutdown" else pg.kill9)()
            down_at = time.monotonic()
            assert wait_until(lambda: _readyz(base) == 503, timeout=10, step=0.1), (
                "readyz did not report the database away\n" + replica.tail()
            )
            readyz_down = httpx.get(f"{base}/readyz", timeout=3).json()
            time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_at)))
            during = dict(load.answers)
            assert replica.alive(), "ninefold serve died with its database\n" + replica.tail()

            # -- back ---------------------------------------------------------------------------
            pg.start(timeout=60)
            back_at = time.monotonic()
            assert wait_until(lambda: _readyz(base) == 200, timeout=READY_AGAIN_WITHIN, step=0.1), (
                "readyz not 200 again\n" + replica.tail()
            )
            ready_after = time.monotonic() - back_at
            acked_before = load.count()
            assert wait_until(lambda: load.count() >= acked_before + 20, timeout=30, step=0.05)
            load.stop()
            assert wait_until(lambda: set(MODULES) <= set(_leads(base)), timeout=30), (
                f"engine leadership not re-acquired: {_leads(base)}\n{replica.tail()}"
            )

            # -- what clients saw ---------------------------------------------------------------
            failed = load.failed()
            print(
                f"{how}: {load.count()} acknowledged, {len(failed)} refused "
                f"{Counter(code for code, _ in failed.values())}; readyz 200 again "
                f"{ready_after:.2f} s after PostgreSQL; PostgreSQL starts {pg.starts}"
            )
            assert readyz_down["status"] == "unavailable"
            assert "database" in readyz_down["reason"]
            outage_answers = [during[n] for n in sorted(during) if n not in load.acknowledged()]
            assert outage_answers, "no request fell into the outage"
            bad = {n: (a, load.bodies.get(n)) for n, a in failed.items() if a[0] != 503}
            assert bad == {}, f"answers other than 503 during the outage: {bad}"
            assert all(retry for _, retry in failed.values()), "a 503 without Retry-After"
            assert all(
                "database unavailable" in load.bodies[n] for n in failed if n in load.bodies
            ), load.bodies

            # -- nothing acknowledged is lost; each notified exactly once ----------------------
            acked = load.acknowledged()
            stored: dict[int, list[object]] = {}

            def all_stored() -> bool:
                stored.clear()
                stored.update(alerts_of_run(base, token, run))
                return acked <= set(stored)

            assert wait_until(all_stored, timeout=30, step=0.5), sorted(acked - set(stored))
            assert all(len(v) == 1 for v in stored.values()), "an alert stored twice"
            assert wait_until(
                lambda: len(receiver.counts()) >= len(stored), timeout=45, step=0.5
            ), f"{len(receiver.counts())} notifications for {len(stored)} alerts"
            # every outbox row recorded as sent: nothing is left to be sent again
            assert wait_until(lambda: _unsent(base, token) == 0, timeout=30, step=0.5)
            time.sleep(2)  # a duplicate in flight would arrive now
            counts = receiver.counts()
            assert len(counts) == len(stored)
            assert set(counts.values()) == {1}, {k: c for k, c in counts.items() if c != 1}
        finally:
            if load is not None:
                load.stop()
            replica.stop()
            receiver.stop()
