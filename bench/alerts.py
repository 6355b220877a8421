"""Alert intake benchmark: ninefold beside a real Prometheus Alertmanager, in the same run.

    .venv/bin/python bench/alerts.py [--quick] [--postgres] [--alerts 100000] [--single 5000]
                                     [--probes 200] [--resends 10000] [--workers 8]

For each system in turn (ninefold on SQLite, optionally ninefold on PostgreSQL, then
Alertmanager; only the system under test is running), with the same client code:

1. ingestion: ``--alerts`` distinct alerts through ``POST /api/v2/alerts`` in batches of 100 from
   ``--workers`` keep-alive connections, then ``--single`` more one alert per request;
2. memory: RSS (``VmRSS``) of the server process before any alert and with all alerts open;
3. latency from sending a probe alert to its webhook notification arriving at a loopback sink
   (group_wait 0s, each probe its own group): ``--probes`` sequential probes idle, then as many
   while a background sender posts 1,000 new alerts/s (10 per request every 10 ms);
4. deduplication: one alert re-sent ``--resends`` times (one per request, ``--workers`` at once)
   must give exactly one notification (repeat_interval 4h; counted 3 s after the last re-send).

Bulk alerts route to a receiver without channels, so both systems only store them; see
``alerts_peer.py`` for the shared route tree. Everything is bounded in time (``--timeout``) and
every process is stopped by PID at the end. Figures go to bench/data/alerts.json too.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

import httpx
import psycopg
from alerts_peer import (
    BENCH,
    AlertmanagerServer,
    NinefoldServer,
    Sink,
    cpu_seconds,
    report,
    rss_mib,
    source_revision,
)

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
PG_DB = "ninefold_bench_alerts"
BATCH = 100
BACKGROUND_RATE = 1000  # alerts per second while measuring latency under load
BACKGROUND_TICK = 0.01  # one request every 10 ms, so 10 alerts per request
PROBE_TIMEOUT = 10.0  # seconds to wait for one probe's notification


class Target(Protocol):
    """A running system under test (ninefold or Alertmanager)."""

    name: str
    label: str
    headers: dict[str, str]

    @property
    def url(self) -> str: ...
    @property
    def pid(self) -> int: ...
    def open_alerts(self) -> int: ...
    def log_tail(self) -> str: ...
    def stop(self) -> None: ...


class BenchTimeout(Exception):
    """The whole run took longer than ``--timeout``."""


# -- alerts ----------------------------------------------------------------------------------


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def make_alert(labels: dict[str, str], now: datetime) -> dict[str, Any]:
    """One alert in Alertmanager API v2 form, open for two hours."""
    return {
        "labels": labels,
        "annotations": {
            "summary": f"{labels['alertname']} on {labels.get('instance', 'bench')}",
            "description": "Synthetic alert of bench/alerts.py.",
        },
        "startsAt": _iso(now),
        "endsAt": _iso(now + timedelta(hours=2)),
        "generatorURL": "http://prometheus.bench:9090/graph?g0.expr=up+%3D%3D+0",
    }


def bulk_labels(run: str, i: int) -> dict[str, str]:
    """Labels of the i-th distinct bulk alert (routes to the receiver without channels)."""
    return {
        "alertname": f"BenchAlert{i % 50}",
        "severity": ("critical", "warning", "info")[i % 3],
        "job": f"job-{i % 20}",
        "instance": f"host-{i // 20}.bench:9100",
        "run": run,
        "seq": str(i),
    }


def bodies(run: str, start: int, n: int, size: int) -> list[bytes]:
    """JSON bodies of ``n`` distinct alerts, ``size`` per request, encoded before timing."""
    now = datetime.now(UTC)
    out = []
    for lo in range(start, start + n, size):
        hi = min(lo + size, start + n)
        out.append(json.dumps([make_alert(bulk_labels(run, i), now) for i in range(lo, hi)]))
    return [b.encode() for b in out]


def probe_body(probe: str) -> bytes:
    """A probe alert (routes to the webhook sink) identified by its ``probe_id`` label."""
    labels = {"alertname": "BenchProbe", "bench": "probe", "probe_id": probe}
    return json.dumps([make_alert(labels, datetime.now(UTC))]).encode()


# -- measurements ----------------------------------------------------------------------------


@dataclass
class Blast:
    """Result of posting a list of bodies from several connections."""

    alerts: int
    requests: int
    seconds: float
    statuses: dict[str, int]
    request_p50_ms: float
    request_p99_ms: float
    server_cpu_s: float

    @property
    def rate(self) -> float:
        return self.alerts / self.seconds if self.seconds else 0.0

    @property
    def failed(self) -> int:
        return sum(n for code, n in self.statuses.items() if code != "200")


def _quantile(values: Sequence[float], q: int) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def blast(target: Target, payloads: Sequence[bytes], per_body: int, workers: int) -> Blast:
    """POST every body to ``/api/v2/alerts`` from ``workers`` keep-alive connections."""
    next_index = count()
    statuses: Counter[str] = Counter()
    took: list[float] = []
    lock = threading.Lock()
    headers = {"Content-Type": "application/json", **target.headers}

    def work() -> None:
        mine: list[float] = []
        codes: Counter[str] = Counter()
        with httpx.Client(base_url=target.url, headers=headers, timeout=60) as client:
            while (i := next(next_index)) < len(payloads):
                t0 = time.perf_counter()
                try:
                    code = str(client.post("/api/v2/alerts", content=payloads[i]).status_code)
                except httpx.HTTPError as exc:
                    code = type(exc).__name__
                mine.append(time.perf_counter() - t0)
                codes[code] += 1
        with lock:
            took.extend(mine)
            statuses.update(codes)

    threads = [threading.Thread(target=work, daemon=True) for _ in range(workers)]
    cpu0 = cpu_seconds(target.pid)
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    return Blast(
        alerts=len(payloads) * per_body,
        requests=len(payloads),
        seconds=seconds,
        statuses=dict(statuses),
        request_p50_ms=_quantile(took, 50) * 1000,
        request_p99_ms=_quantile(took, 99) * 1000,
        server_cpu_s=cpu_seconds(target.pid) - cpu0,
    )


@dataclass
class Latency:
    """Probe-to-notification latency."""

    probes: int
    received: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    ack_p50_ms: float
    background_rate: float = 0.0
    background_failed: int = 0


class Background:
    """Posts ``BACKGROUND_RATE`` new alerts per second from a thread until stopped."""

    def __init__(self, target: Target, run: str, seconds: float) -> None:
        per = int(BACKGROUND_RATE * BACKGROUND_TICK)
        self.payloads = bodies(run, 0, int(BACKGROUND_RATE * seconds), per)
        self.per = per
        self.target = target
        self.sent = 0
        self.failed = 0
        self.seconds = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        headers = {"Content-Type": "application/json", **self.target.headers}
        with httpx.Client(base_url=self.target.url, headers=headers, timeout=30) as client:
            start = due = time.perf_counter()
            for body in self.payloads:
                if self._stop.is_set():
                    break
                try:
                    ok = client.post("/api/v2/alerts", content=body).status_code == 200
                except httpx.HTTPError:
                    ok = False
                self.sent += self.per if ok else 0
                self.failed += 0 if ok else self.per
                due += BACKGROUND_TICK
                late = time.perf_counter() - due
                if late < 0:
                    self._stop.wait(-late)
                elif late > 1.0:  # far behind: do not burst to catch up
                    due = time.perf_counter()
            self.seconds = time.perf_counter() - start

    def __enter__(self) -> Background:
        self._thread.start()
        time.sleep(1.0)  # let the load settle before the first probe
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


def _tag(target: Target) -> str:
    """The system's label as a probe id prefix: unique per system of one run (both ninefold
    systems are called "ninefold"; shared ids mixed their notifications up in the sink)."""
    return re.sub(r"[^A-Za-z0-9]+", "-", target.label).strip("-")


def latency(target: Target, sink: Sink, run: str, probes: int) -> Latency:
    """Send probes one after another; each waits for its notification at the sink."""
    took: list[float] = []
    acks: list[float] = []
    headers = {"Content-Type": "application/json", **target.headers}
    with httpx.Client(base_url=target.url, headers=headers, timeout=30) as client:
        for i in range(probes):
            probe = f"{run}-{i}"
            body = probe_body(probe)
            t0 = time.perf_counter()
            answer = client.post("/api/v2/alerts", content=body)
            acks.append(time.perf_counter() - t0)
            if answer.status_code != 200:
                continue
            arrived = sink.wait(probe, PROBE_TIMEOUT)
            if arrived is not None:
                took.append(arrived - t0)
            time.sleep(0.02)
    return Latency(
        probes=probes,
        received=len(took),
        p50_ms=_quantile(took, 50) * 1000,
        p95_ms=_quantile(took, 95) * 1000,
        p99_ms=_quantile(took, 99) * 1000,
        max_ms=max(took, default=float("nan")) * 1000,
        ack_p50_ms=_quantile(acks, 50) * 1000,
    )


@dataclass
class Figures:
    """Everything measured on one system."""

    label: str
    batch: Blast | None = None
    single: Blast | None = None
    rss_start_mib: float = 0.0
    rss_open_mib: float = 0.0
    open_alerts: int = 0
    idle: Latency | None = None
    loaded: Latency | None = None
    resends: Blast | None = None
    dedup_notifications: int = -1
    processed_rate: float = 0.0
    """Batched alerts per second from the first request until all of them are open alerts
    (ninefold answers once a batch is in its durable intake log and processes it after)."""
    load: tuple[float, float] = (0.0, 0.0)
    notes: list[str] = field(default_factory=list)


def wait_open(target: Target, expected: int, started: float, timeout: float) -> float:
    """Seconds from ``started`` until ``expected`` alerts are open (polled every 0.1 s)."""
    deadline = started + timeout
    while time.perf_counter() < deadline:
        if target.open_alerts() >= expected:
            return time.perf_counter() - started
        time.sleep(0.1)
    return float("inf")


def measure(target: Target, sink: Sink, args: argparse.Namespace) -> Figures:
    """All measurements on one running system."""
    f = Figures(target.label)
    load_before = os.getloadavg()[0]
    say = _say(target.label)
    time.sleep(1.0)
    f.rss_start_mib = rss_mib(target.pid)
    say(f"ingesting {args.alerts:,} alerts in batches of {BATCH}")
    started = time.perf_counter()
    f.batch = blast(target, bodies("batch", 0, args.alerts, BATCH), BATCH, args.workers)
    say(f"  {f.batch.rate:,.0f} alerts/s, {f.batch.statuses}")
    f.processed_rate = args.alerts / wait_open(target, args.alerts, started, args.timeout)
    say(f"  all {args.alerts:,} open: {f.processed_rate:,.0f} alerts/s processed")
    time.sleep(2.0)
    f.rss_open_mib = rss_mib(target.pid)
    f.open_alerts = target.open_alerts()
    say(f"  RSS {f.rss_open_mib:,.0f} MiB with {f.open_alerts:,} open alerts")
    say(f"ingesting {args.single:,} alerts one per request")
    f.single = blast(target, bodies("single", 0, args.single, 1), 1, args.workers)
    say(f"  {f.single.rate:,.0f} alerts/s, {f.single.statuses}")
    say(f"latency, {args.probes} probes, idle")
    f.idle = latency(target, sink, f"{_tag(target)}-idle", args.probes)
    say(f"  p50 {f.idle.p50_ms:.1f} ms, p99 {f.idle.p99_ms:.1f} ms")
    say(f"latency, {args.probes} probes, background {BACKGROUND_RATE:,} alerts/s")
    with Background(target, "background", args.probes * 0.5 + 60) as bg:
        f.loaded = latency(target, sink, f"{_tag(target)}-loaded", args.probes)
    f.loaded.background_rate = bg.rate
    f.loaded.background_failed = bg.failed
    say(f"  p50 {f.loaded.p50_ms:.1f} ms, p99 {f.loaded.p99_ms:.1f} ms, bg {bg.rate:,.0f}/s")
    say(f"one alert re-sent {args.resends:,} times")
    probe = f"{_tag(target)}-dedup"
    f.resends = blast(target, [probe_body(probe)] * args.resends, 1, args.workers)
    time.sleep(3.0)
    f.dedup_notifications = sink.count(probe)
    say(f"  {f.dedup_notifications} notification(s), {f.resends.statuses}")
    f.load = (load_before, os.getloadavg()[0])
    return f


def _say(label: str) -> Any:
    start = time.monotonic()

    def say(text: str) -> None:
        print(f"[{time.monotonic() - start:6.1f}s] {label}: {text}", flush=True)

    return say


# -- systems ---------------------------------------------------------------------------------


def _label(name: str, args: argparse.Namespace) -> str:
    return name if args.serve_workers == 1 else f"{name} ×{args.serve_workers}"


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh database ``PG_DB`` on the local PostgreSQL, dropped at the end."""
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {PG_DB}")
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{PG_DB}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")


