"""Real processes for the fault suite: a private PostgreSQL, a slow proxy, a steady alert load.

* :class:`PrivatePostgres` is a PostgreSQL of our own (``initdb`` into a temporary directory,
  ``postgres`` on a free loopback port) that the tests stop, SIGKILL and start again. Never the
  shared server: only its own process group is ever signalled.
* the webhook receiver whose paths answer 500 or hang is :class:`tests.receiver.WebhookReceiver`
  (it records when each attempt arrived, to check the retry schedule).
* :class:`AlertLoad` posts one new alert every ``interval`` seconds to one replica and records
  each answer, so a test knows which alerts were acknowledged (2xx) and how the rest failed.
* :func:`alerts_of_run` reads a run's alerts back through the API (never the tables: how intake
  stores them is not this suite's business).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from tests.background import BackgroundLoop
from tests.cluster import alert_body, free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _as_postgres() -> dict[str, Any]:
    """Popen arguments that drop root to the ``postgres`` user (initdb refuses to run as root)."""
    return {"user": "postgres", "group": "postgres"} if os.geteuid() == 0 else {}


@dataclass
class PrivatePostgres:
    """A throwaway PostgreSQL cluster on a free loopback port, owned by this test."""

    workdir: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def data(self) -> Path:
        """The data directory."""
        return self.workdir / "data"

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL of ``database`` on this server."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def init(self) -> PrivatePostgres:
        """``initdb`` (trust authentication, user ``postgres``) into ``workdir/data``."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "sock").mkdir(exist_ok=True)
        if os.geteuid() == 0:
            for path in (self.workdir, self.workdir / "sock"):
                shutil.chown(path, "postgres", "postgres")
        done = subprocess.run(
            [str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres"],
            capture_output=True,
            timeout=60,
            check=False,
            **_as_postgres(),
        )
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stdout.decode()} {done.stderr.decode()}")
        self.port = self.port or free_port()
        return self

    def start(self, timeout: float = 30.0) -> float:
        """Start the server on its port; return the seconds until it accepted a connection.

        After a SIGKILL of the postmaster its orphaned backends hold the shared memory until
        they notice and exit, so a start that fails at once is retried until ``timeout``.
        """
        started = time.monotonic()
        deadline = started + timeout
        log = self.workdir / "postgres.log"
        while time.monotonic() < deadline:
            with log.open("ab") as out:
                self.proc = subprocess.Popen(
                    [
                        str(PG_BIN / "postgres"),
                        "-D",
                        str(self.data),
                        "-p",
                        str(self.port),
                        "-k",
                        str(self.workdir / "sock"),
                        "-c",
                        "listen_addresses=127.0.0.1",
                        "-c",
                        "max_connections=60",
                    ],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group: cleanup by that id only
                    **_as_postgres(),
                )
            self.starts += 1
            while time.monotonic() < deadline and self.proc.poll() is None:
                with contextlib.suppress(psycopg.Error):
                    psycopg.connect(
                        f"postgresql://postgres@127.0.0.1:{self.port}/postgres", connect_timeout=2
                    ).close()
                    return time.monotonic() - started
                time.sleep(0.1)
            time.sleep(0.5)  # exited (shared memory still held by orphans): try again
        raise RuntimeError(f"private PostgreSQL did not start:\n{self.tail()}")

    def stop_fast(self) -> None:
        """``pg_ctl stop -m fast``: SIGINT to the postmaster, which ends every session."""
        self._signal(signal.SIGINT, wait=30.0)

    def kill9(self) -> None:
        """SIGKILL the postmaster only (its backends are left to notice and exit)."""
        self._signal(signal.SIGKILL, wait=10.0)

    def _signal(self, sig: signal.Signals, wait: float) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        os.kill(proc.pid, sig)
        proc.wait(timeout=wait)

    def create_database(self, name: str) -> str:
        """Create database ``name``; return its URL."""
        with psycopg.connect(
            f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def cleanup(self) -> None:
        """SIGKILL whatever is left of this server's process group (ours), then reap."""
        proc = self.proc
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)

    def tail(self, lines: int = 30) -> str:
        """The end of the server log."""
        try:
            text = (self.workdir / "postgres.log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A started :class:`PrivatePostgres` in a temporary directory of its own (the ``postgres``
    user must reach it, which pytest's per-user ``tmp_path`` does not allow); at the end its
    process group is killed and the directory removed."""
    workdir = Path(tempfile.mkdtemp(prefix="ninefold-faults-pg-"))
    pg = PrivatePostgres(workdir)
    try:
        pg.init()
        pg.start()
        yield pg
    finally:
        pg.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)


@dataclass
class AlertLoad(BackgroundLoop):
    """Posts alert ``n = 0, 1, 2, …`` every ``interval`` seconds to ``base`` (one attempt each)
    and records the answer of each: status code, ``Retry-After``, or the transport error."""

    base: str
    key: str
    run: str
    interval: float = 0.05
    answers: dict[int, tuple[int, str]] = field(default_factory=dict)
    """n -> (HTTP status or 0 for a transport error, Retry-After or the error's name)"""
    bodies: dict[int, str] = field(default_factory=dict)
    """n -> the answer's body for failures (to show what a client saw)"""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    STOP_TIMEOUT = 30.0  # after the request in flight

    def _loop(self) -> None:
        with httpx.Client(timeout=20) as client:
            n = 0
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    resp = client.post(
                        f"{self.base}/api/v2/alerts",
                        json=alert_body(n, self.run),
                        headers={"Authorization": f"Bearer {self.key}"},
                    )
                    answer = (resp.status_code, resp.headers.get("Retry-After", ""))
                    body = "" if resp.is_success else resp.text[:300]
                except httpx.HTTPError as exc:
                    answer, body = (0, type(exc).__name__), str(exc)[:300]
                with self._lock:
                    self.answers[n] = answer
                    if body:
                        self.bodies[n] = body
                n += 1
                self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))

    def acknowledged(self) -> set[int]:
        """Alerts that got a 2xx."""
        with self._lock:
            return {n for n, (code, _) in self.answers.items() if 200 <= code < 300}

    def failed(self) -> dict[int, tuple[int, str]]:
        """Alerts that did not, with what they got."""
        with self._lock:
            return {n: a for n, a in self.answers.items() if not 200 <= a[0] < 300}

    def count(self) -> int:
        """Acknowledged so far."""
        return len(self.acknowledged())


def alerts_of_run(base: str, token: str, run: str, timeout: float = 10.0) -> dict[int, list[Any]]:
    """Alert ``n`` -> the stored alerts labelled ``run`` and ``n``, read through the API."""
    found: dict[int, list[Any]] = {}
    offset = 0
    with httpx.Client(timeout=timeout, headers={"Authorization": f"Bearer {token}"}) as client:
        while True:
            resp = client.get(f"{base}/api/v1/alerts", params={"limit": 500, "offset": offset})
            resp.raise_for_status()
            page = resp.json()
            for item in page["items"]:
                labels = item["labels"]
                if labels.get("run") == run:
                    found.setdefault(int(labels["n"]), []).append(item)
            offset += len(page["items"])
            if not page["items"] or offset >= page["total"]:
                return found
