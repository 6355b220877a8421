"""The loopback webhook receiver of the delivery, HA, crash-safety and fault tests.

It records every request (when, path, headers, body) and answers 200, unless told otherwise
per path: a fixed status or ``"hang"`` (``faults``), a queue of statuses used up one request
at a time (``script``), or a delay before every answer (``delay``).
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Hit:
    """One request as the receiver saw it: when (monotonic), where, headers (lower-case
    names), body."""

    at: float
    path: str
    headers: dict[str, str]
    body: bytes


class _QuietServer(ThreadingHTTPServer):
    """Connections reset by a killed or timed-out sender are expected here, not worth a
    traceback."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@dataclass
class WebhookReceiver:
    """A loopback webhook receiver (see the module docstring for what it answers)."""

    faults: dict[str, int | str] = field(default_factory=dict)
    """Per path: the status every request gets, or "hang" (no answer for ``hang_seconds``)."""
    script: dict[str, list[int]] = field(default_factory=dict)
    """Per path: statuses for the next requests, one each; then ``faults`` or 200."""
    delay: float = 0.0
    """Seconds to wait before every answer."""
    hang_seconds: float = 30.0
    hits: list[Hit] = field(default_factory=list)
    port: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: _QuietServer | None = None

    def start(self) -> WebhookReceiver:
        """Serve in a daemon thread on a free port."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver._lock:
                    receiver.hits.append(Hit(time.monotonic(), self.path, headers, body))
                    queue = receiver.script.get(self.path, [])
                    answer = queue.pop(0) if queue else receiver.faults.get(self.path, 200)
                if answer == "hang":
                    time.sleep(receiver.hang_seconds)
                    self.close_connection = True
                    return
                if receiver.delay:
                    time.sleep(receiver.delay)
                with contextlib.suppress(ConnectionError):
                    self.send_response(int(answer))
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                return

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self.port = int(self._server.server_address[1])
        server = self._server
        threading.Thread(target=lambda: server.serve_forever(0.02), daemon=True).start()
        return self

    def url(self, path: str) -> str:
        """The receiver's URL for ``path``."""
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list[Hit]:
        """The requests ``path`` got, in order."""
        with self._lock:
            return [h for h in self.hits if h.path == path]

    def counts(self) -> Counter[str]:
        """Requests per ``Idempotency-Key``."""
        with self._lock:
            return Counter(h.headers.get("idempotency-key", "") for h in self.hits)

    def paths(self) -> dict[str, str]:
        """The path each ``Idempotency-Key`` was delivered to (the last one)."""
        with self._lock:
            return {h.headers.get("idempotency-key", ""): h.path for h in self.hits}

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