def run_system(start: Any, sink: Sink, args: argparse.Namespace, results: list[Figures]) -> None:
    """Start one system, measure it, stop it (by PID) whatever happens."""
    target: Target | None = None
    try:
        target = start()
        results.append(measure(target, sink, args))
    except BenchTimeout:
        raise
    except Exception as exc:
        label = getattr(target, "label", "?")
        print(f"!! {label}: {type(exc).__name__}: {exc}", file=sys.stderr)
        if target is not None:
            print(target.log_tail(), file=sys.stderr)
        raise
    finally:
        if target is not None:
            tail = target.log_tail().strip()
            target.stop()
            if tail and "error" in tail.lower():
                print(f"{target.label} log (end):\n{tail[-1200:]}", file=sys.stderr)


# -- main ------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="10,000 alerts, 1,000 single, 50 probes")
    ap.add_argument("--alerts", type=int, help="distinct alerts in batches (default 100,000)")
    ap.add_argument("--single", type=int, help="alerts one per request (default 5,000)")
    ap.add_argument("--probes", type=int, help="latency probes per phase (default 200)")
    ap.add_argument("--resends", type=int, help="re-sends of one alert (default 10,000)")
    ap.add_argument("--workers", type=int, default=8, help="client connections (default 8)")
    ap.add_argument(
        "--postgres", action="store_true", help=f"also ninefold on PostgreSQL ({PG_DB})"
    )
    ap.add_argument(
        "--serve-workers",
        type=int,
        default=1,
        help="ninefold serve --workers N (web worker processes; the engine runs once)",
    )
    ap.add_argument("--skip-sqlite", action="store_true", help="no ninefold-on-SQLite run")
    ap.add_argument("--timeout", type=int, default=1800, help="give up after this many seconds")
    args = ap.parse_args(argv)
    quick = {"alerts": 10_000, "single": 1_000, "probes": 50, "resends": 2_000}
    full = {"alerts": 100_000, "single": 5_000, "probes": 200, "resends": 10_000}
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def _alarm(_signum: int, _frame: FrameType | None) -> None:
    raise BenchTimeout("the benchmark ran over --timeout")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(args.timeout)
    started = time.monotonic()
    source = source_revision()
    results: list[Figures] = []
    sink = Sink().start()
    try:
        with (
            tempfile.TemporaryDirectory(prefix="ninefold-alerts-") as tmp,
            contextlib.ExitStack() as stack,
        ):
            work = Path(tmp)
            if not args.skip_sqlite:
                run_system(
                    lambda: NinefoldServer(
                        work / "nf-sqlite",
                        f"sqlite:///{work}/ninefold.db",
                        sink.url("ninefold"),
                        _label("ninefold SQLite", args),
                        args.serve_workers,
                    ).start(),
                    sink,
                    args,
                    results,
                )
            if args.postgres:
                url = stack.enter_context(postgres_database())
                run_system(
                    lambda: NinefoldServer(
                        work / "nf-pg",
                        url,
                        sink.url("ninefold"),
                        _label("ninefold PostgreSQL", args),
                        args.serve_workers,
                    ).start(),
                    sink,
                    args,
                    results,
                )
            run_system(
                lambda: AlertmanagerServer(work / "am", sink.url("alertmanager")).start(),
                sink,
                args,
                results,
            )
    finally:
        signal.alarm(0)
        sink.stop()
    report(results, args, time.monotonic() - started, source)
    out = BENCH / "data" / "alerts.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps(
            {"args": vars(args), "source": source, "results": [asdict(f) for f in results]},
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
