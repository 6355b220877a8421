"""The Prometheus peer of the SLO benchmark: the same per-minute traffic backfilled into a real
Prometheus (``promtool tsdb create-blocks-from openmetrics``), Prometheus's own 30-day error ratio
and multiwindow burn-rate conditions timed, and ninefold's evaluation through PrometheusSource.

Each service gets two counters, ``bench_requests_total`` and ``bench_errors_total`` (bad events),
sampled every minute: the sample at ``start + 60·(j+1)`` is the count through minute j, and a 0
sample at ``start`` opens the series, so ``increase()`` over any minute-aligned range ending at the
evaluation time sees exactly the pushed events of that range (no extrapolation).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import socket
import statistics
import subprocess
import time
from array import array
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
from slo_data import AT, SloDef, day_chunks, minute_counts, service_name

from ninefold.db import migrate
from ninefold.db.engine import make_engine, make_session_factory
from ninefold.slo import flows, store
from ninefold.slo.prometheus import PrometheusSource
from ninefold.slo.schemas import SLOStatus

#: Multiwindow multi-burn-rate conditions of the SRE Workbook for a 30-day period.
CONDITIONS = (("1h", "5m", 14.4), ("6h", "30m", 6.0), ("1d", "2h", 3.0), ("3d", "6h", 1.0))
#: Error budget used in the raw PromQL conditions (99.9 %; the threshold does not change the cost).
BUDGET = 0.001


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


BLOCK = 7200


def write_openmetrics(
    defs: Sequence[SloDef],
    start: int,
    minutes: int,
    outdir: Path,
    report: Callable[[str], None],
) -> tuple[list[Path], int]:
    """Write both counters of every service as OpenMetrics, one file per 2-hour TSDB block.

    promtool (2.42) re-reads its whole input for every 2-hour block it cuts, which makes one
    30-day file quadratic (tens of minutes); a file per block keeps it linear.
    Returns the files and the number of samples.
    """
    chunks = day_chunks(start, minutes)
    totals: list[array[float]] = []
    errors: list[array[float]] = []
    first_block = start // BLOCK
    last_block = (start + 60 * minutes) // BLOCK
    files = []
    samples = 0
    for n, d in enumerate(defs):
        if n % 10 == 0:
            report(f"counters of {n}/{len(defs)} services")
        tot = array("d", [0.0])
        err = array("d", [0.0])
        ct = ce = 0
        for j0, j1 in chunks:
            good, total = minute_counts(d, start, j0, j1)
            for g, t in zip(good, total, strict=True):
                ct += t
                ce += t - g
                tot.append(ct)
                err.append(ce)
        totals.append(tot)
        errors.append(err)
    for block in range(first_block, last_block + 1):
        if block % 20 == 0:
            report(f"OpenMetrics file {block - first_block}/{last_block - first_block + 1}")
        # sample i is at start + 60 i (i = 0 is the opening 0)
        lo = max(0, -(-(block * BLOCK - start) // 60))
        hi = min(minutes, ((block + 1) * BLOCK - 1 - start) // 60)
        if lo > hi:
            continue
        path = outdir / f"block-{block}.om"
        with path.open("w", encoding="utf-8") as out:
            for family, values in (("bench_requests", totals), ("bench_errors", errors)):
                out.write(f"# HELP {family} Synthetic SLO benchmark events.\n")
                out.write(f"# TYPE {family} counter\n")
                for d, series in zip(defs, values, strict=True):
                    sel = f'{family}_total{{service="{service_name(d.service)}"}}'
                    top = hi if d.stops_at is None else min(hi, d.stops_at)
                    out.writelines(
                        f"{sel} {series[i]:.0f} {start + 60 * i}\n" for i in range(lo, top + 1)
                    )
                    samples += max(0, top + 1 - lo)
            out.write("# EOF\n")
        files.append(path)
    return files, samples


def backfill(files: Sequence[Path], tsdb: Path, workers: int = 2) -> None:
    """Run ``promtool tsdb create-blocks-from openmetrics`` on every file, ``workers`` at once."""
    tsdb.mkdir(parents=True, exist_ok=True)
    exe = shutil.which("promtool") or "/usr/bin/promtool"
    pending = list(files)
    running: list[tuple[subprocess.Popen[bytes], Path]] = []
    while pending or running:
        while pending and len(running) < workers:
            path = pending.pop(0)
            cmd = [exe, "tsdb", "create-blocks-from", "openmetrics", "-q", str(path), str(tsdb)]
            running.append((subprocess.Popen(cmd, stderr=subprocess.PIPE), path))
        proc, path = running.pop(0)
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"promtool failed on {path}: {err.decode(errors='replace')}")
        path.unlink()


class PrometheusProcess:
    """Debian's ``prometheus`` on a free loopback port over a backfilled TSDB; stopped by PID."""

    def __init__(self, workdir: Path, tsdb: Path) -> None:
        self.workdir = workdir
        self.tsdb = tsdb
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> None:
        exe = shutil.which("prometheus") or "/usr/bin/prometheus"
        config = self.workdir / "prometheus.yml"
        config.write_text("global:\n  scrape_interval: 1m\nscrape_configs: []\n", encoding="utf-8")
        log = (self.workdir / "prometheus.log").open("wb")
        self.port = _free_port()
        self.process = subprocess.Popen(
            [
                exe,
                f"--config.file={config}",
                f"--storage.tsdb.path={self.tsdb}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--storage.tsdb.retention.time=60d",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        tail = (self.workdir / "prometheus.log").read_text(errors="replace")[-3000:]
        raise RuntimeError(f"prometheus did not become ready:\n{tail}")

    def metric(self, name: str) -> float:
        """A value of Prometheus's own /metrics (sum over label sets)."""
        body = httpx.get(f"{self.url}/metrics", timeout=10.0).text
        total = 0.0
        for line in body.splitlines():
            if line.startswith(name) and line[len(name)] in " {":
                total += float(line.rsplit(" ", 1)[1])
        return total

    def wait_compacted(self, report: Callable[[str], None], timeout: float = 900.0) -> None:
        """Wait until Prometheus has compacted the backfilled 2-hour blocks, so that timings see
        the TSDB a long-running server has and no compaction competes for the CPU.

        Prometheus triggers its compactor a minute after start-up and then compacts until
        nothing is left to do; done means triggered at least once and neither the number of
        blocks nor the number of compactions moved for 10 seconds.
        """
        deadline = time.monotonic() + timeout
        stable = 0
        last: tuple[float, float] = (-1.0, -1.0)
        while time.monotonic() < deadline:
            blocks = self.metric("prometheus_tsdb_blocks_loaded")
            runs = self.metric("prometheus_tsdb_compactions_total")
            triggered = self.metric("prometheus_tsdb_compactions_triggered_total")
            report(f"compacting: {blocks:.0f} blocks, {runs:.0f} compactions")
            if triggered > 0 and (blocks, runs) == last:
                stable += 1
                if stable >= 5:
                    return
            else:
                stable = 0
            last = (blocks, runs)
            time.sleep(2.0)
        raise RuntimeError(f"Prometheus was still compacting after {timeout:.0f} s")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _query(client: httpx.Client, url: str, expr: str) -> list[Any]:
    resp = client.post(
        f"{url}/api/v1/query", data={"query": expr, "time": f"{AT.timestamp():.3f}"}, timeout=120
    )
    body = resp.json()
    if body.get("status") != "success":
        raise RuntimeError(f"Prometheus refused {expr!r}: {body}")
    result: list[Any] = body["data"]["result"]
    return result


def _time_query(client: httpx.Client, url: str, expr: str, runs: int) -> dict[str, Any]:
    result = _query(client, url, expr)  # warm-up
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        _query(client, url, expr)
        times.append(time.perf_counter() - started)
    return {
        "median": statistics.median(times),
        "worst": max(times),
        "series": len(result),
        "expr": expr,
    }


def _ratio(window: str) -> str:
    return (
        f"sum by (service) (rate(bench_errors_total[{window}]))\n"
        f"/\nsum by (service) (rate(bench_requests_total[{window}]))"
    )


def burn_conditions_expr() -> str:
    """The four multiwindow burn-rate conditions for every service in one PromQL query."""
    parts = [
        f"(\n({_ratio(long)}) > {factor} * {BUDGET}\nand\n({_ratio(short)}) > {factor} * {BUDGET}\n)"
        for long, short, factor in CONDITIONS
    ]
    return "\nor\n".join(parts)


def _agreement(statuses: Sequence[SLOStatus], pushed: dict[str, dict[str, dict[str, Any]]]) -> str:
    """How ninefold's Prometheus-backed results compare with its pushed-data results."""
    notes = []
    for backend, digests in pushed.items():
        if not digests:
            continue
        same_status = 0
        worst = 0.0
        for st in statuses:
            other = digests.get(st.name)
            if other is None:
                continue
            same_status += int(
                other["status"] == st.status
                and other["firing"] == sorted(a.severity for a in st.alerts if a.firing)
            )
            if st.sli is not None and other["sli"] is not None:
                worst = max(worst, abs(st.sli - other["sli"]))
            elif (st.sli is None) != (other["sli"] is None):
                worst = math.inf
        notes.append(
            f"{same_status}/{len(statuses)} statuses and alerts equal to {backend}, "
            f"max |ΔSLI| {worst:.1g}"
        )
    return "; ".join(notes) or "no pushed results to compare"


class PrometheusPeer:
    """The Prometheus side of the benchmark: :meth:`prepare` (backfill, start, wait for the
    compaction; may run in a thread while the databases load), :meth:`measure`, :meth:`stop`."""

    def __init__(self, defs: Sequence[SloDef], *, start: int, minutes: int, workdir: Path) -> None:
        self.defs = list(defs)
        self.start = start
        self.minutes = minutes
        self.workdir = workdir
        self.process = PrometheusProcess(workdir, workdir / "tsdb")
        self.info: dict[str, Any] = {"services": len(self.defs)}
        self.error: BaseException | None = None

    def prepare(self, report: Callable[[str], None]) -> None:
        """Backfill the TSDB (unless kept from an earlier run), start Prometheus, let it compact."""
        try:
            self._prepare(report)
        except BaseException as exc:  # reported by the caller once the loading is over
            self.error = exc
            report(f"[red]failed: {exc}")

    def _prepare(self, report: Callable[[str], None]) -> None:
        out = self.info
        meta = {
            "services": [d.name for d in self.defs],
            "start": self.start,
            "minutes": self.minutes,
        }
        tsdb = self.workdir / "tsdb"
        meta_path = self.workdir / "meta.json"
        if (
            meta_path.exists()
            and {k: v for k, v in json.loads(meta_path.read_text()).items() if k != "samples"}
            == meta
        ):
            out["samples"] = json.loads(meta_path.read_text()).get("samples", 0)
            out["openmetrics_bytes"] = 0
            out["backfill_s"] = 0.0
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir.mkdir(parents=True)
            started = time.perf_counter()
            omdir = self.workdir / "openmetrics"
            omdir.mkdir()
            files, out["samples"] = write_openmetrics(
                self.defs, self.start, self.minutes, omdir, report
            )
            out["openmetrics_bytes"] = sum(f.stat().st_size for f in files)
            report(f"promtool tsdb create-blocks-from openmetrics ({len(files)} files)")
            backfill(files, tsdb)
            omdir.rmdir()
            out["backfill_s"] = time.perf_counter() - started
            meta_path.write_text(json.dumps({**meta, "samples": out["samples"]}))
        started = time.perf_counter()
        report("starting prometheus")
        self.process.start()
        self.process.wait_compacted(report)
        out["startup_s"] = time.perf_counter() - started
        out["blocks"] = int(self.process.metric("prometheus_tsdb_blocks_loaded"))
        report(f"[green]ready[/]: {out['blocks']} blocks")

    def measure(
        self,
        *,
        runs: int,
        pushed: dict[str, dict[str, dict[str, Any]]],
        create_catalog: Callable[..., None],
    ) -> dict[str, Any]:
        """Time Prometheus's own queries and ninefold's evaluation through PrometheusSource."""
        if self.error is not None:
            raise RuntimeError(f"Prometheus could not be prepared: {self.error}") from self.error
        out = self.info
        url = self.process.url
        out["loadavg"] = os.getloadavg()[0]
        with httpx.Client() as client:
            out["ratio30d"] = _time_query(
                client,
                url,
                "sum by (service) (increase(bench_errors_total[30d]))\n/\n"
                "sum by (service) (increase(bench_requests_total[30d]))",
                runs,
            )
            out["burn"] = _time_query(client, url, burn_conditions_expr(), runs)
        catalog_path = self.workdir / "catalog.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{catalog_path}{suffix}").unlink(missing_ok=True)
        engine = make_engine(f"sqlite:///{catalog_path}")
        try:
            migrate.upgrade(engine)
            create_catalog(engine, self.defs, prometheus=True)
            factory = make_session_factory(engine)
            requests = 0

            def count(_: httpx.Request) -> None:
                nonlocal requests
                requests += 1

            client = httpx.Client(
                limits=httpx.Limits(max_connections=8), event_hooks={"request": [count]}
            )
            source = PrometheusSource(url, client=client, timeout=120.0)
            statuses: list[SLOStatus] = []
            with factory() as s:
                slos, _ = store.list_slos(s)

                def evaluate() -> None:
                    nonlocal statuses
                    statuses = flows.evaluate_slos(s, slos=slos, at=AT, prometheus=source)

                evaluate()
                requests = 0
                times = []
                for _ in range(runs):
                    started = time.perf_counter()
                    evaluate()
                    times.append(time.perf_counter() - started)
            client.close()
        finally:
            engine.dispose()
        errors = [st.error for st in statuses if st.error]
        if errors:
            raise RuntimeError(f"ninefold could not evaluate via Prometheus: {errors[:3]}")
        out["ninefold"] = {
            "median": statistics.median(times),
            "worst": max(times),
            "slos": len(statuses),
            "queries": requests // max(runs, 1),
        }
        out["agreement"] = _agreement(statuses, pushed)
        return out

    def stop(self, *, keep: bool) -> None:
        """Stop Prometheus by PID; remove its directory unless ``keep``."""
        self.process.stop()
        if not keep:
            shutil.rmtree(self.workdir, ignore_errors=True)
