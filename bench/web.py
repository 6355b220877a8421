"""Web console latency: p50/p95 of the overview, an SLO page and an incident page, with 1,000
services, 3,000 SLOs and 10,000 past incidents, under 20 concurrent logged-in clients.

    .venv/bin/python bench/web.py [--services 1000] [--slos-per-service 3] [--incidents 10000]
                                  [--clients 20] [--seconds 30] [--workers 2] [--no-engine]
                                  [--client wrk|httpx] [--postgres URL]

The organisation is bulk-inserted (SLO buckets: 30 daily, 72 hourly, 36 ten-minute and 60 minute
buckets per SLO, so every burn window reads real rows); ninefold runs as ``ninefold serve
--workers 2`` in a separate process: two web workers and, in the parent, the engine (which
evaluates every SLO each 30 s and stores the statuses the overview reads); measuring starts after
its first evaluation. The load generator is ``wrk`` (Debian package ``wrk``: C, two threads,
``--clients`` connections sharing one login), falling back to Python threads with httpx, which
take about a core of their own on a two-core machine. Each page is requested without pause by
every client for ``--seconds``. Prints p50/p95/max per page and PASS/FAIL against the target,
p95 under 150 ms (exit status 1 if any page fails), with the machine's load average: latencies
mean little on a machine busy with other work, so the server's CPU time per request (workers and
engine together) is printed too (20 clients on C free cores wait about 20 × that / C).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, Table, insert, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from ninefold.catalog.models import Service, ServiceDependency  # noqa: E402
from ninefold.db import migrate  # noqa: E402
from ninefold.db.engine import make_engine, make_session_factory  # noqa: E402
from ninefold.identity.models import Team, User  # noqa: E402
from ninefold.incident.models import Incident, IncidentService, TimelineEntry  # noqa: E402
from ninefold.slo.models import SLO, SloBucket  # noqa: E402
from ninefold.web import auth  # noqa: E402

DATA = ROOT / "bench" / "data"
NOW = datetime.now(UTC).replace(second=0, microsecond=0)
PASSWORD = "bench-password-1"
CHUNK = 20_000
TARGET_MS = 150.0
WORKERS = 2


def _table(model: Any) -> Table:
    t = model.__table__
    assert isinstance(t, Table)
    return t


def _put(engine: Engine, model: Any, rows: Iterator[dict[str, Any]]) -> int:
    n, batch = 0, []
    for row in rows:
        batch.append(row)
        if len(batch) >= CHUNK:
            with engine.begin() as conn:
                conn.execute(insert(_table(model)), batch)
            n, batch = n + len(batch), []
    if batch:
        with engine.begin() as conn:
            conn.execute(insert(_table(model)), batch)
        n += len(batch)
    return n


def load(engine: Engine, services: int, per_service: int, incidents: int) -> None:
    """Bulk-insert the organisation."""
    rng, now = random.Random(7), NOW
    teams = 50
    _put(
        engine,
        Team,
        (
            {"id": t + 1, "name": f"team-{t}", "contact": {}, "created_at": now, "updated_at": now}
            for t in range(teams)
        ),
    )
    _put(
        engine,
        User,
        iter([{"id": 1, "name": "bench", "role": "admin", "timezone": "UTC", "created_at": now}]),
    )
    _put(
        engine,
        Service,
        (
            {
                "id": s + 1,
                "name": f"svc-{s:04d}",
                "tier": s % 4,
                "owner_team_id": s % teams + 1,
                "labels": {},
                "gate_block_on_no_data": False,
                "created_at": now,
                "updated_at": now,
            }
            for s in range(services)
        ),
    )
    _put(
        engine,
        ServiceDependency,
        (
            {"service_id": s + 1, "depends_on_id": (s * 7 + k) % services + 1}
            for s in range(services)
            for k in (1, 2)
            if (s * 7 + k) % services != s
        ),
    )
    n_slos = services * per_service

    def slos() -> Iterator[dict[str, Any]]:
        for i in range(n_slos):
            svc = i % services
            name = f"slo-{i:05d}"
            objective = (0.99, 0.995, 0.999)[i % 3]
            yield {
                "id": i + 1,
                "name": name,
                "service_id": svc + 1,
                "objective": objective,
                "sli_kind": "ratio",
                "source": "push",
                "budgeting": "occurrences",
                "spec": {
                    "name": name,
                    "service": f"svc-{svc:04d}",
                    "objective": objective,
                    "window": {"rolling": "30d"},
                    "source": "push",
                    "sli": {"ratio": {}},
                },
                "created_at": now,
                "updated_at": now,
            }

    _put(engine, SLO, slos())
    minute = int(now.timestamp()) // 60 * 60

    def buckets() -> Iterator[dict[str, Any]]:
        for i in range(n_slos):
            bad_rate = 0.0005 + (i % 17) / 10_000 + (0.05 if i % 50 == 0 else 0.0)
            for res, count in ((86400, 30), (3600, 72), (600, 36), (60, 60)):
                top = minute // res * res
                for k in range(count):
                    total = float(res * 10)
                    yield {
                        "res": res,
                        "start": top - k * res,
                        "slo_id": i + 1,
                        "good": total * (1 - bad_rate),
                        "total": total,
                        "slice_good": 0,
                        "slice_total": 0,
                    }

    _put(engine, SloBucket, buckets())

    def past() -> Iterator[dict[str, Any]]:
        for i in range(incidents):
            start = now - timedelta(minutes=rng.randrange(10, 365 * 24 * 60))
            open_ = i < 20
            done = start + timedelta(hours=2)
            yield {
                "id": i + 1,
                "title": f"incident {i}",
                "summary": "",
                "severity": rng.choice(("SEV1", "SEV2", "SEV3", "SEV4")),
                "status": "open" if open_ else "resolved",
                "public_status": "investigating" if open_ else "resolved",
                "links": {},
                "started_at": start,
                "detected_at": start,
                "acknowledged_at": None if open_ else done,
                "mitigated_at": None if open_ else done,
                "resolved_at": None if open_ else done,
                "declared_at": start,
                "declared_by": "bench",
                "updated_at": done,
            }

    _put(engine, Incident, past())
    _put(
        engine,
        IncidentService,
        (
            {"incident_id": i + 1, "service_id": rng.randrange(services) + 1, "added_at": now}
            for i in range(incidents)
        ),
    )
    _put(
        engine,
        TimelineEntry,
        (
            {
                "incident_id": 1,
                "kind": "note",
                "at": now - timedelta(minutes=60 - k),
                "actor": "bench",
                "message": f"note {k}",
                "details": {},
                "key_moment": k % 10 == 0,
                "created_at": now,
            }
            for k in range(40)
        ),
    )
    with make_session_factory(engine)() as session, session.begin():
        auth.set_password(session, user_name="bench", password=PASSWORD, now=now)
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")


def _serve(url: str, port: int, workers: int, engine: bool) -> subprocess.Popen[bytes]:
    """``ninefold serve --workers N`` on ``url``: the engine (SLO evaluation every 30 s, pager,
    delivery …) once in the parent, as in production, unless ``engine`` is False."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "NINEFOLD_DATABASE_URL": url,
        "NINEFOLD_LOG_LEVEL": "warning",
        "NINEFOLD_ENGINE_ENABLED": "true" if engine else "false",
    }
    cmd = [sys.executable, "-m", "ninefold", "serve", "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--workers", str(workers)]
    return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)


