"""Real ``ninefold serve`` processes on loopback, for tests and benchmarks that kill them.

* :func:`fresh_postgres` creates a throwaway PostgreSQL database (advisory locks are per
  database, so replicas under test never contend with anything else on the server) and drops
  it at the end;
* :func:`prepare` migrates a database, applies a small catalog (``web`` team, ``api`` service,
  one push SLO) and returns an admin token;
* :class:`Replica` is one ``python -m ninefold serve`` process with its own log file, stopped or
  killed by its PID only; :func:`leaders` asks each replica's ``/readyz`` which engine modules it
  runs;
* the webhook receiver is :class:`tests.receiver.WebhookReceiver`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

from ninefold.catalog.flows import apply_directory
from ninefold.db import migrate
from ninefold.db.engine import make_engine, make_session_factory
from ninefold.identity import store as identity_store

MODULES = ("pager", "heartbeats", "alert-expiry", "channel-health", "slo-evaluation")
"""The engine modules that run under a leader lock (delivery runs on every replica)."""

CATALOG = """\
users:
  - name: alice
    email: alice@example.com
  - name: bob
    email: bob@example.com
teams:
  - name: web
    members: [{user: alice}, {user: bob}]
services:
  - name: api
    owner: web
    tier: 1
slos:
  - name: api-availability
    service: api
    objective: 0.999
    window: {rolling: 30d}
    source: push
    sli:
      ratio: {}
"""


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def fresh_postgres(admin_url: str, prefix: str = "ninefold_ha") -> Iterator[str]:
    """Create database ``<prefix>_<random>`` next to ``admin_url``'s; yield its SQLAlchemy URL."""
    plain = admin_url.replace("postgresql+psycopg://", "postgresql://", 1)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = plain.partition("?")[0]
    url = base.rsplit("/", 1)[0] + "/" + name
    url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield url
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            # FORCE ends sessions still connected to this throwaway database (only ours).
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def prepare(url: str, directory: Path, catalog_yaml: str = CATALOG) -> str:
    """Migrate ``url``, apply ``catalog_yaml`` and return the secret of a new admin token."""
    catalog = directory / "catalog"
    catalog.mkdir(parents=True, exist_ok=True)
    (catalog / "catalog.yaml").write_text(catalog_yaml, encoding="utf-8")
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
        factory = make_session_factory(engine)
        now = datetime.now(UTC)
        with factory() as session, session.begin():
            apply_directory(session, catalog, dry_run=False, now=now)
            _, secret = identity_store.create_token(session, name="harness", role="admin", now=now)
    finally:
        engine.dispose()
    return secret


@dataclass
class Replica:
    """One ``ninefold serve`` process on a loopback port."""

    name: str
    port: int
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Replica:
        """Start the process (output to the log file)."""
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "ninefold", "serve", "--port", str(self.port)],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def alive(self) -> bool:
        """Whether the process still runs."""
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Block until ``/readyz`` answers 200; raise with the log's tail if it never does."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited:\n{self.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready after {timeout} s:\n{self.tail()}")

    def leads(self, timeout: float = 2.0) -> list[str]:
        """Engine modules this replica leads (empty when it does not answer)."""
        try:
            resp = httpx.get(f"{self.url}/readyz", timeout=timeout)
            return list(resp.json().get("engine_leader", [])) if resp.status_code == 200 else []
        except (httpx.HTTPError, ValueError):
            return []

    def kill9(self) -> None:
        """SIGKILL the process (by its PID) and reap it."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 15 s; by PID only."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill9()

    def tail(self, lines: int = 40) -> str:
        """The end of the log."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def serve_env(url: str, **settings: str | float) -> dict[str, str]:
    """The environment of a replica: the database URL and ``NINEFOLD_*`` settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NINEFOLD_")}
    env["NINEFOLD_DATABASE_URL"] = url
    env.setdefault("NINEFOLD_LOG_LEVEL", "warning")
    for key, value in settings.items():
        env[f"NINEFOLD_{key.upper()}"] = str(value)
    return env


def leaders(replicas: Sequence[Replica]) -> dict[str, Replica]:
    """Which live replica leads each engine module (modules nobody leads are absent)."""
    found: dict[str, Replica] = {}
    for replica in replicas:
        if replica.alive():
            for module in replica.leads():
                found[module] = replica
    return found


def wait_leaders(
    replicas: Sequence[Replica], modules: Sequence[str] = MODULES, timeout: float = 30.0
) -> dict[str, Replica]:
    """Poll until every module in ``modules`` has a leader among ``replicas``."""
    deadline = time.monotonic() + timeout
    while True:
        found = leaders(replicas)
        if all(m in found for m in modules) or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def takeover_times(
    survivors: Sequence[Replica], modules: Sequence[str], killed_at: float, timeout: float = 30.0
) -> dict[str, float]:
    """Seconds from ``killed_at`` (monotonic) until a survivor reports leading each module."""
    times: dict[str, float] = {}
    deadline = killed_at + timeout
    while len(times) < len(modules) and time.monotonic() < deadline:
        for replica in survivors:
            led = replica.leads(timeout=1.0)
            at = time.monotonic()
            for module in led:
                if module in modules and module not in times:
                    times[module] = at - killed_at
        time.sleep(0.05)
    return times


def api(base: str, token: str, method: str, path: str, body: Any = None) -> Any:
    """One admin API call that must succeed; returns the JSON answer."""
    resp = httpx.request(
        method,
        f"{base}{path}",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    if resp.status_code >= 300:
        raise AssertionError(f"{method} {path}: {resp.status_code} {resp.text}")
    return resp.json() if resp.content else None


def wait_until(predicate: Any, timeout: float, step: float = 0.25) -> bool:
    """Poll ``predicate()`` until true or ``timeout`` seconds passed; return the last result."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())


def stop_all(replicas: Sequence[Replica]) -> None:
    """Stop every replica (by PID)."""
    for replica in replicas:
        with contextlib.suppress(Exception):
            replica.stop()


def alert_body(n: int, run: str) -> list[Mapping[str, Any]]:
    """An Alertmanager v2 body with one alert labelled ``n``, firing for the next two hours
    (an explicit ``endsAt``, so Alertmanager's 5-minute expiry cannot resolve it mid-test)."""
    now = datetime.now(UTC)
    return [
        {
            "labels": {"alertname": "HaTest", "run": run, "n": str(n), "severity": "critical"},
            "annotations": {"summary": f"alert {n}"},
            "startsAt": now.isoformat(),
            "endsAt": (now + timedelta(hours=2)).isoformat(),
        }
    ]
