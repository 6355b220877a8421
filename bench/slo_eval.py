"""SLO evaluation benchmark: 1,000 SLOs × 30 days of per-minute pushed data, on SQLite and
PostgreSQL, beside a real Prometheus holding the same 30 days for 100 services.

    .venv/bin/python bench/slo_eval.py [--slos 1000] [--days 30] [--prom-services 100]
                                       [--skip-postgres] [--skip-prometheus] [--quick]

What it does (see bench/README.md for the figures):

1. Builds the catalog (10 teams, 100 services, 1,000 SLOs with mixed objectives and windows) in a
   SQLite file under bench/data/ and in a dedicated schema of the PostgreSQL test database, then
   generates every ``slo_buckets`` row of 30 days of per-minute events (43.2 M minute buckets plus
   the 10-minute, hour and day buckets) and bulk-loads them: SQLite with executemany in one
   transaction per day and ``synchronous=OFF``; PostgreSQL with a binary COPY, keys and indexes
   rebuilt afterwards and a VACUUM ANALYZE (what autovacuum does in production).
2. Checks on a sample of SLOs that the loaded rows equal what ninefold's own ingest flow
   (``flows.ingest_batch``) stores for the same events.
3. In a fresh child process per database, times ``jobs.run`` (full evaluation of every SLO: SLI,
   budget, seven burn windows, alert decisions and transitions, commit) and ``evaluate_slos``,
   one warm-up then median and worst of ``--runs``; tracemalloc peak and ru_maxrss; the same
   evaluation with every SLO on a 1d, 7d and 30d window to show the cost does not grow with the
   window length.
4. Backfills the same 30 days for ``--prom-services`` services into a real Prometheus with
   ``promtool tsdb create-blocks-from openmetrics`` and times Prometheus's own 30-day error
   ratio and the four multiwindow burn-rate conditions, ninefold's full evaluation through
   PrometheusSource, and the pushed-data path for the same SLOs.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import multiprocessing
import os
import resource
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import traceback
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import chain
from operator import itemgetter
from pathlib import Path
from queue import Empty
from typing import Any

import psycopg
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from slo_data import (
    AT,
    COARSE,
    SloDef,
    catalog,
    data_start,
    day_chunks,
    events_of,
    service_name,
    slo_chunk,
    team_name,
)
from slo_prom import PrometheusPeer
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, selectinload

from ninefold.catalog.models import Service
from ninefold.catalog.spec import SLOSpec
from ninefold.db import migrate
from ninefold.db.engine import make_engine, make_session_factory
from ninefold.identity.models import Team
from ninefold.slo import flows, jobs, store
from ninefold.slo.models import SLO, SloBucket
from ninefold.slo.schemas import Event, EventBatch, SLOStatus
from ninefold.slo.windows import decompose

BENCH = Path(__file__).resolve().parent
DATA = BENCH / "data"
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"
PG_SCHEMA = "ninefold_bench"
TARGET_SECONDS = 1.0

console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)


# -- catalog ----------------------------------------------------------------------------------


def create_catalog(engine: Engine, defs: Sequence[SloDef], *, prometheus: bool = False) -> None:
    """Teams, services and SLOs of ``defs`` (ids follow the SLO index order)."""
    now = AT
    with make_session_factory(engine)() as s, s.begin():
        teams: dict[int, Team] = {}
        services: dict[int, Service] = {}
        for d in sorted(defs, key=lambda d: d.index):
            if d.team not in teams:
                teams[d.team] = Team(
                    name=team_name(d.team), contact={}, created_at=now, updated_at=now
                )
                s.add(teams[d.team])
                s.flush()
            if d.service not in services:
                services[d.service] = Service(
                    name=service_name(d.service),
                    tier=d.service % 4,
                    owner_team_id=teams[d.team].id,
                    labels={},
                    created_at=now,
                    updated_at=now,
                )
                s.add(services[d.service])
                s.flush()
        for d in sorted(defs, key=lambda d: d.index):
            spec = SLOSpec.model_validate(d.spec(prometheus=prometheus))
            s.add(
                SLO(
                    name=spec.name,
                    service_id=services[d.service].id,
                    objective=spec.objective,
                    sli_kind=spec.sli.kind,
                    source=spec.source,
                    budgeting=spec.budgeting,
                    spec=spec.model_dump(mode="json"),
                    created_at=now,
                    updated_at=now,
                )
            )
        s.flush()


def slo_ids(engine: Engine) -> dict[str, int]:
    """SLO name → id."""
    with make_session_factory(engine)() as s:
        return {name: sid for sid, name in s.execute(select(SLO.id, SLO.name))}


# -- bulk loading -----------------------------------------------------------------------------


class Sink:
    """Receives bucket rows in primary-key order (res, start, slo_id)."""

    name = ""
    seconds = 0.0
    rows = 0

    def write(self, rows: list[Any]) -> None:
        started = time.perf_counter()
        self._write(rows)
        self.seconds += time.perf_counter() - started
        self.rows += len(rows)

    def _write(self, rows: list[Any]) -> None:
        raise NotImplementedError

    def finish(self) -> dict[str, float]:
        raise NotImplementedError


class SqliteSink(Sink):
    """executemany, one transaction per day of data, synchronous=OFF; secondary index rebuilt."""

    name = "SQLite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=DELETE")
        self.conn.execute("PRAGMA synchronous=OFF")
        self.conn.execute("PRAGMA cache_size=-1000000")
        self.conn.execute("DROP INDEX ix_slo_buckets_slo")

    def _write(self, rows: list[Any]) -> None:
        self.conn.execute("BEGIN")
        self.conn.executemany(
            "INSERT INTO slo_buckets (res, start, slo_id, good, total, slice_good, slice_total) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        self.conn.execute("COMMIT")

    def finish(self) -> dict[str, float]:
        started = time.perf_counter()
        self.conn.execute("CREATE INDEX ix_slo_buckets_slo ON slo_buckets (slo_id, res, start)")
        index = time.perf_counter() - started
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.close()
        return {"index_s": index}


class PostgresSink(Sink):
    """Binary COPY into the table without keys; keys, index and FK rebuilt, then VACUUM ANALYZE."""

    name = "PostgreSQL"

    def __init__(self, conninfo: str) -> None:
        self.conn = psycopg.connect(conninfo, autocommit=True)
        self.conn.execute(
            "ALTER TABLE slo_buckets DROP CONSTRAINT pk_slo_buckets, "
            "DROP CONSTRAINT fk_slo_buckets_slo_id_slos"
        )
        self.conn.execute("DROP INDEX ix_slo_buckets_slo")
        self._cursor = self.conn.cursor()
        self._copy_cm = self._cursor.copy(
            "COPY slo_buckets (res, start, slo_id, good, total, slice_good, slice_total) "
            "FROM STDIN (FORMAT BINARY)"
        )
        self._copy = self._copy_cm.__enter__()
        self._copy.set_types(["int4", "int8", "int4", "float8", "float8", "int4", "int4"])

    def _write(self, rows: list[Any]) -> None:
        write_row = self._copy.write_row
        for row in rows:
            write_row(row)

    def finish(self) -> dict[str, float]:
        started = time.perf_counter()
        self._copy_cm.__exit__(None, None, None)
        self._cursor.close()
        self.seconds += time.perf_counter() - started
        self.conn.execute("SET maintenance_work_mem = '3GB'")
        steps = {
            "pk_s": "ALTER TABLE slo_buckets ADD CONSTRAINT pk_slo_buckets "
            "PRIMARY KEY (res, start, slo_id)",
            "ix_s": "CREATE INDEX ix_slo_buckets_slo ON slo_buckets (slo_id, res, start)",
            "fk_s": "ALTER TABLE slo_buckets ADD CONSTRAINT fk_slo_buckets_slo_id_slos "
            "FOREIGN KEY (slo_id) REFERENCES slos (id) ON DELETE CASCADE",
            "vacuum_s": "VACUUM ANALYZE slo_buckets",
        }
        out = {}
        for key, sql in steps.items():
            started = time.perf_counter()
            self.conn.execute(sql)
            out[key] = time.perf_counter() - started
        out["index_s"] = out["pk_s"] + out["ix_s"] + out["fk_s"]
        self.conn.close()
        return out


def _load_worker(
    kind: str,
    target: str,
    defs: list[SloDef],
    ids: dict[str, int],
    start: int,
    minutes: int,
    queue: Any,
) -> None:
    """Generate every bucket row day by day and load it into one database, in primary-key
    order (runs in its own process, one per database, so that both load at once)."""
    gc.disable()  # millions of live tuples: the collector would rescan them again and again
    try:
        sink: Sink = SqliteSink(Path(target)) if kind == "SQLite" else PostgresSink(target)
        ordered = sorted(defs, key=lambda d: ids[d.name])
        coarse: dict[int, list[Any]] = {res: [] for res in COARSE}
        generate = 0.0
        minute_rows = 0
        for j0, j1 in day_chunks(start, minutes):
            started = time.perf_counter()
            per_slo = [slo_chunk(d, ids[d.name], start, j0, j1) for d in ordered]
            rows = [
                r
                for r in chain.from_iterable(zip(*(c.minute_rows for c in per_slo), strict=True))
                if r
            ]
            for res in COARSE:
                coarse[res].extend(chain.from_iterable(c.coarse[res] for c in per_slo))
            generate += time.perf_counter() - started
            sink.write(rows)
            minute_rows += len(rows)
            queue.put((kind, "step", sink.rows, "minute buckets"))
        for res in COARSE:
            started = time.perf_counter()
            rows = sorted(coarse.pop(res), key=itemgetter(1, 2))
            generate += time.perf_counter() - started
            sink.write(rows)
            queue.put((kind, "step", sink.rows, f"{res} s buckets"))
        queue.put(
            (
                kind,
                "phase",
                sink.rows,
                "keys, indexes" + (", VACUUM ANALYZE" if kind == "PostgreSQL" else ""),
            )
        )
        finish = sink.finish()
        result = {
            "rows": sink.rows,
            "minute_rows": minute_rows,
            "generate_s": generate,
            "load_s": sink.seconds,
            **finish,
        }
        queue.put((kind, "done", result))
    except BaseException:
        queue.put((kind, "error", traceback.format_exc()))


def load_all(
    targets: dict[str, str],
    defs: Sequence[SloDef],
    ids: dict[str, int],
    start: int,
    minutes: int,
    peer: PrometheusPeer | None,
) -> dict[str, Any]:
    """Load every database in its own process while Prometheus is backfilled in a thread.

    ``targets`` maps "SQLite" to the file path and "PostgreSQL" to the libpq conninfo.
    """
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = {
        kind: ctx.Process(
            target=_load_worker,
            args=(kind, target, list(defs), ids, start, minutes, queue),
            name=f"load-{kind}",
        )
        for kind, target in targets.items()
    }
    for proc in procs.values():
        proc.start()
    steps = len(day_chunks(start, minutes)) + len(COARSE) + 1
    columns = (
        TextColumn("[bold]{task.description:<10}"),
        BarColumn(bar_width=30),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[info]}"),
    )
    out: dict[str, Any] = {}
    try:
        with Progress(*columns, console=console) as progress:
            tasks = {kind: progress.add_task(kind, total=steps, info="") for kind in procs}
            thread = None
            if peer is not None:
                ptask = progress.add_task("Prometheus", total=None, info="")

                def report(text: str) -> None:
                    progress.update(ptask, info=text)

                thread = threading.Thread(target=peer.prepare, args=(report,), daemon=True)
                thread.start()
            began = time.perf_counter()
            pending = set(procs)
            while pending:
                try:
                    kind, what, *payload = queue.get(timeout=1.0)
                except Empty:
                    for kind in pending:
                        if not procs[kind].is_alive():
                            raise RuntimeError(
                                f"the {kind} loader died (exit code {procs[kind].exitcode})"
                            ) from None
                    continue
                if what == "error":
                    raise RuntimeError(f"loading {kind} failed:\n{payload[0]}")
                if what == "done":
                    out[kind] = payload[0]
                    pending.discard(kind)
                    info = f"{payload[0]['rows']:,} rows loaded, keys and indexes built"
                    progress.update(tasks[kind], advance=1, info=info)
                    continue
                rows, label = payload
                rate = rows / (time.perf_counter() - began) / 1e6
                progress.update(
                    tasks[kind],
                    advance=1 if what == "step" else 0,
                    info=f"{rows:,} rows · {label}"
                    + (f" · {rate:.2f} M rows/s" if what == "step" else ""),
                )
            if thread is not None:
                while thread.is_alive():
                    thread.join(0.5)
                progress.update(ptask, total=1, completed=1)
    finally:
        for proc in procs.values():
            if proc.is_alive() and proc.pid is not None and len(out) < len(procs):
                proc.terminate()
            proc.join()
    return out


# -- ingest cross-check -----------------------------------------------------------------------


def _bucket_set(session: Session, slo_id: int, cut: int) -> set[tuple[Any, ...]]:
    rows = session.execute(
        select(
            SloBucket.res,
            SloBucket.start,
            SloBucket.good,
            SloBucket.total,
            SloBucket.slice_good,
            SloBucket.slice_total,
        ).where(SloBucket.slo_id == slo_id, SloBucket.start >= cut)
    )
    return {(r[0], r[1], float(r[2]), float(r[3]), r[4], r[5]) for r in rows}


def verify_sample(
    defs: Sequence[SloDef], start: int, minutes: int, targets: dict[str, str], days: int
) -> dict[str, Any]:
    """Ingest sample SLOs through ``flows.ingest_batch`` and compare with the loaded rows.

    Every sample SLO gets its whole range of events, in batches of 10,000, into a scratch SQLite
    database; its buckets must equal, row for row, the bulk-loaded ones on every backend.
    """
    picks = _sample(defs)
    path = DATA / "verify.db"
    _remove_sqlite(path)
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    create_catalog(engine, picks)
    ids = slo_ids(engine)
    factory = make_session_factory(engine)
    limits = flows.IngestLimits(max_age=timedelta(days=days + 400), max_future=timedelta(0))
    results = []
    started = time.perf_counter()
    events_total = 0
    ingest_s = 0.0
    for d in picks:
        cut = 0
        events = list(events_of(d, start, minutes))
        events_total += len(events)
        for n, i in enumerate(range(0, len(events), 10_000)):
            batch = EventBatch(
                batch_id=f"bench-{n}",
                events=[
                    Event(timestamp=datetime.fromtimestamp(ts, UTC), good=g, total=t)
                    for ts, g, t in events[i : i + 10_000]
                ],
            )
            begun = time.perf_counter()
            with factory() as s, s.begin():
                slo = store.get_slo(s, name=d.name)
                flows.ingest_batch(s, slo=slo, batch=batch, now=AT, limits=limits)
            ingest_s += time.perf_counter() - begun
        with factory() as s:
            expected = _bucket_set(s, ids[d.name], cut)
        row = {"slo": d.name, "kind": d.kind, "rows": len(expected), "events": len(events)}
        for label, url in targets.items():
            other = make_engine(url)
            with make_session_factory(other)() as s:
                other_id = s.scalar(select(SLO.id).where(SLO.name == d.name))
                assert other_id is not None
                got = _bucket_set(s, other_id, cut)
            other.dispose()
            row[label] = "equal" if got == expected else f"DIFFERENT ({len(got ^ expected)} rows)"
        results.append(row)
    engine.dispose()
    _remove_sqlite(path)
    ok = all(v == "equal" for r in results for k, v in r.items() if k in targets)
    return {
        "ok": ok,
        "slos": results,
        "events": events_total,
        "ingest_s": ingest_s,
        "seconds": time.perf_counter() - started,
    }


def _sample(defs: Sequence[SloDef]) -> list[SloDef]:
    """A few SLOs covering every data shape: burning, calendar, low traffic, stopped, slices."""
    wanted: list[SloDef] = []
    checks: list[Callable[[SloDef], bool]] = [
        lambda d: d.budgeting == "occurrences" and bool(d.incidents),
        lambda d: "calendar" in d.window,
        lambda d: d.base < 2,
        lambda d: d.stops_at is not None,
        lambda d: d.slice_minutes == 1,
        lambda d: d.slice_minutes == 5,
    ]
    for check in checks:
        for d in defs:
            if check(d) and d not in wanted:
                wanted.append(d)
                break
    return wanted


# -- measuring (child process) ----------------------------------------------------------------


#: CPU seconds of this process per timed call of the last :func:`_timed` (for the report).
_LAST_CPU: list[float] = []


def _timed(fn: Callable[[], Any], runs: int) -> tuple[float, list[float]]:
    """Warm-up time and the wall-clock times of ``runs`` further calls."""
    started = time.perf_counter()
    fn()
    warm = time.perf_counter() - started
    times = []
    _LAST_CPU.clear()
    for _ in range(runs):
        started, cpu = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - started)
        _LAST_CPU.append(time.process_time() - cpu)
    return warm, times


def _stats(times: Sequence[float]) -> dict[str, float]:
    return {
        "median": statistics.median(times),
        "worst": max(times),
        "best": min(times),
        "cpu_median": statistics.median(_LAST_CPU) if _LAST_CPU else 0.0,
    }


def measure(url: str, runs: int, prom_names: Sequence[str], profile: bool) -> dict[str, Any]:
    """Evaluation timings and memory on one database (runs in a fresh process)."""
    engine = make_engine(url)
    factory = make_session_factory(engine)
    out: dict[str, Any] = {}

    statuses: list[SLOStatus] = []

    def job() -> None:
        nonlocal statuses
        with factory() as s, s.begin():
            statuses = jobs.run(s, AT)

    warm, times = _timed(job, runs)
    out["job"] = {"first": warm, **_stats(times), "slos": len(statuses)}
    out["status_counts"] = _count(st.status for st in statuses)
    out["firing"] = _count(a.severity for st in statuses for a in st.alerts if a.firing)

    with factory() as s:
        slos = _load_slos(s)

        def evaluate() -> None:
            flows.evaluate_slos(s, slos=slos, at=AT, prometheus=None)

        _, times = _timed(evaluate, runs)
        out["evaluate"] = _stats(times)
        plans = [flows._plan(slo, AT) for slo in slos]
        out["ranges"] = len({rng for p in plans for rng in p.ranges.values()})
    out["breakdown"] = _breakdown(factory, runs)
    out["sql_s"] = out["breakdown"].get("window sums (store.window_counts)", 0.0)

    with factory() as s:
        tracemalloc.start()
        tracemalloc.reset_peak()
        with factory() as s2, s2.begin():
            jobs.run(s2, AT)
        out["tracemalloc_peak"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()

        out["windows"] = {}
        for window in ("1d", "7d", "30d"):
            variant = _with_window(slos, window)
            _, times = _timed(
                lambda v=variant: flows.evaluate_slos(s, slos=v, at=AT, prometheus=None), runs
            )
            end = int(AT.timestamp())
            seconds = {"1d": 86400, "7d": 7 * 86400, "30d": 30 * 86400}[window]
            buckets = sum((hi - lo) // res for res, lo, hi in decompose(end - seconds, end))
            out["windows"][window] = {**_stats(times), "buckets": buckets}

        subset = [slo for slo in slos if slo.name in set(prom_names)]
        if subset:
            _, times = _timed(
                lambda: flows.evaluate_slos(s, slos=subset, at=AT, prometheus=None), runs
            )
            out["subset"] = {**_stats(times), "slos": len(subset)}
            out["subset_status"] = {
                st.name: _status_digest(st)
                for st in flows.evaluate_slos(s, slos=subset, at=AT, prometheus=None)
            }
        if profile:
            out["profile"] = _profile(factory)
    # last, as it changes the process: objects alive after start-up moved out of the collector's
    # reach (what a long-running engine could do once after start-up; ninefold does not yet)
    gc.collect()
    gc.freeze()
    _, times = _timed(job, runs)
    out["job_frozen"] = _stats(times)
    out["ru_maxrss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    out["vm_hwm"] = _vm_hwm()
    engine.dispose()
    return out


#: Steps of one jobs.run, timed by wrapping the functions it calls (module, name, label).
_STEPS = (
    (store, "list_slos", "load SLO rows (store.list_slos)"),
    (flows, "_plan", "parse specs, plan ranges (flows._plan)"),
    (store, "window_counts", "window sums (store.window_counts)"),
    (flows, "evaluate", "budget, burn rates, alerts (budget.evaluate)"),
    (flows, "_status", "status models, lazy service/team loads"),
    (flows, "record_alert_transitions", "alert state and transitions"),
)


GC_LABEL = "garbage collection (taken out of the steps)"


def _breakdown(factory: Any, runs: int) -> dict[str, float]:
    """Median time per step of ``jobs.run``; garbage collection is counted on its own line."""
    spent: dict[str, float] = {}
    gc_time = [0.0, 0.0]  # total, start of the running collection

    def on_gc(phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            gc_time[1] = time.perf_counter()
        else:
            gc_time[0] += time.perf_counter() - gc_time[1]

    originals = []
    for module, name, label in _STEPS:
        fn = getattr(module, name, None)
        if fn is None:
            continue
        originals.append((module, name, fn))

        def wrapped(*args: Any, _fn: Any = fn, _label: str = label, **kwargs: Any) -> Any:
            started, gc_before = time.perf_counter(), gc_time[0]
            try:
                return _fn(*args, **kwargs)
            finally:
                own = time.perf_counter() - started - (gc_time[0] - gc_before)
                spent[_label] = spent.get(_label, 0.0) + own

        setattr(module, name, wrapped)
    samples: dict[str, list[float]] = {}
    gc.callbacks.append(on_gc)
    try:
        for _ in range(runs + 1):
            spent.clear()
            gc_time[0] = 0.0
            started = time.perf_counter()
            with factory() as s, s.begin():
                jobs.run(s, AT)
            total = time.perf_counter() - started
            spent[GC_LABEL] = gc_time[0]
            spent["other (glue, commit)"] = total - sum(spent.values())
            spent["total"] = total
            for label, value in spent.items():
                samples.setdefault(label, []).append(value)
    finally:
        gc.callbacks.remove(on_gc)
        for module, name, fn in originals:
            setattr(module, name, fn)
    return {label: statistics.median(values[1:]) for label, values in samples.items()}


def _vm_hwm() -> int:
    """Peak resident set of this process's address space (bytes, from /proc/self/status).

    ``ru_maxrss`` is kept for reference, but Linux carries the parent's peak over the exec of a
    child, so in a process started by the (large) loader it reports the loader's peak.
    """
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def _load_slos(session: Session) -> list[SLO]:
    """All SLOs with service and team loaded, detached so their specs can be varied freely."""
    slos = list(
        session.scalars(select(SLO).options(selectinload(SLO.service).selectinload(Service.owner)))
    )
    for slo in slos:
        session.expunge(slo)
    return slos


def _with_window(slos: Sequence[SLO], window: str) -> list[SLO]:
    out = []
    for slo in slos:
        copy = SLO(id=slo.id, name=slo.name, spec={**slo.spec, "window": {"rolling": window}})
        copy.service = slo.service
        out.append(copy)
    return out


def _count(items: Iterator[str] | Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in items:
        counts[item] = counts.get(item, 0) + 1
    return dict(sorted(counts.items()))


def _status_digest(st: SLOStatus) -> dict[str, Any]:
    return {
        "sli": st.sli,
        "good": st.good,
        "total": st.total,
        "remaining": st.error_budget_remaining_fraction,
        "burn": st.burn_rates,
        "status": st.status,
        "firing": sorted(a.severity for a in st.alerts if a.firing),
    }


def _profile(factory: Any) -> str:
    import cProfile
    import io
    import pstats

    prof = cProfile.Profile()
    with factory() as s, s.begin():
        prof.enable()
        jobs.run(s, AT)
        prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(35)
    return buf.getvalue()


def run_child(url: str, runs: int, prom_names: Sequence[str], profile: bool) -> dict[str, Any]:
    """Run :func:`measure` in a fresh interpreter (so ru_maxrss is the evaluation's own)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--measure", url, "--runs", str(runs)]
    cmd += ["--prom-names", ",".join(prom_names)]
    if profile:
        cmd.append("--profile")
    load_before = os.getloadavg()[0]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"measuring process failed:\n{proc.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["loadavg"] = [load_before, os.getloadavg()[0]]
    return result


# -- databases --------------------------------------------------------------------------------


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            Path(str(path) + suffix).unlink()


def pg_urls(base: str) -> tuple[str, str]:
    """(SQLAlchemy URL, libpq conninfo) for the benchmark schema on ``base``."""
    url = base.replace("postgresql://", "postgresql+psycopg://", 1)
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{PG_SCHEMA}", base


def pg_create_schema(base: str) -> None:
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{PG_SCHEMA}" CASCADE')
        conn.execute(f'CREATE SCHEMA "{PG_SCHEMA}"')


def pg_drop_schema(base: str) -> None:
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{PG_SCHEMA}" CASCADE')


def pg_size(base: str) -> int:
    with psycopg.connect(base, autocommit=True) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'm')",
            (PG_SCHEMA,),
        ).fetchone()
        return int(row[0]) if row else 0


