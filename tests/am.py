"""Test helpers for a real Alertmanager (Debian package ``prometheus-alertmanager``) and ``amtool``.

``AlertmanagerServer`` runs ``/usr/bin/prometheus-alertmanager`` on a free loopback port with a
temporary ``--storage.path``, clustering disabled (empty ``--cluster.listen-address``) and the
given configuration, and stops it by PID. ``WebhookSink`` is a loopback receiver that records
the webhook payloads Alertmanager sends. ``amtool_routes`` asks ``amtool config routes test``
which receivers a label set reaches. Missing binaries make the tests fail loudly, never skip.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.prom import start_until_ready, stop_process

MINIMAL_CONFIG = "route:\n  receiver: default\nreceivers:\n  - name: default\n"


def am_binary(name: str) -> str:
    """Path of ``prometheus-alertmanager`` or ``amtool``; fail the test (not skip) when missing."""
    path = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
    if path is None:
        pytest.fail(
            f"{name} is not installed: apt-get install prometheus-alertmanager (these tests need it)"
        )
    return path


@dataclass
class AlertmanagerServer:
    """A real Alertmanager on a free loopback port with its own storage directory."""

    workdir: Path
    config: str = MINIMAL_CONFIG
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:40123``."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> AlertmanagerServer:
        """Write the config, start the process and wait until ``/-/ready`` answers 200."""
        exe = am_binary("prometheus-alertmanager")
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "alertmanager.yml"
        config.write_text(self.config, encoding="utf-8")
        self.process, self.port = start_until_ready(
            lambda port: [
                exe,
                f"--config.file={config}",
                f"--storage.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
                "--log.level=warn",
            ],
            workdir=self.workdir,
            log_name="alertmanager.log",
            timeout=timeout,
            what="alertmanager",
        )
        return self

    def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        """``POST /api/v2/alerts``; fails the test unless Alertmanager answers 200."""
        response = httpx.post(f"{self.url}/api/v2/alerts", json=alerts, timeout=10.0)
        assert response.status_code == 200, response.text

    def alerts(self) -> list[dict[str, Any]]:
        """``GET /api/v2/alerts`` (active, silenced and inhibited alike)."""
        response = httpx.get(f"{self.url}/api/v2/alerts", timeout=10.0)
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()
        return result

    def stop(self) -> None:
        """Stop the process by PID."""
        process, self.process = self.process, None
        stop_process(process)


@dataclass
class WebhookSink:
    """A loopback HTTP endpoint that records every JSON body posted to it."""

    payloads: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> WebhookSink:
        """Serve in a daemon thread on a free port."""
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                with sink._lock:
                    sink.payloads.append(body)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self._server.server_address[1])
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        """URL to put into a ``webhook_configs`` entry."""
        return f"http://127.0.0.1:{self.port}/hook"

    def received(self) -> list[dict[str, Any]]:
        """A copy of the payloads received so far."""
        with self._lock:
            return list(self.payloads)

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def _om_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def amtool_routes(config_file: Path, labels: dict[str, str]) -> list[str]:
    """Receivers ``amtool config routes test`` resolves ``labels`` to, in tree order."""
    args = [f'{name}="{_om_escape(value)}"' for name, value in labels.items()]
    result = subprocess.run(
        [am_binary("amtool"), "config", "routes", "test", f"--config.file={config_file}", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"amtool failed for {labels}: {result.stderr}{result.stdout}"
    line = result.stdout.strip()
    return line.split(",") if line else []


def amtool_check_config(config_file: Path) -> subprocess.CompletedProcess[str]:
    """Run ``amtool check-config`` on a file."""
    return subprocess.run(
        [am_binary("amtool"), "check-config", str(config_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
