"""Report benchmark: the full monthly reliability scorecard of a large organisation.

    .venv/bin/python bench/report.py [--quick] [--runs 3] [--skip-sqlite] [--skip-postgres]

Bulk-loads two years of synthetic history with SQLAlchemy Core executemany (1,000 services in
100 teams, 1,000 pushed SLOs with daily buckets, 100,000 incidents, 1,000,000 alerts with a
``received`` event each and a ``paged`` event for 30 % of them, 50,000 deploys, one weekly
schedule per team; ``--quick`` is ten times smaller) into a SQLite file under bench/data/ and a
dedicated schema of the PostgreSQL test database, then times ``report.flows.scorecard`` for the
whole organisation over 2026-10 (one warm-up, median and worst of ``--runs``), with the
tracemalloc peak of one run and the process RSS. Target: under 2 s.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import random
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine, Table, insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from ninefold.alert.models import Alert, AlertEvent
from ninefold.catalog.models import Service
from ninefold.db import migrate
from ninefold.db.engine import make_engine, make_session_factory
from ninefold.deploy.models import Deployment
from ninefold.identity.models import Team, TeamMember, User
from ninefold.incident.models import Incident, IncidentAlert, IncidentService
from ninefold.oncall.models import ScheduleRow
from ninefold.report.flows import scorecard
from ninefold.report.period import parse_period
from ninefold.slo.models import SLO, SloBucket

PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"
PG_SCHEMA = "bench_report"
DATA = Path(__file__).resolve().parent / "data"
END = datetime(2026, 11, 15, tzinfo=UTC)
START = END - timedelta(days=730)
PERIOD = "2026-10"
ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "America/Los_Angeles")
SEVERITIES = ("SEV1", "SEV2", "SEV2", "SEV3", "SEV3", "SEV3", "SEV4")
CHUNK = 20_000


def table(model: Any) -> Table:
    t = model.__table__
    assert isinstance(t, Table)
    return t


def chunks(rows: Iterator[dict[str, Any]], size: int = CHUNK) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def when(i: int, n: int, rng: random.Random) -> datetime:
    """The time of the ``i``-th of ``n`` rows: rows arrive in time order, as in a live system."""
    return START + (END - START) * ((i + rng.random()) / n)


class Loader:
    """Generates and inserts the synthetic organisation."""

    def __init__(self, engine: Engine, scale: float) -> None:
        self.engine, self.rng = engine, random.Random(42)
        self.services = int(1000 * scale)
        self.teams = max(int(100 * scale), 2)
        self.users = self.teams * 3
        self.incidents = int(100_000 * scale)
        self.alerts = int(1_000_000 * scale)
        self.deploys = int(50_000 * scale)
        self.counts: dict[str, int] = {}

    def put(self, model: Any, rows: Iterator[dict[str, Any]]) -> None:
        n, t0 = 0, time.perf_counter()
        sqlite = self.engine.dialect.name == "sqlite"
        for batch in chunks(rows):
            with self.engine.begin() as conn:
                if sqlite:  # a benchmark load: durability is not needed
                    conn.exec_driver_sql("PRAGMA synchronous=OFF")
                conn.execute(insert(table(model)), batch)
            n += len(batch)
        name = table(model).name
        self.counts[name] = self.counts.get(name, 0) + n
        print(f"  {name}: {n} rows in {time.perf_counter() - t0:.1f} s", flush=True)

    def load(self) -> None:
        rng, now = self.rng, END
        self.put(
            Team,
            (
                {
                    "id": t + 1,
                    "name": f"team-{t}",
                    "contact": {},
                    "managed": False,
                    "created_at": now,
                    "updated_at": now,
                }
                for t in range(self.teams)
            ),
        )
        self.put(
            User,
            (
                {
                    "id": u + 1,
                    "name": f"user-{u}",
                    "role": "responder",
                    "timezone": ZONES[u % len(ZONES)],
                    "managed": False,
                    "created_at": now,
                }
                for u in range(self.users)
            ),
        )
        self.put(
            TeamMember,
            (
                {"team_id": u // 3 + 1, "user_id": u + 1, "role": "member"}
                for u in range(self.users)
            ),
        )
        self.put(
            Service,
            (
                {
                    "id": s + 1,
                    "name": f"svc-{s}",
                    "tier": s % 3,
                    "owner_team_id": s % self.teams + 1,
                    "labels": {},
                    "gate_block_on_no_data": False,
                    "managed": False,
                    "created_at": now,
                    "updated_at": now,
                }
                for s in range(self.services)
            ),
        )
        spec = {"window": {"rolling": "30d"}, "source": "push", "sli": {"ratio": {}}}
        self.put(
            SLO,
            (
                {
                    "id": s + 1,
                    "name": f"slo-{s}",
                    "service_id": s + 1,
                    "objective": 0.999 if s % 2 else 0.99,
                    "sli_kind": "ratio",
                    "source": "push",
                    "budgeting": "occurrences",
                    "spec": {
                        **spec,
                        "name": f"slo-{s}",
                        "service": f"svc-{s}",
                        "objective": 0.999 if s % 2 else 0.99,
                    },
                    "managed": False,
                    "created_at": now,
                    "updated_at": now,
                }
                for s in range(self.services)
            ),
        )
        days = 730
        day0 = int(START.timestamp()) // 86400 * 86400

        def buckets() -> Iterator[dict[str, Any]]:
            for s in range(self.services):
                for d in range(days):
                    total = 10_000.0 + (s * 7 + d) % 500
                    bad = total * (0.0005 + ((s + d) % 23) / 10_000)
                    yield {
                        "res": 86400,
                        "start": day0 + d * 86400,
                        "slo_id": s + 1,
                        "good": total - bad,
                        "total": total,
                        "slice_good": 0,
                        "slice_total": 0,
                    }

        self.put(SloBucket, buckets())
        self.put(
            ScheduleRow,
            (
                {
                    "id": t + 1,
                    "name": f"team-{t}-primary",
                    "time_zone": "UTC",
                    "team_id": t + 1,
                    "layers": [
                        {
                            "name": "weekly",
                            "rotation": "weekly",
                            "start": "2024-01-01T09:00:00+00:00",
                            "participants": [f"user-{3 * t + k}" for k in range(3)],
                        }
                    ],
                    "managed": False,
                    "created_at": now,
                    "updated_at": now,
                }
                for t in range(self.teams)
            ),
        )

        def incidents() -> Iterator[dict[str, Any]]:
            for i in range(self.incidents):
                start = when(i, self.incidents, rng)
                det = start + timedelta(seconds=rng.randrange(60, 1800))
                ack = det + timedelta(seconds=rng.randrange(30, 3600))
                mit = ack + timedelta(seconds=rng.randrange(60, 7200))
                res = mit + timedelta(seconds=rng.randrange(60, 14400))
                open_ = rng.random() < 0.01
                yield {
                    "id": i + 1,
                    "title": f"incident {i}",
                    "summary": "",
                    "severity": rng.choice(SEVERITIES),
                    "status": "open" if open_ else "resolved",
                    "public_status": "investigating" if open_ else "resolved",
                    "links": {},
                    "started_at": start,
                    "detected_at": det,
                    "acknowledged_at": None if open_ else ack,
                    "mitigated_at": None if open_ else mit,
                    "resolved_at": None if open_ else res,
                    "declared_at": det,
                    "declared_by": "bench",
                    "updated_at": res,
                }

        self.put(Incident, incidents())
        self.put(
            IncidentService,
            (
                {
                    "incident_id": i + 1,
                    "service_id": rng.randrange(self.services) + 1,
                    "added_at": now,
                }
                for i in range(self.incidents)
            ),
        )

        starts: list[datetime] = []

        def alerts() -> Iterator[dict[str, Any]]:
            for a in range(self.alerts):
                svc = rng.randrange(self.services)
                name = f"Alert{rng.randrange(40)}"
                start = when(a, self.alerts, rng)
                starts.append(start)
                fp = f"{(svc * 40 + int(name[5:])) & 0xFFFFFFFFFFFF:016x}"
                ack = start + timedelta(minutes=5) if a % 3 else None
                yield {
                    "id": a + 1,
                    "dedup_key": f"bench:{a}",
                    "fingerprint": fp,
                    "source": "alertmanager",
                    "service_id": svc + 1,
                    "status": "resolved",
                    "severity": "error",
                    "summary": name,
                    "labels": {"alertname": name, "service": f"svc-{svc}"},
                    "annotations": {},
                    "details": {},
                    "starts_at": start,
                    "ends_at": start + timedelta(minutes=30),
                    "acknowledged_at": ack,
                    "acknowledged_by": "bench" if ack else None,
                    "resolved_at": start + timedelta(minutes=30),
                    "last_received_at": start,
                    "receive_count": 1,
                    "created_at": start,
                }

        self.put(Alert, alerts())
        # each alert's events in order: received, then (for 30 %) paged a minute later
        rng2 = random.Random(7)
        paged: list[int] = []

        def events() -> Iterator[dict[str, Any]]:
            for a in range(self.alerts):
                at = starts[a]
                yield {
                    "alert_id": a + 1,
                    "kind": "received",
                    "at": at,
                    "actor": None,
                    "details": {},
                }
                if rng2.random() < 0.3:
                    paged.append(a + 1)
                    yield {
                        "alert_id": a + 1,
                        "kind": "paged",
                        "at": at + timedelta(minutes=1),
                        "actor": None,
                        "details": {
                            "escalation": a + 1,
                            "user": f"user-{a % self.users}",
                            "channel": "app",
                            "level": 0,
                            "loop": 0,
                        },
                    }

        self.put(AlertEvent, events())
        attached = paged[::10][: self.incidents]
        self.put(
            IncidentAlert,
            (
                {"incident_id": k + 1, "alert_id": a, "attached_at": now, "attached_by": "bench"}
                for k, a in enumerate(attached)
            ),
        )

        def deploys() -> Iterator[dict[str, Any]]:
            for d in range(self.deploys):
                r = rng.random()
                at = when(d, self.deploys, rng)
                # 80 % know their commit time, ten minutes to five days before the deploy
                lead = timedelta(seconds=rng.randrange(600, 5 * 86400))
                yield {
                    "id": d + 1,
                    "service_id": rng.randrange(self.services) + 1,
                    "version": f"v{d}",
                    "commit": f"{d:08x}",
                    "committed_at": at - lead if rng.random() < 0.8 else None,
                    "deployed_at": at,
                    "outcome": "failure" if r < 0.05 else "rollback" if r < 0.1 else "success",
                    "created_by": "bench",
                    "created_at": now,
                }

        self.put(Deployment, deploys())


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def measure(engine: Engine, runs: int) -> dict[str, Any]:
    factory = make_session_factory(engine)
    period = parse_period(PERIOD)
    times: list[float] = []
    card = None
    for i in range(runs + 1):
        gc.collect()
        with factory() as session:
            t0 = time.perf_counter()
            card = scorecard(session, period=period, now=END)
            dt = time.perf_counter() - t0
        if i:
            times.append(dt)
    gc.collect()
    tracemalloc.start()
    with factory() as session:
        scorecard(session, period=period, now=END)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert card is not None
    return {
        "median": statistics.median(times),
        "worst": max(times),
        "peak_mb": peak / 2**20,
        "rss_mb": rss_mb(),
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "incidents": card.incidents.total,
        "pages": card.oncall.pages,
        "deploys": card.dora.deploys,
        "slos": card.slo.overall.slos,
        "shifts": card.oncall.shifts,
    }


def pg_urls(base: str) -> str:
    url = base.replace("postgresql://", "postgresql+psycopg://", 1)
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{PG_SCHEMA}"


def prepare(name: str, args: argparse.Namespace) -> Engine:
    if name == "sqlite":
        DATA.mkdir(exist_ok=True)
        path = DATA / f"report{'-quick' if args.quick else ''}.db"
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                Path(str(path) + suffix).unlink()
        engine = make_engine(f"sqlite:///{path}")
    else:
        with psycopg.connect(args.postgres_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{PG_SCHEMA}" CASCADE')
            conn.execute(f'CREATE SCHEMA "{PG_SCHEMA}"')
        engine = make_engine(pg_urls(args.postgres_url))
    migrate.upgrade(engine)
    return engine


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="ten times smaller data")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip-sqlite", action="store_true")
    ap.add_argument("--skip-postgres", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the PostgreSQL schema")
    ap.add_argument(
        "--postgres-url", default=os.environ.get("NINEFOLD_BENCH_POSTGRES_URL", PG_DEFAULT)
    )
    args = ap.parse_args(argv)
    scale = 0.1 if args.quick else 1.0
    results: list[tuple[str, dict[str, Any], float, dict[str, int]]] = []
    for name in ("sqlite", "postgresql"):
        if getattr(args, f"skip_{name if name == 'sqlite' else 'postgres'}"):
            continue
        engine = prepare(name, args)
        t0 = time.perf_counter()
        loader = Loader(engine, scale)
        loader.load()
        if name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
        else:
            with engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
        load_s = time.perf_counter() - t0
        print(f"{name}: loaded {loader.counts} in {load_s:.1f} s", flush=True)
        results.append((name, measure(engine, args.runs), load_s, loader.counts))
        engine.dispose()
        if name == "postgresql" and not args.keep:
            with psycopg.connect(args.postgres_url, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{PG_SCHEMA}" CASCADE')
    print()
    print(
        f"monthly scorecard ({PERIOD}) of the whole organisation{' (--quick: 1/10 data)' if args.quick else ''}"
    )
    print(
        f"{'database':<11} {'median s':>9} {'worst s':>8} {'tracemalloc MB':>15} {'RSS MB':>7} {'maxRSS MB':>10} {'incidents':>9} {'pages':>6} {'deploys':>7} {'SLOs':>5} {'shifts':>6} {'load s':>7}"
    )
    ok = True
    for name, r, load_s, _ in results:
        print(
            f"{name:<11} {r['median']:>9.3f} {r['worst']:>8.3f} {r['peak_mb']:>15.1f} {r['rss_mb']:>7.0f} {r['maxrss_mb']:>10.0f} {r['incidents']:>9} {r['pages']:>6} {r['deploys']:>7} {r['slos']:>5} {r['shifts']:>6} {load_s:>7.1f}"
        )
        ok = ok and r["median"] < 2.0
    print(f"target < 2 s: {'met' if ok else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