def _wait_snapshot(url: str, timeout: float) -> bool:
    """Wait for the engine's first stored SLO evaluation (what the overview reads)."""
    engine = make_engine(url)
    try:
        until = time.monotonic() + timeout
        while time.monotonic() < until:
            with engine.connect() as conn:
                if conn.execute(text("SELECT count(*) FROM slo_snapshots")).scalar():
                    return True
            time.sleep(0.5)
        return False
    finally:
        engine.dispose()


def _login(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=60)
    form = client.get("/ui/login").text
    token = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    r = client.post(
        "/ui/login",
        data={"username": "bench", "password": PASSWORD, "csrf_token": token, "next": "/ui/"},
    )
    if r.status_code != 303:
        raise RuntimeError(f"login failed: {r.status_code}")
    return client


def measure(
    sessions: list[httpx.Client],
    path: str,
    requests: int,
    min_seconds: float,
    started: Callable[[], None] = lambda: None,
) -> list[float]:
    """Latencies (ms) of GETs of ``path`` from every client's thread at once: at least
    ``requests`` in all and for at least ``min_seconds`` (so that the overview's SLO snapshot,
    recomputed every 15 s in each worker, is recomputed while measuring, as in production)."""
    for s in sessions:
        s.get(path).raise_for_status()  # warm-up: every client, so every worker
    started()
    out: list[float] = []
    lock = threading.Lock()
    per = max(requests // len(sessions), 1)
    until = time.perf_counter() + min_seconds

    def worker(client: httpx.Client) -> None:
        done = 0
        while done < per or time.perf_counter() < until:
            t0 = time.perf_counter()
            r = client.get(path)
            ms = (time.perf_counter() - t0) * 1000
            r.raise_for_status()
            done += 1
            with lock:
                out.append(ms)

    threads = [threading.Thread(target=worker, args=(s,)) for s in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


WRK_SCRIPT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK %d %.3f %.3f %.3f %d\\n", summary.requests,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency.max / 1000,
    e.status + e.connect + e.read + e.write + e.timeout))
