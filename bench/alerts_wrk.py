"""Alert ingestion throughput with a load generator that is not the bottleneck: ``wrk``.

    .venv/bin/python bench/alerts_wrk.py [--seconds 10] [--connections 8] [--serve-workers 2]
                                         [--postgres] [--skip-sqlite]

``bench/alerts.py`` sends from Python threads with httpx, which on this two-core machine cannot
send much more than ~30,000 alerts/s in batches of 100 or ~1,300 requests/s one alert per
request: it measures Alertmanager's rate capped by the client. This script measures the two
ingestion figures of the issue again with ``wrk`` (Debian package ``wrk``: C, two threads, Lua
bodies generated inside wrk), for Alertmanager (Debian) and ninefold (``ninefold serve
--workers N``) one after the other in the same run, each with the same route tree as
``alerts.py`` (bulk alerts go to a receiver without channels):

1. batches of 100 distinct alerts per ``POST /api/v2/alerts``, ``--connections`` keep-alive
   connections, ``--seconds`` long;
2. one distinct alert per request, same connections and duration.

Every 2xx from ninefold means the batch was committed (durable intake log); non-2xx answers are
counted and reported. Prints alerts/s, request p50/p99 and the ratio to Alertmanager.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from alerts import postgres_database
from alerts_peer import AlertmanagerServer, NinefoldServer, Sink, stop_process
from sqlalchemy import text

from ninefold.db.engine import make_engine

LUA = """
local per = tonumber(os.getenv("PER") or "100")
local run = os.getenv("RUN") or "run"
local counter = 0
local threads = 0
local headers = {["Content-Type"] = "application/json"}
if os.getenv("AUTH") then headers["Authorization"] = os.getenv("AUTH") end

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local function alert(seq)
  return string.format(
    '{"labels":{"alertname":"BenchAlert%d","severity":"warning","job":"job-%d",' ..
    '"instance":"host-%s.bench:9100","run":"%s","seq":"%s"},' ..
    '"annotations":{"summary":"BenchAlert on host-%s","description":"Synthetic alert."},' ..
    '"startsAt":"%s","generatorURL":"http://prometheus.bench:9090/graph?g0.expr=up"}',
    counter % 50, counter % 20, seq, run, seq, seq, os.date("!%Y-%m-%dT%H:%M:%SZ"))
end

function request()
  counter = counter + 1
  local parts = {}
  for i = 1, per do
    parts[i] = alert(string.format("%d-%d-%d", tid, counter, i))
  end
  return wrk.format("POST", "/api/v2/alerts", headers, "[" .. table.concat(parts, ",") .. "]")
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK %d %.6f %.3f %.3f %d %d\\n", summary.requests,
    summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.status, e.connect + e.read + e.write + e.timeout))
end
"""


@dataclass
class Rate:
    """One wrk run."""

    alerts_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    accepted: int
    """Alerts answered with 2xx."""


def hit(url: str, auth: str | None, per: int, seconds: int, connections: int, run: str) -> Rate:
    """wrk against ``url``/api/v2/alerts with ``per`` alerts per request."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(LUA)
    env = {**os.environ, "PER": str(per), "RUN": run}
    if auth:
        env["AUTH"] = auth
    try:
        cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s"]
        out = subprocess.run(
            [*cmd, "-s", f.name, url],
            capture_output=True,
            text=True,
            env=env,
            check=True,
            timeout=seconds + 120,
        )
    finally:
        os.unlink(f.name)
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("WRK "))
    n, took, p50, p99, non2xx, sock = line.split()[1:]
    ok = int(n) - int(non2xx)
    return Rate(ok * per / float(took), float(p50), float(p99), int(non2xx), int(sock), ok * per)


def measure(url: str, auth: str | None, args: argparse.Namespace) -> list[Rate]:
    """Both figures for one running system (a pause between them to let work settle)."""
    out = []
    for per in (100, 1):
        out.append(hit(url, auth, per, args.seconds, args.connections, f"r{per}-{time.time_ns()}"))
        time.sleep(args.pause)
    return out


