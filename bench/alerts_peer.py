"""Processes, configuration and the webhook sink of the alert benchmark (``bench/alerts.py``).

* :class:`NinefoldServer`: ``.venv/bin/ninefold serve`` as a real process on a free loopback
  port (``ninefold db upgrade`` and ``ninefold token create`` first), with a webhook channel and
  an Alertmanager integration created through the API.
* :class:`AlertmanagerServer`: Debian's ``/usr/bin/prometheus-alertmanager`` on a free loopback
  port, clustering disabled, storage in a temporary directory.
* :func:`report`: the plain table of figures with ratios and PASS/FAIL.
* :class:`Sink`: a threaded loopback HTTP receiver that records, for every alert carrying a
  ``probe_id`` label, when each notification for it arrived (both payload formats).

Both servers are started with :func:`subprocess.Popen` and stopped by PID (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    import argparse

    from alerts import Blast, Figures, Latency

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
NINEFOLD = ROOT / ".venv" / "bin" / "ninefold"
ALERTMANAGER = Path("/usr/bin/prometheus-alertmanager")
CHANNEL = "bench-sink"

#: Route timing shared by both systems. Bulk alerts end at a receiver without channels or
#: integrations (grouped by alertname, Alertmanager's usual 5m interval); probe alerts
#: (``bench="probe"``) get a group of their own (``...``), notified at once (group_wait 0s),
#: re-checked every second, and repeated only after 4 h.
ROUTE = """\
route:
  receiver: discard
  group_by: ['alertname']
  group_wait: 0s
  group_interval: 5m
  repeat_interval: 4h
  routes:
    - matchers: ['bench="probe"']
      receiver: sink
      group_by: ['...']
      group_wait: 0s
      group_interval: 1s
      repeat_interval: 4h
"""


def ninefold_routing() -> str:
    """The ninefold routing file: :data:`ROUTE` with receivers naming channels."""
    return (
        ROUTE
        + f"receivers:\n  - name: discard\n    channels: []\n  - name: sink\n    channels: [{CHANNEL}]\n"
    )


def alertmanager_config(sink_url: str) -> str:
    """The Alertmanager configuration: :data:`ROUTE` with a webhook receiver."""
    return (
        "global:\n  resolve_timeout: 5m\n"
        + ROUTE
        + "receivers:\n  - name: discard\n  - name: sink\n    webhook_configs:\n"
        + f"      - url: {sink_url}\n        send_resolved: false\n"
    )


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process(process: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM the process by PID, wait up to 15 s, then SIGKILL."""
    if process is None or process.poll() is not None:
        return
    os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (``serve --workers N`` forks worker processes)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                todo.extend(int(c) for c in task.read_text().split())
    return out


