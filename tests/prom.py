"""Reusable test helpers: a real ``prometheus`` process and a tiny controllable exporter.

``PrometheusServer`` runs Debian's ``prometheus`` binary on a free loopback port with a temporary
TSDB directory, 1 s scrape and rule-evaluation intervals and optional rule files, and stops it by
PID. ``Exporter`` serves ``/metrics`` from a thread; every scrape calls the test's ``on_scrape``
to advance the series, and the exporter logs (time served, values) so tests know exactly which
increments Prometheus saw. Missing binaries make the tests fail loudly, never skip.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest


def binary(name: str) -> str:
    """Path of a required binary; fail the test (not skip) when it is missing."""
    path = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
    if path is None:
        pytest.fail(f"{name} is not installed (Debian package prometheus); these tests need it")
    return path


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1 (bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_until_ready(
    argv: Callable[[int], list[str]], *, workdir: Path, log_name: str, timeout: float, what: str
) -> tuple[subprocess.Popen[bytes], int]:
    """Start a server on a free port (up to 3 tries) until its ``/-/ready`` answers 200."""
    log_path = workdir / log_name
    with log_path.open("wb") as log:
        for _attempt in range(3):
            port = free_port()
            process = subprocess.Popen(
                argv(port), stdout=log, stderr=subprocess.STDOUT, cwd=workdir
            )
            if wait_ready(process, f"http://127.0.0.1:{port}", timeout):
                return process, port
            stop_process(process)
    pytest.fail(f"{what} did not become ready:\n" + log_path.read_text(errors="replace")[-3000:])


def wait_ready(process: subprocess.Popen[bytes], url: str, timeout: float) -> bool:
    """Poll ``/-/ready`` until 200, the process exits, or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            if httpx.get(f"{url}/-/ready", timeout=1.0).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    return False


def stop_process(process: subprocess.Popen[bytes] | None) -> None:
    """Stop a process we started, by PID: SIGTERM, then SIGKILL if it does not exit in 10 s."""
    if process is None or process.poll() is not None:
        return
    os.kill(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


Series = dict[str, float]


@dataclass
class Scrape:
    """One scrape served: wall-clock time and the values exposed."""

    at: float
    values: Series


@dataclass
class Exporter:
    """A loopback ``/metrics`` endpoint whose series the test computes on each scrape."""

    on_scrape: Callable[[int], Series]
    types: dict[str, str] = field(default_factory=dict)
    log: list[Scrape] = field(default_factory=list)
    port: int = 0
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> Exporter:
        """Serve in a daemon thread on a free port."""
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] != "/metrics":
                    self.send_error(404)
                    return
                body = exporter.render().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self._server.server_address[1])
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    @property
    def target(self) -> str:
        """``host:port`` for a scrape config."""
        return f"127.0.0.1:{self.port}"

    def render(self) -> str:
        """Advance the series for one scrape, log it and return the exposition text."""
        with self._lock:
            values = dict(self.on_scrape(len(self.log)))
            self.log.append(Scrape(time.time(), values))
        lines = [f"# TYPE {name} {kind}" for name, kind in self.types.items()]
        lines += [f"{series} {value!r}" for series, value in values.items()]
        return "\n".join(lines) + "\n"

    def scrapes(self) -> list[Scrape]:
        """A copy of the scrape log."""
        with self._lock:
            return list(self.log)

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@dataclass
class PrometheusServer:
    """A real Prometheus on a free loopback port, scraping ``targets`` every second."""

    workdir: Path
    targets: list[str] = field(default_factory=list)
    rule_files: list[Path] = field(default_factory=list)
    extra_config: str = ""
    extra_args: list[str] = field(default_factory=list)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL of the HTTP API."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> PrometheusServer:
        """Write the config, start the process and wait until it is ready."""
        exe = binary("prometheus")
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "prometheus.yml"
        config.write_text(self._config(), encoding="utf-8")
        self.process, self.port = start_until_ready(
            lambda port: self._argv(exe, config, port),
            workdir=self.workdir,
            log_name="prometheus.log",
            timeout=timeout,
            what="prometheus",
        )
        return self

    def restart(self, timeout: float = 20.0) -> PrometheusServer:
        """Start again on the same port and TSDB directory after :meth:`stop`."""
        assert self.port, "start() first"
        self.stop()
        argv = self._argv(binary("prometheus"), self.workdir / "prometheus.yml", self.port)
        with (self.workdir / "prometheus.log").open("ab") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        if not wait_ready(self.process, self.url, timeout):
            pytest.fail("prometheus did not restart on its port")
        return self

    def _argv(self, exe: str, config: Path, port: int) -> list[str]:
        return [
            exe,
            f"--config.file={config}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=1d",
            "--web.enable-lifecycle",
            *self.extra_args,
        ]

    def _config(self) -> str:
        rules = "".join(f"  - {path}\n" for path in self.rule_files)
        targets = ", ".join(f'"{t}"' for t in self.targets)
        return (
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            + (f"rule_files:\n{rules}" if rules else "")
            + "scrape_configs:\n"
            + "  - job_name: exporter\n"
            + "    scrape_interval: 1s\n"
            + f"    static_configs:\n      - targets: [{targets}]\n"
            + self.extra_config
        )

    def api(self, path: str, **params: Any) -> Any:
        """GET an API path and return ``data`` (fails the test on an error status)."""
        response = httpx.get(f"{self.url}{path}", params=params, timeout=10.0)
        body = response.json()
        assert body.get("status") == "success", body
        return body["data"]

    def stop(self) -> None:
        """Stop the process by PID."""
        process, self.process = self.process, None
        stop_process(process)


def promtool_check_rules(path: Path) -> subprocess.CompletedProcess[str]:
    """Run ``promtool check rules`` on a file."""
    return subprocess.run(
        [binary("promtool"), "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
