"""Web worker processes of ``ninefold serve --workers N``, each with its own listening socket.

uvicorn's own supervisor hands one listening socket to every worker. Each worker's event loop
then accepts every connection waiting when it wakes (up to its backlog), so a burst of new
connections lands mostly on one worker: 20 keep-alive clients were split 12/8, 14/6 and 17/4,
and the busier worker's requests waited two to four times as long. Here every worker binds its
own socket to the address with ``SO_REUSEPORT`` and the kernel spreads new connections over
them by a hash of the client's address and port (Linux; see ADR 0011).

The supervisor restarts a worker that dies, and on SIGINT or SIGTERM stops them all (SIGTERM:
each finishes the requests it has, as uvicorn does) and returns.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import threading
import time
from typing import Any

import uvicorn

log = logging.getLogger(__name__)

BACKLOG = 2048
"""Pending connections per worker socket (uvicorn's default)."""
RESTART_PAUSE = 1.0
"""Seconds between a worker's death and its replacement (no busy loop on a bad address)."""
STOP_TIMEOUT = 30.0
"""Seconds a worker gets to finish its requests after SIGTERM before it is killed."""

_spawn = multiprocessing.get_context("spawn")


def supported() -> bool:
    """Whether this platform balances connections over ``SO_REUSEPORT`` sockets."""
    import sys

    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def _address(host: str, port: int) -> tuple[int, Any]:
    """The address family and address uvicorn itself would bind for ``host`` (IPv6 only for
    a host with a colon: ``localhost`` is 127.0.0.1, as with one worker)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    _family, _type, _proto, _name, address = socket.getaddrinfo(
        host, port, family=family, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    return family, address


def check_free(host: str, port: int) -> None:
    """Raise ``OSError`` when another program already listens on ``host:port``.

    A socket bound without ``SO_REUSEPORT`` cannot share the port, so this fails when anything
    holds it (with or without the option); the workers then never start on a taken port."""
    family, address = _address(host, port)
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(address)


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket listening on ``host:port`` that shares the port with the other workers'."""
    family, address = _address(host, port)
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    sock.listen(BACKLOG)
    return sock


def _worker(app: str, host: str, port: int, log_level: str) -> None:
    """One worker process: its own socket, one uvicorn server on it."""
    sock = listening_socket(host, port)
    config = uvicorn.Config(app, factory=True, host=host, port=port, log_level=log_level)
    uvicorn.Server(config).run(sockets=[sock])


class Supervisor:
    """Start ``count`` workers serving the app factory ``app`` ("module:function") and keep
    them running until :meth:`stop` (or SIGINT/SIGTERM in :meth:`run`)."""

    def __init__(self, app: str, count: int, host: str, port: int, log_level: str) -> None:
        self._args = (app, host, port, log_level)
        self._count = count
        self._stopping = threading.Event()
        self.processes: list[Any] = []

    def _start(self) -> Any:
        process = _spawn.Process(target=_worker, args=self._args, name="ninefold-web-worker")
        process.start()
        return process

    def stop(self) -> None:
        """Ask :meth:`run` to stop the workers and return."""
        self._stopping.set()

    def run(self, *, on_signals: bool = True) -> None:
        """Serve until stopped; the workers are gone when this returns."""
        restore: list[tuple[signal.Signals, Any]] = []
        if on_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                restore.append((sig, signal.signal(sig, lambda *_: self.stop())))
        try:
            self.processes = []
            for _ in range(self._count):  # one by one: a failure stops those already started
                self.processes.append(self._start())
            while not self._stopping.wait(0.5):
                for i, process in enumerate(self.processes):
                    if process.is_alive():
                        continue
                    log.error(
                        "web worker %s exited (code %s); starting another",
                        process.pid,
                        process.exitcode,
                    )
                    if self._stopping.wait(RESTART_PAUSE):
                        break
                    self.processes[i] = self._start()
        finally:
            self._shutdown()
            for signum, handler in restore:
                signal.signal(signum, signal.SIG_DFL if handler is None else handler)

    def _shutdown(self) -> None:
        for process in self.processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes its requests, then exits
        deadline = time.monotonic() + STOP_TIMEOUT
        for process in self.processes:
            process.join(max(deadline - time.monotonic(), 0.1))
            if process.is_alive():
                process.kill()
                process.join()