def rss_mib(pid: int) -> float:
    """Resident set size (``VmRSS`` of /proc/<pid>/status) in MiB, summed over the process
    and its children."""
    total = 0
    for p in _tree(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    if not total:
        raise RuntimeError(f"no VmRSS for pid {pid}")
    return total / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU time so far (/proc/<pid>/stat) of a process and its children."""
    ticks = 0
    for p in _tree(pid):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _wait_ready(process: subprocess.Popen[bytes], url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return False


def _start(
    argv: Callable[[int], list[str]],
    *,
    ready_path: str,
    log: Path,
    env: dict[str, str] | None,
    timeout: float,
    what: str,
) -> tuple[subprocess.Popen[bytes], int]:
    """Start a server on a free port (up to 3 tries) until ``ready_path`` answers 200."""
    with log.open("ab") as out:
        for _attempt in range(3):
            port = free_port()
            process = subprocess.Popen(
                argv(port), stdout=out, stderr=subprocess.STDOUT, env=env, cwd=log.parent
            )
            if _wait_ready(process, f"http://127.0.0.1:{port}{ready_path}", timeout):
                return process, port
            stop_process(process)
    raise RuntimeError(f"{what} did not start:\n{log.read_text(errors='replace')[-3000:]}")


class Sink:
    """Loopback webhook receiver: arrival times of notifications per ``probe_id`` label."""

    def __init__(self) -> None:
        self.arrivals: dict[str, list[float]] = {}
        self.requests = 0
        self._cond = threading.Condition()
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> Sink:
        """Serve from a daemon thread on a free port."""
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                at = time.perf_counter()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                sink.record(body, at)

            def log_message(self, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def url(self, path: str) -> str:
        """URL of the sink (any path is accepted)."""
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/{path}"

    def record(self, body: bytes, at: float) -> None:
        """Note ``at`` for every probe in an Alertmanager (alerts[].labels) or ninefold
        (labels) webhook payload."""
        try:
            doc = json.loads(body)
        except ValueError:
            return
        label_sets = [a.get("labels") or {} for a in doc.get("alerts") or []]
        if isinstance(doc.get("labels"), dict):
            label_sets.append(doc["labels"])
        with self._cond:
            self.requests += 1
            for labels in label_sets:
                probe = labels.get("probe_id")
                if probe:
                    self.arrivals.setdefault(probe, []).append(at)
            self._cond.notify_all()

    def wait(self, probe: str, timeout: float) -> float | None:
        """Arrival time of the first notification for ``probe``, or None after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while probe not in self.arrivals:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)
            return self.arrivals[probe][0]

    def count(self, probe: str) -> int:
        """How many notifications named ``probe``."""
        with self._cond:
            return len(self.arrivals.get(probe, ()))

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


class NinefoldServer:
    """``ninefold serve`` on a free port, with an admin token, a webhook channel to the sink and
    an Alertmanager integration with a rate limit high enough for the benchmark."""

    name = "ninefold"

    def __init__(
        self, workdir: Path, database_url: str, sink_url: str, label: str, serve_workers: int = 1
    ) -> None:
        self.serve_workers = serve_workers
        self.workdir = workdir
        self.database_url = database_url
        self.sink_url = sink_url
        self.label = label
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.headers: dict[str, str] = {}
        self.admin: dict[str, str] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NINEFOLD_")}
        routing = self.workdir / "routing.yml"
        routing.write_text(ninefold_routing(), encoding="utf-8")
        env |= {
            "NINEFOLD_DATABASE_URL": self.database_url,
            "NINEFOLD_ROUTING_FILE": str(routing),
            "NINEFOLD_LOG_LEVEL": "warning",
        }
        return env

    def start(self, timeout: float = 60.0) -> NinefoldServer:
        """Migrate, create an admin token, serve, then create the channel and integration."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = self._env()
        log = self.workdir / "ninefold.log"
        for cli in (["db", "upgrade"], ["token", "create", "--name", "bench", "--role", "admin"]):
            done = subprocess.run(
                [str(NINEFOLD), *cli], env=env, capture_output=True, timeout=120, check=False
            )
            if done.returncode != 0:
                raise RuntimeError(f"ninefold {' '.join(cli)} failed: {done.stderr.decode()}")
        token = done.stdout.decode().strip().splitlines()[-1].strip()
        self.admin = {"Authorization": f"Bearer {token}"}

        def argv(port: int) -> list[str]:
            env["NINEFOLD_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
            return [
                str(NINEFOLD),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(self.serve_workers),
            ]

        self.process, self.port = _start(
            argv, ready_path="/readyz", log=log, env=env, timeout=timeout, what="ninefold serve"
        )
        channel = {"name": CHANNEL, "kind": "webhook", "target": self.sink_url}
        integration = {"name": "bench", "kind": "alertmanager", "rate_limit_per_minute": 10**7}
        with httpx.Client(base_url=self.url, headers=self.admin, timeout=30) as client:
            client.post("/api/v1/notification-channels", json=channel).raise_for_status()
            answer = client.post("/api/v1/integrations", json=integration)
            answer.raise_for_status()
        self.headers = {"Authorization": f"Bearer {answer.json()['key']}"}
        return self

    def open_alerts(self) -> int:
        """Firing alerts stored (``GET /api/v1/alerts?status=firing``, total)."""
        answer = httpx.get(
            f"{self.url}/api/v1/alerts",
            params={"status": "firing", "limit": 1},
            headers=self.admin,
            timeout=60,
        )
        answer.raise_for_status()
        return int(answer.json()["total"])

    def log_tail(self) -> str:
        """The end of the server's log (errors only: it runs at log level warning)."""
        path = self.workdir / "ninefold.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def stop(self) -> None:
        process, self.process = self.process, None
        stop_process(process)