end
"""


@dataclass
class Figures:
    """What one page measured."""

    requests: int
    p50: float
    p95: float
    max: float
    errors: int = 0


def from_latencies(lat: list[float]) -> Figures:
    return Figures(len(lat), statistics.median(lat), _pct(lat, 0.95), max(lat))


def measure_wrk(
    base: str, cookie: str, path: str, clients: int, seconds: float, started: Callable[[], None]
) -> Figures:
    """``wrk`` (C, two threads) keeping ``clients`` connections busy for ``seconds``: a load
    generator that leaves the two cores to the server, where Python client threads took one."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(WRK_SCRIPT)
    try:
        started()
        out = subprocess.run(
            [
                "wrk",
                "-t2",
                f"-c{clients}",
                f"-d{int(seconds)}s",
                "--timeout",
                "30s",
                "-H",
                f"Cookie: {cookie}",
                "-s",
                f.name,
                f"{base}{path}",
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 120,
        ).stdout
    finally:
        os.unlink(f.name)
    line = next(ln for ln in out.splitlines() if ln.startswith("WRK "))
    n, p50, p95, mx, errors = line.split()[1:]
    return Figures(int(n), float(p50), float(p95), float(mx), int(errors))


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its descendants so far (Linux /proc; NaN
    elsewhere): with the request count, what a page costs whatever else the machine runs."""
    tick = os.sysconf("SC_CLK_TCK")
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return float("nan")
    own = (int(fields[11]) + int(fields[12])) / tick
    return own + sum(_cpu_seconds(int(c)) for c in children)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def main() -> int:
    """Prepare, serve, measure, print the table."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--services", type=int, default=1000)
    p.add_argument("--slos-per-service", type=int, default=3)
    p.add_argument("--incidents", type=int, default=10_000)
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--requests", type=int, default=200, help="per page, at least (httpx)")
    p.add_argument("--seconds", type=float, default=30.0, help="per page, at least")
    p.add_argument("--workers", type=int, default=WORKERS, help="web worker processes")
    p.add_argument("--no-engine", action="store_true", help="serve without the engine")
    p.add_argument(
        "--client",
        choices=("wrk", "httpx"),
        default="wrk" if shutil.which("wrk") else "httpx",
        help="load generator: wrk (Debian package wrk) or Python threads with httpx",
    )
    p.add_argument("--postgres", help="also run on this PostgreSQL URL (a bench schema is used)")
    p.add_argument("--skip-sqlite", action="store_true", help="measure PostgreSQL only")
    args = p.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    targets = []
    path = DATA / "web.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    if not args.skip_sqlite:
        targets.append(("sqlite", f"sqlite:///{path}"))
    if args.postgres:
        base = args.postgres.replace("postgresql://", "postgresql+psycopg://", 1)
        admin = make_engine(base)
        with admin.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS ninefold_web_bench CASCADE"))
            conn.execute(text("CREATE SCHEMA ninefold_web_bench"))
        admin.dispose()
        sep = "&" if "?" in base else "?"
        targets.append(("postgresql", f"{base}{sep}options=-csearch_path%3Dninefold_web_bench"))
    rows: list[tuple[str, str, Figures, float]] = []
    load_before = os.getloadavg()
    for name, url in targets:
        engine = make_engine(url)
        migrate.upgrade(engine)
        t0 = time.perf_counter()
        load(engine, args.services, args.slos_per_service, args.incidents)
        print(f"{name}: loaded in {time.perf_counter() - t0:.1f} s", flush=True)
        engine.dispose()
        port = 18000 + random.randrange(1000)
        server = _serve(url, port, args.workers, not args.no_engine)
        base_url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):
                try:
                    if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            if not args.no_engine and not _wait_snapshot(url, 120):
                raise RuntimeError("the engine stored no SLO evaluation within 120 s")
            # one login shared by every client (logins are rate limited per address)
            first = _login(base_url)
            sessions = [first] + [
                httpx.Client(base_url=base_url, timeout=60, cookies=first.cookies)
                for _ in range(args.clients - 1)
            ]
            cookie = "; ".join(f"{k}={v}" for k, v in first.cookies.items())
            for label, page in (
                ("overview", "/ui/"),
                ("SLO page", "/ui/slos/slo-00050"),
                ("incident page", "/ui/incidents/1"),
            ):
                for s in sessions:
                    s.get(page).raise_for_status()  # warm-up: every client, so every worker
                cpu0 = [0.0]

                def start(pid: int = server.pid, box: list[float] = cpu0) -> None:
                    box[0] = _cpu_seconds(pid)

                if args.client == "wrk":
                    fig = measure_wrk(base_url, cookie, page, args.clients, args.seconds, start)
                else:
                    fig = from_latencies(
                        measure(sessions, page, args.requests, args.seconds, start)
                    )
                cpu = (_cpu_seconds(server.pid) - cpu0[0]) * 1000 / max(fig.requests, 1)
                rows.append((name, label, fig, cpu))
                print(f"  {name} {label}: done", flush=True)
            for client in sessions:
                client.close()
        finally:
            server.terminate()
            server.wait(timeout=30)
    slos = args.services * args.slos_per_service
    load_after = os.getloadavg()
    print(
        f"\n{args.services} services, {slos} SLOs, {args.incidents} incidents, "
        f"{args.clients} concurrent clients ({args.client}), {args.workers} web worker(s), "
        f"engine {'off' if args.no_engine else 'on'}; target p95 < {TARGET_MS:.0f} ms\n"
        f"machine: {os.cpu_count()} cores, load average {load_before[0]:.2f} before, "
        f"{load_after[0]:.2f} after (1 min)\n"
    )
    print(
        f"{'database':<11} {'page':<14} {'requests':>8} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'max ms':>8} {'cpu ms/req':>10}  result"
    )
    failed = 0
    for name, label, fig, cpu in rows:
        ok = fig.p95 < TARGET_MS and fig.errors == 0
        failed += not ok
        errors = f" ({fig.errors} errors)" if fig.errors else ""
        print(
            f"{name:<11} {label:<14} {fig.requests:>8} {fig.p50:>8.1f} {fig.p95:>8.1f} "
            f"{fig.max:>8.1f} {cpu:>10.2f}  {'PASS' if ok else 'FAIL'}{errors}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
