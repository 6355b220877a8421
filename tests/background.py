"""A load generator's thread: ``_loop`` runs in a daemon thread from ``start`` until ``stop``."""

from __future__ import annotations

import threading
from typing import Self


class BackgroundLoop:
    """Subclasses set ``_stop`` (an Event their loop watches) and ``_thread = None``, and define
    ``_loop``; ``stop`` sets the event and waits up to ``STOP_TIMEOUT`` for the loop to end."""

    STOP_TIMEOUT = 150.0
    _stop: threading.Event
    _thread: threading.Thread | None

    def _loop(self) -> None:
        raise NotImplementedError

    def start(self) -> Self:
        """Run the loop in a daemon thread."""
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def join(self, timeout: float) -> None:
        """Wait for the loop to end by itself."""
        if self._thread is not None:
            self._thread.join(timeout)

    def stop(self, timeout: float | None = None) -> None:
        """Stop after the work in flight (see each subclass)."""
        self._stop.set()
        self.join(self.STOP_TIMEOUT if timeout is None else timeout)
