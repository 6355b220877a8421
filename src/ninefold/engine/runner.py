"""The periodic-job runner: runs engine modules on an interval in a background thread.

On PostgreSQL each module takes a session-level advisory lock first, so that with several
replicas each module runs on exactly one of them; on SQLite there is a single process.

The locks live on one dedicated connection per replica (not from the shared pool), with TCP
keepalives on both ends: when a leader is killed its socket closes and PostgreSQL drops the
locks at once; when its host vanishes the server drops the session after about
``LOCK_KEEPALIVE`` seconds of silence, and a leader that lost its connection stops leading at
its next tick. Replicas that do not lead a module try to take it every tick (whatever the
module's own interval) and run it as soon as they get it, so takeover needs one tick.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
import zlib
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from ninefold.audit.context import actor_scope

log = logging.getLogger("ninefold.engine")

Job = Callable[[Session, Any], object]


LOCK_KEEPALIVE = {"idle": 3, "interval": 1, "count": 3}
"""TCP keepalive of the lock connection (seconds, probes): a dead peer is noticed in ~6 s."""


def _lock_key(name: str) -> int:
    return zlib.crc32(f"ninefold:{name}".encode()) & 0x7FFFFFFF


def _lock_engine(engine: Engine) -> Engine:
    """An engine for the one lock connection: no pool, keepalives and a send timeout."""
    k = LOCK_KEEPALIVE
    return create_engine(
        engine.url,
        poolclass=NullPool,
        connect_args={
            "keepalives": 1,
            "keepalives_idle": k["idle"],
            "keepalives_interval": k["interval"],
            "keepalives_count": k["count"],
            # unacknowledged writes (a partitioned server) fail the connection after this
            "tcp_user_timeout": 1000 * (k["idle"] + k["interval"] * k["count"]),
            "connect_timeout": 5,
        },
    )


_FROZEN = threading.Event()


def _freeze_startup_objects() -> None:
    """Take what exists once the app is up (modules, routes, mappers, schemas) out of the cyclic
    garbage collector's sight, once per process.

    Those objects live as long as the process. The intake processor creates tens of thousands of
    objects per pass that survive into the oldest generation, so the collector ran collections
    that walked every one of them every few passes: about 9 % of the processing time
    (``bench/alerts_profile.py``). Garbage that already exists is collected first.
    """
    if _FROZEN.is_set():
        return
    _FROZEN.set()
    gc.collect()
    gc.freeze()


class EngineRunner:
    """Runs every registered job each ``evaluation_interval_seconds``."""

    def __init__(self, state: Any) -> None:
        self._state = state
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._delivery: threading.Thread | None = None
        self._intake: threading.Thread | None = None
        self._intake_wake = threading.Event()
        self._lock_conn: Any = None
        self._lock_db: Engine | None = None
        self._leading: dict[str, bool] = {}
        self._db_away = False

    def jobs(self) -> list[tuple[str, Callable[[Any], object], float]]:
        """The engine modules: name, a callable taking the app state, and interval in seconds."""
        from ninefold.alert.jobs import run_with_state as expire_alerts
        from ninefold.heartbeat.jobs import run_with_state as check_heartbeats
        from ninefold.incident.jobs import run_with_state as sync_incidents
        from ninefold.notification.jobs import health_with_state as channel_health
        from ninefold.oncall.jobs import run_with_state as pager
        from ninefold.postmortem.jobs import run_with_state as postmortems
        from ninefold.report.jobs import run_with_state as scheduled_reports
        from ninefold.slo.jobs import run_with_state

        settings = self._state.settings
        tick = float(settings.pager_interval_seconds)
        return [
            ("pager", pager, tick),
            ("heartbeats", check_heartbeats, tick),
            ("alert-expiry", expire_alerts, max(tick, 5.0)),
            ("channel-health", channel_health, max(tick, 10.0)),
            ("incident-timelines", sync_incidents, max(tick, 10.0)),
            ("postmortems", postmortems, max(tick, 60.0)),
            ("reports", scheduled_reports, max(tick, 60.0)),
            ("slo-evaluation", run_with_state, float(settings.evaluation_interval_seconds)),
        ]

    def leader_of(self) -> list[str]:
        """The engine modules this replica leads now (every module on SQLite once run)."""
        return sorted(name for name, held in self._leading.items() if held)

    def _set_leading(self, name: str, held: bool) -> None:
        if self._leading.get(name) == held:
            return
        self._leading[name] = held
        gauge = getattr(getattr(self._state, "metrics", None), "engine_leader", None)
        if gauge is not None:
            gauge.labels(name).set(1 if held else 0)
        if self._state.engine.dialect.name == "postgresql":
            log.info("engine module %s: %s", name, "leading" if held else "not leading")

    def _lose_all(self) -> None:
        for name in list(self._leading):
            self._set_leading(name, False)

    def start(self) -> None:
        """Start the background thread."""
        _freeze_startup_objects()
        self._thread = threading.Thread(target=self._loop, name="ninefold-engine", daemon=True)
        self._thread.start()
        self._delivery = threading.Thread(
            target=self._delivery_loop, name="ninefold-delivery", daemon=True
        )
        self._delivery.start()
        self._intake = threading.Thread(
            target=self._intake_loop, name="ninefold-intake", daemon=True
        )
        self._intake.start()

    def wake_intake(self) -> None:
        """Process the alert intake log now (called after a request committed a batch)."""
        self._intake_wake.set()

    def _intake_loop(self) -> None:
        # Every replica processes the intake log; an advisory lock makes them take turns on
        # PostgreSQL. Woken by requests; polls for rows left by a crash or another replica.
        from ninefold.alert.intake import drain

        interval = float(self._state.settings.intake_poll_seconds)
        while not self._stop.is_set():
            self._intake_wake.clear()
            try:
                with actor_scope("engine:alert-intake", clock=getattr(self._state, "clock", None)):
                    drain(self._state)
            except OperationalError as exc:  # accepted batches wait in the log meanwhile
                log.warning("alert intake paused: database unavailable (%s)", exc.orig)
            except Exception:
                log.exception("alert intake processing failed")
            self._intake_wake.wait(interval)

    def wake_delivery(self) -> None:
        """Deliver queued notifications now (called after a commit that queued some)."""
        self._wake.set()

    def _delivery_loop(self) -> None:
        # Delivery claims rows with SKIP LOCKED and leases, so every replica may run it at once;
        # it needs no leader. It runs every delivery interval, or at once when woken.
        from ninefold.notification.jobs import run_with_state as deliver

        interval = float(self._state.settings.delivery_interval_seconds)
        while not self._stop.is_set():
            # Cleared before delivering, not after waiting: a wake-up arriving between the end
            # of a wait that timed out and the clear would be lost until the next interval.
            self._wake.clear()
            try:
                with actor_scope("engine:delivery", clock=getattr(self._state, "clock", None)):
                    deliver(self._state)
            except OperationalError as exc:
                log.warning("notification delivery paused: database unavailable (%s)", exc.orig)
            except Exception:
                log.exception("notification delivery failed")
            self._wake.wait(interval)

    def stop(self) -> None:
        """Ask the loop to stop and wait for it."""
        self._stop.set()
        self._wake.set()
        self._intake_wake.set()
        if self._intake is not None:
            self._intake.join(timeout=30)
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._delivery is not None:
            self._delivery.join(timeout=30)
        if self._lock_conn is not None:
            # Closing would return the connection to the pool with its session, and its
            # advisory locks, still alive: release them and drop the connection for good.
            try:
                self._lock_conn.execute(text("SELECT pg_advisory_unlock_all()"))
                self._lock_conn.commit()
            except SQLAlchemyError:
                log.warning("could not release engine locks; dropping the connection")
            self._lock_conn.invalidate()
            self._lock_conn = None
        if self._lock_db is not None:
            self._lock_db.dispose()
            self._lock_db = None
        self._lose_all()

    def _is_leader(self, name: str) -> bool:
        engine = self._state.engine
        if engine.dialect.name != "postgresql":
            self._set_leading(name, True)
            return True
        try:
            if self._lock_conn is None:
                if self._lock_db is None:
                    self._lock_db = _lock_engine(engine)
                self._lock_conn = self._lock_db.connect()
                # Server side too: a backend whose client host vanished is dropped (and its
                # locks released) after a few seconds of silence instead of two hours.
                k = LOCK_KEEPALIVE
                for setting, value in (
                    ("tcp_keepalives_idle", k["idle"]),
                    ("tcp_keepalives_interval", k["interval"]),
                    ("tcp_keepalives_count", k["count"]),
                ):
                    self._lock_conn.execute(text(f"SET {setting} = {int(value)}"))
            # Re-taking a lock this session holds succeeds (and checks the session is alive).
            got = bool(
                self._lock_conn.execute(
                    text("SELECT pg_try_advisory_lock(:k)"), {"k": _lock_key(name)}
                ).scalar()
            )
            self._lock_conn.commit()
        except SQLAlchemyError as exc:
            if not isinstance(exc, OperationalError):
                log.warning("leader election failed; will retry", exc_info=True)
            elif not self._db_away:  # once per outage, not a traceback every tick
                log.warning("database unavailable (%s): engine modules paused", exc.orig)
            self._db_away = self._db_away or isinstance(exc, OperationalError)
            if self._lock_conn is not None:
                self._lock_conn.invalidate()
                self._lock_conn = None
            self._lose_all()  # the session, and every lock it held, is gone
            return False
        if self._db_away:
            self._db_away = False
            log.warning("database reachable again: engine leader election resumed")
        self._set_leading(name, got)
        return got

    def run_once(self, names: set[str] | None = None) -> None:
        """Run each job (or those named) for which this replica is leader."""
        for name, job, _ in self.jobs():
            if names is not None and name not in names:
                continue
            self._run(name, job)

    def _run(self, name: str, job: Callable[[Any], object], *, checked: bool = False) -> None:
        if not checked and not self._is_leader(name):
            return
        try:
            with actor_scope(f"engine:{name}", clock=getattr(self._state, "clock", None)):
                job(self._state)
        except Exception:
            log.exception("engine job %s failed", name)

    def _loop(self) -> None:
        # One thread, one tick: each module runs when its own interval has passed.
        jobs = self.jobs()
        tick = min(interval for _, _, interval in jobs)
        due = dict.fromkeys((name for name, _, _ in jobs), 0.0)
        while not self._stop.is_set():
            for name, job, interval in jobs:
                if time.monotonic() >= due[name]:
                    self._run(name, job)
                    due[name] = time.monotonic() + interval
                elif not self._leading.get(name) and self._is_leader(name):
                    # Taken over (the leader died): run now rather than a whole interval later.
                    self._run(name, job, checked=True)
                    due[name] = time.monotonic() + interval
            self._stop.wait(tick)