def stored_alerts(url: str) -> int:
    """Alerts on disk after the run: processed into ``alerts``, or still in the intake log."""
    engine = make_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            processed = conn.execute(text("SELECT count(*) FROM alerts")).scalar_one()
            waiting = conn.execute(
                text("SELECT coalesce(sum(items), 0) FROM alert_intake WHERE failed_at IS NULL")
            ).scalar_one()
        return int(processed) + int(waiting)
    finally:
        engine.dispose()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--serve-workers", type=int, default=2)
    p.add_argument("--pause", type=float, default=5.0, help="seconds between the two figures")
    p.add_argument("--postgres", action="store_true", help="also ninefold on PostgreSQL")
    p.add_argument("--skip-sqlite", action="store_true")
    args = p.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    results: list[tuple[str, list[Rate]]] = []
    stored: list[str] = []
    sink = Sink().start()
    work = Path(tempfile.mkdtemp(prefix="ninefold-bench-wrk-"))
    load_before = os.getloadavg()
    try:
        systems: list[tuple[str, str | None]] = []
        if not args.skip_sqlite:
            systems.append(("ninefold SQLite", f"sqlite:///{work / 'sqlite' / 'ninefold.db'}"))
        if args.postgres:
            systems.append(("ninefold PostgreSQL", "postgres"))
        systems.append(("Alertmanager", None))
        for label, db in systems:
            print(f"{label}: measuring", flush=True)
            if db is None:
                am = AlertmanagerServer(work / "am", sink.url("/hook")).start()
                try:
                    results.append((label, measure(am.url, None, args)))
                finally:
                    stop_process(am.process)
                continue
            with contextlib.ExitStack() as stack:
                url = stack.enter_context(postgres_database()) if db == "postgres" else db
                where = work / label.split()[-1].lower()
                where.mkdir(parents=True, exist_ok=True)
                nf = NinefoldServer(
                    where, url, sink.url("/hook"), label, serve_workers=args.serve_workers
                ).start()
                try:
                    auth = nf.headers["Authorization"]
                    rates = measure(nf.url, auth, args)
                    results.append((label, rates))
                finally:
                    stop_process(nf.process)
                kept = stored_alerts(url)
                accepted = sum(r.accepted for r in rates)
                verdict = "every one" if kept >= accepted else "MISSING SOME"
                stored.append(f"{label}: {accepted:,} alerts accepted, {kept:,} stored ({verdict})")
    finally:
        sink.stop()
        shutil.rmtree(work, ignore_errors=True)
    load_after = os.getloadavg()
    am_rates = dict(results)["Alertmanager"]
    print(
        f"\nwrk, {args.connections} connections, {args.seconds} s per figure; ninefold with "
        f"serve --workers {args.serve_workers}; machine: {os.cpu_count()} cores, load average "
        f"{load_before[0]:.2f} before, {load_after[0]:.2f} after\n"
    )
    print(
        f"{'system':<22} {'measure':<22} {'alerts/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'non-2xx':>8} {'ratio':>6}"
    )
    for label, rates in results:
        for name, rate, peer in zip(
            ("batches of 100", "one per request"), rates, am_rates, strict=True
        ):
            ratio = rate.alerts_per_s / peer.alerts_per_s if peer.alerts_per_s else float("nan")
            print(
                f"{label:<22} {name:<22} {rate.alerts_per_s:>9,.0f} {rate.p50_ms:>8.1f} "
                f"{rate.p99_ms:>8.1f} {rate.non_2xx + rate.socket_errors:>8} {ratio:>6.2f}"
            )
    print("\ndurability check (both figures' runs):")
    for line in stored:
        print(f"  {line}")
    return 0 if all("MISSING" not in line for line in stored) else 1


if __name__ == "__main__":
    sys.exit(main())