def _meta_matches(path: Path, meta: dict[str, Any]) -> bool:
    try:
        return bool(json.loads(path.read_text()) == meta)
    except (OSError, ValueError):
        return False


# -- output -----------------------------------------------------------------------------------


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return f"{seconds * 1000:,.0f} ms" if seconds < 10 else f"{seconds:,.1f} s"


def _mb(value: float) -> str:
    return f"{value / 1e6:,.0f} MB"


@dataclass
class Report:
    """Everything measured, for the tables and bench/data/results.json."""

    args: dict[str, Any]
    load: dict[str, Any] = field(default_factory=dict)
    verify: dict[str, Any] | None = None
    backends: dict[str, dict[str, Any]] = field(default_factory=dict)
    prometheus: dict[str, Any] | None = None
    phases: dict[str, float] = field(default_factory=dict)
    total_s: float = 0.0


def print_report(rep: Report) -> None:
    a = rep.args
    console.rule("[bold]ninefold SLO evaluation benchmark")
    console.print(
        f"{a['slos']:,} SLOs on {a['services']} services / {a['teams']} teams, {a['days']} days "
        f"of per-minute pushed data, evaluated at {AT.isoformat()}; {os.cpu_count()} CPUs; "
        f"Python {sys.version.split()[0]}"
    )
    if rep.load:
        t = Table(title="Data loaded (both databases at once, one process each)")
        cols = ("backend", "bucket rows", "generate", "insert/COPY", "keys+index", "VACUUM", "size")
        for col in cols:
            t.add_column(col, justify="right" if col != "backend" else "left")
        minute_rows = 0
        for name in ("SQLite", "PostgreSQL"):
            info = rep.load.get(name)
            if info:
                minute_rows = info["minute_rows"]
                t.add_row(
                    name,
                    f"{info['rows']:,}",
                    _ms(info["generate_s"]),
                    _ms(info["load_s"]),
                    _ms(info.get("index_s")),
                    _ms(info.get("vacuum_s")),
                    _mb(info.get("size", 0)),
                )
        console.print(t)
        console.print(f"  of which minute buckets: {minute_rows:,}")
    if rep.verify:
        v = rep.verify
        console.print(
            f"  ingest cross-check: {len(v['slos'])} SLOs, {v['events']:,} events through "
            f"flows.ingest_batch → loaded buckets "
            + ("[green]identical[/]" if v["ok"] else "[red]DIFFERENT[/]")
            + f" ({', '.join(s['kind'] for s in v['slos'])}); ingest_batch + commit "
            f"{_ms(v['ingest_s'])} = {v['events'] / max(v['ingest_s'], 1e-9):,.0f} events/s "
            "in batches of 10,000"
        )
    if rep.backends:
        names = list(rep.backends)
        t = Table(title=f"Full evaluation of all {a['slos']:,} SLOs at {AT:%Y-%m-%d %H:%M}Z")
        t.add_column("measure")
        for name in names:
            t.add_column(name, justify="right")
        ms = rep.backends

        def row(label: str, fn: Callable[[dict[str, Any]], str]) -> None:
            t.add_row(label, *(fn(ms[n]) for n in names))

        runs = a["runs"]
        row(f"jobs.run, median of {runs}", lambda m: _ms(m["job"]["median"]))
        row(f"jobs.run, worst of {runs}", lambda m: _ms(m["job"]["worst"]))
        row("jobs.run, first run (cold)", lambda m: _ms(m["job"]["first"]))
        row(
            "  CPU time of the evaluating process, median",
            lambda m: _ms(m["job"]["cpu_median"]),
        )
        row(
            f"jobs.run, median of {runs} after gc.freeze()",
            lambda m: _ms(m["job_frozen"]["median"]),
        )
        row(f"evaluate_slos, median of {runs}", lambda m: _ms(m["evaluate"]["median"]))
        row(f"evaluate_slos, worst of {runs}", lambda m: _ms(m["evaluate"]["worst"]))
        row("  of which window sums (SQL)", lambda m: _ms(m["sql_s"]))
        row("  distinct ranges queried", lambda m: str(m["ranges"]))
        row("tracemalloc peak during jobs.run", lambda m: _mb(m["tracemalloc_peak"]))
        row("peak RSS of the evaluating process", lambda m: _mb(m["vm_hwm"]))
        row(
            "machine load average (1 min) before → after",
            lambda m: f"{m['loadavg'][0]:.1f} → {m['loadavg'][1]:.1f}",
        )
        row(
            f"target < {TARGET_SECONDS:g} s (worst jobs.run)",
            lambda m: "[green]met[/]" if m["job"]["worst"] < TARGET_SECONDS else "[red]missed[/]",
        )
        console.print(t)
        first = next(iter(rep.backends.values()))
        console.print(f"  statuses: {first['status_counts']}; alerts firing: {first['firing']}")
        t = Table(title="Where one jobs.run spends its time (median of the timed runs)")
        t.add_column("step")
        for name in names:
            t.add_column(name, justify="right")
        for label in first["breakdown"]:
            t.add_row(label, *(_ms(ms[n]["breakdown"].get(label)) for n in names))
        console.print(t)
        t = Table(title="Cost against window length: every SLO on the same rolling window")
        t.add_column("window")
        t.add_column("buckets summed per SLO", justify="right")
        for name in names:
            t.add_column(f"{name} evaluate_slos median", justify="right")
        for window in ("1d", "7d", "30d"):
            buckets = first["windows"][window]["buckets"]
            t.add_row(
                window,
                str(buckets),
                *(_ms(ms[n]["windows"][window]["median"]) for n in names),
            )
        console.print(t)
    if rep.prometheus:
        p = rep.prometheus
        t = Table(title=f"Prometheus peer: the same 30 days for {p['services']} services")
        t.add_column("what")
        t.add_column("median", justify="right")
        t.add_column("worst", justify="right")
        t.add_column("notes")
        t.add_row(
            "Prometheus: 30d error ratio, all services (1 query)",
            _ms(p["ratio30d"]["median"]),
            _ms(p["ratio30d"]["worst"]),
            f"{p['ratio30d']['series']} series",
        )
        t.add_row(
            "Prometheus: 4 multiwindow burn-rate conditions (1 query)",
            _ms(p["burn"]["median"]),
            _ms(p["burn"]["worst"]),
            f"{p['burn']['series']} firing",
        )
        ev = p["ninefold"]
        t.add_row(
            f"ninefold via PrometheusSource, {ev['slos']} SLOs (full evaluation)",
            _ms(ev["median"]),
            _ms(ev["worst"]),
            f"{ev['queries']} HTTP queries per evaluation",
        )
        for name, m in rep.backends.items():
            if "subset" in m:
                t.add_row(
                    f"ninefold pushed data on {name}, same {m['subset']['slos']} SLOs",
                    _ms(m["subset"]["median"]),
                    _ms(m["subset"]["worst"]),
                    "",
                )
        console.print(t)
        backfill = (
            f"backfilled ({_mb(p['openmetrics_bytes'])} OpenMetrics) in {_ms(p['backfill_s'])}"
            if p["backfill_s"]
            else "kept from an earlier run"
        )
        console.print(
            f"  TSDB: {p['samples']:,} samples {backfill}; start and compaction "
            f"{_ms(p['startup_s'])}, {p['blocks']} blocks when measured; "
            f"machine load average {p['loadavg']:.1f}; "
            f"agreement with the pushed path: {p['agreement']}"
        )
    phases = ", ".join(f"{k} {_ms(v)}" for k, v in rep.phases.items())
    console.print(f"  whole benchmark: {_ms(rep.total_s)} ({phases})")


