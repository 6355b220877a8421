"""Profile the alert intake processor alone: statements and time per processed alert.

    .venv/bin/python bench/alerts_profile.py [--postgres URL] [--alerts 20000] [--cprofile N]

Fills the intake log with ``--alerts`` distinct alerts in rows of 100 (the shape
``bench/alerts.py`` sends, with its routing file), then drains it with the processor the engine
runs (:func:`ninefold.alert.intake.drain`), counting SQL statements with a
``before_cursor_execute`` listener. On PostgreSQL a schema of its own is created and dropped.
With ``--cprofile N`` the N functions with the most cumulative time are printed.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import pstats
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alerts import bulk_labels, make_alert
from alerts_peer import CHANNEL, ninefold_routing
from sqlalchemy import event, insert, text

from ninefold.alert import intake
from ninefold.alert.models import IntakeBatch, Integration
from ninefold.app import create_app
from ninefold.config import Settings
from ninefold.db import migrate
from ninefold.db.engine import make_engine
from ninefold.notification.models import NotificationChannel


def _setup(url: str, workdir: Path) -> Any:
    engine = make_engine(url)
    migrate.upgrade(engine)
    routing = workdir / "routing.yml"
    routing.write_text(ninefold_routing(), encoding="utf-8")
    settings = Settings(database_url=url, routing_file=routing)
    app = create_app(settings, engine=engine, start_engine=False)
    return app.state


def _fill(state: Any, alerts: int, run: str, offset: int = 0) -> int:
    now = datetime.now(UTC)
    with state.session_factory() as s, s.begin():
        iid = s.scalar(text("SELECT id FROM integrations WHERE name = 'bench'"))
        if iid is None:
            row = Integration(
                name="bench",
                kind="alertmanager",
                key_prefix="x",
                key_hash=uuid.uuid4().hex,
                config={},
                created_at=now,
            )
            s.add(row)
            s.flush()
            iid = row.id
        rows = []
        for start in range(offset, offset + alerts, 100):
            batch = [make_alert(bulk_labels(run, i), now) for i in range(start, start + 100)]
            rows.append(
                {
                    "integration_id": iid,
                    "format": intake.AM_API,
                    "payload": json.dumps(batch),
                    "items": len(batch),
                    "received_at": now,
                    "attempts": 0,
                }
            )
        if rows:
            s.execute(insert(IntakeBatch), rows)
    return int(iid)


@contextlib.contextmanager
def _statement_times(engine: Any) -> Iterator[tuple[Counter[str], defaultdict[str, float]]]:
    """Count and time every statement ``engine`` runs meanwhile (by its first 110 characters)."""
    statements: Counter[str] = Counter()
    seconds: defaultdict[str, float] = defaultdict(float)
    began: list[float] = [0.0]

    def count(_conn: Any, _cursor: Any, stmt: str, *_args: Any) -> None:
        statements[" ".join(stmt.split())[:110]] += 1
        began[0] = time.perf_counter()

    def took(_conn: Any, _cursor: Any, stmt: str, *_args: Any) -> None:
        seconds[" ".join(stmt.split())[:110]] += time.perf_counter() - began[0]

    event.listen(engine, "before_cursor_execute", count)
    event.listen(engine, "after_cursor_execute", took)
    try:
        yield statements, seconds
    finally:
        event.remove(engine, "before_cursor_execute", count)
        event.remove(engine, "after_cursor_execute", took)


def _drain(state: Any, profile: cProfile.Profile | None) -> tuple[float, Counter[str]]:
    with _statement_times(state.engine) as (statements, seconds):
        started, cpu = time.perf_counter(), time.process_time()
        if profile is not None:
            profile.enable()
        while intake.drain(state).rows:
            pass
        if profile is not None:
            profile.disable()
        elapsed = time.perf_counter() - started
    print(f"processor CPU {time.process_time() - cpu:.2f} s of {elapsed:.2f} s")
    for stmt, t in sorted(seconds.items(), key=lambda kv: -kv[1])[:8]:
        print(f"{1000 * t:8.1f} ms in  {stmt}")
    return elapsed, statements


def _probe_row(state: Any, iid: int, probe: str) -> None:
    labels = {"alertname": "BenchProbe", "bench": "probe", "probe_id": probe}
    payload = json.dumps([make_alert(labels, datetime.now(UTC))])
    with state.session_factory() as s, s.begin():
        intake.accept(
            s,
            integration_id=iid,
            format=intake.AM_API,
            payload=payload,
            items=1,
            now=state.clock.now(),
        )


def _probes(state: Any, iid: int, n: int, profile: cProfile.Profile | None) -> None:
    """Process ``n`` probe alerts (each its own group, notified at once) one pass each."""
    with state.session_factory() as s, s.begin():
        s.add(
            NotificationChannel(
                name=CHANNEL,
                kind="webhook",
                target="http://127.0.0.1:9/",
                created_at=state.clock.now(),
            )
        )
    times = []
    with _statement_times(state.engine) as (statements, seconds):
        for i in range(n):
            _probe_row(state, iid, f"p{i}")
            started = time.perf_counter()
            if profile is not None:
                profile.enable()
            done = intake.drain(state)
            if profile is not None:
                profile.disable()
            times.append(time.perf_counter() - started)
            assert done.queued == 1, done
    times.sort()
    total = sum(statements.values())
    print(
        f"{n} probes: pass p50 {1000 * times[n // 2]:.2f} ms, p99 {1000 * times[n * 99 // 100]:.2f} ms,"
        f" {total / n:.1f} statements per probe"
    )
    print(f"in statements (driver and server): {1000 * sum(seconds.values()) / n:.2f} ms per probe")
    for stmt, k in statements.most_common(40):
        print(f"{k / n:5.1f} {1000 * seconds[stmt] / n:6.2f} ms  {stmt}")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--postgres", metavar="URL", help="postgresql+psycopg://… (own schema)")
    ap.add_argument("--alerts", type=int, default=20000)
    ap.add_argument("--warm", type=int, default=20000, help="alerts processed before measuring")
    ap.add_argument("--cprofile", type=int, default=0)
    ap.add_argument("--sort", default="cumulative", help="cProfile order (tottime, cumulative)")
    ap.add_argument("--probes", type=int, default=0, help="then N probes, one pass each")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        schema = f"prof_{uuid.uuid4().hex[:8]}"
        admin = None
        if args.postgres:
            admin = make_engine(args.postgres)
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            sep = "&" if "?" in args.postgres else "?"
            url = f"{args.postgres}{sep}options=-csearch_path%3D{schema}"
        else:
            url = f"sqlite:///{workdir / 'prof.db'}"
        try:
            state = _setup(url, workdir)
            run = uuid.uuid4().hex[:6]
            if args.warm:
                _fill(state, args.warm, run)
                warm, _ = _drain(state, None)
                print(f"warm-up: {args.warm} alerts in {warm:.2f} s ({args.warm / warm:,.0f}/s)")
            profile = cProfile.Profile() if args.cprofile else None
            if args.probes:
                iid = _fill(state, 0, run)
                _probes(state, iid, args.probes, profile)
                if profile is not None:
                    pstats.Stats(profile, stream=sys.stdout).sort_stats(args.sort).print_stats(
                        args.cprofile
                    )
                state.engine.dispose()
                return 0
            _fill(state, args.alerts, run, offset=args.warm)
            elapsed, statements = _drain(state, profile)
            total = sum(statements.values())
            print(
                f"{args.alerts} alerts in {elapsed:.2f} s: {args.alerts / elapsed:,.0f} alerts/s, "
                f"{total} statements ({total / args.alerts:.3f} per alert)"
            )
            for stmt, n in statements.most_common(25):
                print(f"{n:7d}  {stmt}")
            if profile is not None:
                pstats.Stats(profile, stream=sys.stdout).sort_stats(args.sort).print_stats(
                    args.cprofile
                )
            state.engine.dispose()
        finally:
            if admin is not None:
                with admin.begin() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
