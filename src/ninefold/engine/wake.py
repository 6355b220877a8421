"""Waking the engine from another process: ``ninefold serve --workers N``.

With several web workers the engine runs once, in the parent process. A worker that committed
alerts to the intake log, or notifications to the outbox, sends a one-byte datagram on loopback
to the parent, which wakes its intake or delivery thread at once; without it the parent would
only find the work at its next poll. A lost datagram costs at most that poll interval.
"""

from __future__ import annotations

import logging
import socket
import threading
from typing import Any

log = logging.getLogger("ninefold.engine")

PORT_VARIABLE = "_NINEFOLD_ENGINE_WAKE_PORT"
"""Environment variable telling the workers where the parent listens."""

INTAKE = b"i"
DELIVERY = b"d"


class RemoteEngine:
    """Stands in for the engine runner in a web worker: forwards wake-ups to the parent."""

    def __init__(self, port: int) -> None:
        self._address = ("127.0.0.1", port)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def wake_intake(self) -> None:
        """Ask the parent's engine to process the intake log now."""
        self._send(INTAKE)

    def wake_delivery(self) -> None:
        """Ask the parent's engine to deliver queued notifications now."""
        self._send(DELIVERY)

    def leader_of(self) -> list[str]:
        """A worker leads no engine module."""
        return []

    def _send(self, what: bytes) -> None:
        try:
            self._socket.sendto(what, self._address)
        except OSError:  # the parent polls anyway
            log.debug("engine wake-up not sent", exc_info=True)


class WakeListener:
    """In the parent: receives the workers' datagrams and wakes ``state.engine_runner``."""

    def __init__(self, state: Any) -> None:
        self._state = state
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        self._thread = threading.Thread(target=self._run, name="ninefold-wake", daemon=True)

    def start(self) -> WakeListener:
        """Listen from a daemon thread."""
        self._thread.start()
        return self

    def _run(self) -> None:
        while True:
            try:
                data = self._socket.recv(16)
            except OSError:
                return  # closed
            runner = getattr(self._state, "engine_runner", None)
            if runner is None:
                continue
            if INTAKE in data:
                runner.wake_intake()
            if DELIVERY in data:
                runner.wake_delivery()

    def close(self) -> None:
        """Stop listening."""
        self._socket.close()