# -- main -------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--slos", type=int, default=1000, help="number of SLOs (default 1000)")
    ap.add_argument("--services", type=int, default=100, help="number of services (default 100)")
    ap.add_argument("--teams", type=int, default=10, help="number of teams (default 10)")
    ap.add_argument("--days", type=int, default=30, help="days of per-minute data (default 30)")
    ap.add_argument("--runs", type=int, default=5, help="timed runs after a warm-up (default 5)")
    ap.add_argument(
        "--prom-services", type=int, default=100, help="services in Prometheus (default 100)"
    )
    ap.add_argument(
        "--postgres-url", default=os.environ.get("NINEFOLD_BENCH_POSTGRES_URL", PG_DEFAULT)
    )
    ap.add_argument("--skip-sqlite", action="store_true")
    ap.add_argument("--skip-postgres", action="store_true")
    ap.add_argument("--skip-prometheus", action="store_true")
    ap.add_argument("--skip-verify", action="store_true", help="skip the ingest cross-check")
    ap.add_argument(
        "--quick", action="store_true", help="small run: 200 SLOs, 7 days, 20 Prometheus services"
    )
    ap.add_argument("--keep", action="store_true", help="keep the databases and TSDB for --reuse")
    ap.add_argument(
        "--reuse", action="store_true", help="reuse databases kept by --keep with the same sizes"
    )
    ap.add_argument("--profile", action="store_true", help="print a cProfile of one jobs.run")
    ap.add_argument("--measure", help=argparse.SUPPRESS)
    ap.add_argument("--prom-names", default="", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.quick:
        args.slos, args.days, args.prom_services = 200, 7, 20
        args.services = min(args.services, 50)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.measure:
        names = [n for n in args.prom_names.split(",") if n]
        result = measure(args.measure, args.runs, names, args.profile)
        print(json.dumps(result))
        return 0
    began = time.perf_counter()
    # stopped with SIGTERM: still run the clean-up (loaders, Prometheus, schema, files)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    DATA.mkdir(parents=True, exist_ok=True)
    defs = catalog(args.slos, args.services, args.teams, args.days)
    start = data_start(args.days)
    minutes = args.days * 1440
    prom_n = 0 if args.skip_prometheus else min(args.prom_services, args.slos)
    prom_names = [d.name for d in defs[:prom_n]]
    rep = Report(
        args={
            "slos": args.slos,
            "services": args.services,
            "teams": args.teams,
            "days": args.days,
            "runs": args.runs,
            "prom_services": args.prom_services,
        }
    )
    meta = {k: rep.args[k] for k in ("slos", "services", "teams", "days")}

    sqlite_path = DATA / "slo_eval.db"
    sqlite_url = f"sqlite:///{sqlite_path}"
    pg_url, pg_conninfo = pg_urls(args.postgres_url)
    pg_conninfo_schema = (
        f"{pg_conninfo}{'&' if '?' in pg_conninfo else '?'}options=-csearch_path%3D{PG_SCHEMA}"
    )
    targets: dict[str, str] = {}
    if not args.skip_sqlite:
        targets["SQLite"] = sqlite_url
    if not args.skip_postgres:
        targets["PostgreSQL"] = pg_url
    meta_path = DATA / "slo_eval.meta.json"
    reuse = args.reuse and _meta_matches(meta_path, {**meta, "targets": sorted(targets)})
    peer = None
    if prom_n:
        peer = PrometheusPeer(
            defs[:prom_n], start=start, minutes=minutes, workdir=DATA / "prometheus"
        )
    try:
        load_targets: dict[str, str] = {}
        ids: dict[str, int] = {}
        if not reuse:
            meta_path.unlink(missing_ok=True)
            console.print("creating the schema and the catalog …")
            if "SQLite" in targets:
                _remove_sqlite(sqlite_path)
                engine = make_engine(sqlite_url)
                migrate.upgrade(engine)
                create_catalog(engine, defs)
                ids = slo_ids(engine)
                engine.dispose()
                load_targets["SQLite"] = str(sqlite_path)
            if "PostgreSQL" in targets:
                pg_create_schema(args.postgres_url)
                engine = make_engine(pg_url)
                migrate.upgrade(engine)
                create_catalog(engine, defs)
                pg_ids = slo_ids(engine)
                engine.dispose()
                if ids and pg_ids != ids:
                    raise RuntimeError("SLO ids differ between SQLite and PostgreSQL")
                ids = pg_ids
                load_targets["PostgreSQL"] = pg_conninfo_schema
        started = time.perf_counter()
        rep.load = load_all(load_targets, defs, ids, start, minutes, peer)
        label = " and ".join(load_targets) + (" load" if load_targets else "")
        if peer is not None:
            label += (" with " if load_targets else "") + "Prometheus backfill"
        if label:
            rep.phases[label] = time.perf_counter() - started
        if "SQLite" in rep.load:
            rep.load["SQLite"]["size"] = sqlite_path.stat().st_size
        if "PostgreSQL" in rep.load:
            rep.load["PostgreSQL"]["size"] = pg_size(args.postgres_url)
        if not reuse and not args.skip_verify and targets:
            console.print("cross-checking a sample against flows.ingest_batch …")
            started = time.perf_counter()
            rep.verify = verify_sample(defs, start, minutes, targets, args.days)
            rep.phases["ingest cross-check"] = time.perf_counter() - started
        if args.keep and not reuse:
            meta_path.write_text(json.dumps({**meta, "targets": sorted(targets)}))
        for name, url in targets.items():
            console.print(f"measuring the evaluation on {name} (fresh process) …")
            started = time.perf_counter()
            rep.backends[name] = run_child(url, args.runs, prom_names, args.profile)
            rep.phases[f"measure {name}"] = time.perf_counter() - started
            if args.profile:
                console.print(rep.backends[name].pop("profile"), markup=False)
        if peer is not None:
            console.print("measuring Prometheus and ninefold's Prometheus source …")
            started = time.perf_counter()
            rep.prometheus = peer.measure(
                runs=args.runs,
                pushed={n: m.get("subset_status", {}) for n, m in rep.backends.items()},
                create_catalog=create_catalog,
            )
            rep.phases["measure Prometheus"] = time.perf_counter() - started
    finally:
        if peer is not None:
            peer.stop(keep=args.keep)
        if not args.keep:
            if "PostgreSQL" in targets:
                pg_drop_schema(args.postgres_url)
            _remove_sqlite(sqlite_path)
    rep.total_s = time.perf_counter() - began
    for m in rep.backends.values():
        m.pop("subset_status", None)
    (DATA / "results.json").write_text(json.dumps(rep.__dict__, indent=2, default=str))
    print_report(rep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