class AlertmanagerServer:
    """Debian's Alertmanager on a free port, no clustering, storage in ``workdir``."""

    name = "alertmanager"
    label = "Alertmanager"

    def __init__(self, workdir: Path, sink_url: str) -> None:
        self.headers: dict[str, str] = {}  # no authentication
        self.workdir = workdir
        self.sink_url = sink_url
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 30.0) -> AlertmanagerServer:
        """Write the configuration and start the process until ``/-/ready`` answers."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "alertmanager.yml"
        config.write_text(alertmanager_config(self.sink_url), encoding="utf-8")
        self.process, self.port = _start(
            lambda port: [
                str(ALERTMANAGER),
                f"--config.file={config}",
                f"--storage.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
                "--log.level=warn",
            ],
            ready_path="/-/ready",
            log=self.workdir / "alertmanager.log",
            env=None,
            timeout=timeout,
            what="alertmanager",
        )
        return self

    def open_alerts(self) -> int:
        """Alerts held (length of ``GET /api/v2/alerts``; the ``alertmanager_alerts`` gauge only
        counts alerts that a group flush has already marked)."""
        answer = httpx.get(f"{self.url}/api/v2/alerts", timeout=120)
        answer.raise_for_status()
        return len(answer.json())

    def log_tail(self) -> str:
        path = self.workdir / "alertmanager.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def stop(self) -> None:
        process, self.process = self.process, None
        stop_process(process)


# -- report ----------------------------------------------------------------------------------


def _num(v: float, unit: str = "") -> str:
    return "n/a" if v != v else f"{v:,.0f}{unit}" if abs(v) >= 100 else f"{v:,.1f}{unit}"


def _complete(f: Figures) -> tuple[Blast, Blast, Latency, Latency, Blast]:
    if f.batch is None or f.single is None or f.idle is None or f.loaded is None:
        raise ValueError(f"{f.label}: incomplete figures")
    if f.resends is None:
        raise ValueError(f"{f.label}: incomplete figures")
    return f.batch, f.single, f.idle, f.loaded, f.resends


def rows(f: Figures) -> list[tuple[str, float, str]]:
    """(measure, value, better) rows; better is 'higher', 'lower' or 'exact1'."""
    batch, single, idle, loaded, resends = _complete(f)
    return [
        ("ingest, batches of 100 (alerts/s)", batch.rate, "higher"),
        ("ingest, one per request (alerts/s)", single.rate, "higher"),
        ("batched alerts processed (alerts/s)", f.processed_rate, "higher"),
        ("re-sends of one alert (requests/s)", resends.rate, "higher"),
        (
            "server CPU per 1,000 batched alerts (s)",
            1000 * batch.server_cpu_s / batch.alerts,
            "lower",
        ),
        ("latency idle p50 (ms)", idle.p50_ms, "lower"),
        ("latency idle p95 (ms)", idle.p95_ms, "lower"),
        ("latency idle p99 (ms)", idle.p99_ms, "lower"),
        ("latency at 1,000 alerts/s p50 (ms)", loaded.p50_ms, "lower"),
        ("latency at 1,000 alerts/s p95 (ms)", loaded.p95_ms, "lower"),
        ("latency at 1,000 alerts/s p99 (ms)", loaded.p99_ms, "lower"),
        ("notifications for 1 alert re-sent", float(f.dedup_notifications), "exact1"),
        ("RSS at start (MiB)", f.rss_start_mib, "lower"),
        (f"RSS with {f.open_alerts:,} open alerts (MiB)", f.rss_open_mib, "lower"),
    ]


TARGETS = {0: "ninefold >= Alertmanager", 1: "ninefold >= Alertmanager", 11: "exactly 1"}


def source_revision() -> str:
    """The commit ninefold runs from, and whether src/ has uncommitted changes."""

    def git(*argv: str) -> str:
        done = subprocess.run(
            ["git", *argv], cwd=BENCH.parent, capture_output=True, text=True, check=False
        )
        return done.stdout.strip()

    dirty = git("status", "--porcelain", "--", "src")
    changed = len(dirty.splitlines())
    return git("rev-parse", "--short", "HEAD") + (
        f" + uncommitted changes in {changed} src/ files" if changed else " (src/ clean)"
    )


def report(results: list[Figures], args: argparse.Namespace, elapsed: float, source: str) -> None:
    """Print the plain table: every system, ratio ninefold/Alertmanager, PASS/FAIL per target."""
    am = next((f for f in results if f.label == "Alertmanager"), None)
    nfs = [f for f in results if f is not am]
    if am is None or not nfs:
        print("incomplete run: nothing to compare")
        return
    head = ["measure", am.label]
    for nf in nfs:
        head += [nf.label, "ratio", "target"]
    table = [head]
    am_rows = rows(am)
    nf_rows = [rows(nf) for nf in nfs]
    for i, (name, am_value, better) in enumerate(am_rows):
        line = [name.replace(f"{am.open_alerts:,} open", "all open"), _num(am_value)]
        for nr in nf_rows:
            value = nr[i][1]
            ratio = value / am_value if am_value and am_value == am_value else float("nan")
            verdict = "–"
            if i in TARGETS:
                ok = value == 1 if better == "exact1" else ratio >= 1.0
                verdict = "PASS" if ok else "FAIL"
            line += [_num(value), f"{ratio:.2f}" if ratio == ratio else "n/a", verdict]
        table.append(line)
    widths = [max(len(r[c]) for r in table) for c in range(len(head))]
    print()
    print(f"ninefold source at start: {source}")
    print(
        f"Alert intake: {args.alerts:,} alerts in batches of 100, {args.single:,} one per "
        f"request, {args.probes} latency probes, {args.resends:,} re-sends; {args.workers} "
        f"client connections; {os.cpu_count()} CPUs; load average "
        f"{os.getloadavg()[0]:.1f}; {elapsed:.0f} s"
    )
    for n, r in enumerate(table):
        print(
            "  ".join(
                c.ljust(w) if k == 0 else c.rjust(w)
                for k, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )
        if n == 0:
            print("  ".join("-" * w for w in widths))
    print("targets: throughput (batches and one per request) ninefold >= Alertmanager; exactly one")
    print("notification for a re-sent alert. Latency and memory: no target, ratio shown.")
    for f in results:
        batch, single, idle, loaded, resends = _complete(f)
        bad = {k: v for b in (batch, single, resends) for k, v in b.statuses.items() if k != "200"}
        print(
            f"{f.label}: open alerts {f.open_alerts:,} after the batches; probes received idle "
            f"{idle.received}/{idle.probes}, loaded {loaded.received}/{loaded.probes}; "
            f"background {loaded.background_rate:,.0f} alerts/s ({loaded.background_failed} "
            f"failed); request p50/p99 {batch.request_p50_ms:.0f}/{batch.request_p99_ms:.0f} ms "
            f"(batch), {single.request_p50_ms:.1f}/{single.request_p99_ms:.1f} ms (single); "
            f"probe POST answered p50 {idle.ack_p50_ms:.1f} ms idle; non-200 answers: "
            f"{bad or 'none'}; load average {f.load[0]:.1f} -> {f.load[1]:.1f}"
        )
