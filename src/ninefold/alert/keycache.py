"""A short-lived cache of integration keys for the inbound endpoints.

Looking the key up costs a query per request, a large share of a one-alert request. The cache
keeps each looked-up integration (or "unknown") for ``integration_key_cache_seconds``; any
change to an integration made through the app's own sessions (API, console) empties it at once,
so only changes made elsewhere (another replica, the CLI) wait for the time to live. Validity of a rotated key's
grace period and of ``disabled_at`` is checked on every use against the cached row.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from ninefold.alert import store
from ninefold.alert.models import Integration
from ninefold.identity.tokens import hash_token


class KeyCache:
    """key digest → (integration or None, expiry); bounded in size."""

    MAX_ENTRIES = 10_000

    def __init__(self, ttl_seconds: float, factory: sessionmaker[Session]) -> None:
        self.ttl = ttl_seconds
        self._entries: dict[str, tuple[Integration | None, float]] = {}
        self._generation = 0
        self._seen = 0
        self._lock = threading.Lock()
        # Changes through this app's sessions empty the cache (as the audit capture, a
        # listener on the factory, not on the Session class).
        event.listen(factory, "after_flush", self._changed)

    def _changed(self, session: Session, _ctx: Any) -> None:
        if any(
            isinstance(o, Integration) for o in (*session.new, *session.dirty, *session.deleted)
        ):
            with self._lock:
                self._generation += 1

    def peek(self, key: str, now: datetime) -> tuple[bool, Integration | None]:
        """(True, what ``key`` opens now) when the cache knows ``key``, else (False, None):
        no database, so an event loop may ask."""
        if self.ttl <= 0:
            return False, None
        digest = hash_token(key)
        with self._lock:
            if self._seen != self._generation:
                self._entries.clear()
                self._seen = self._generation
            hit = self._entries.get(digest)
        if hit is None or hit[1] <= time.monotonic():
            return False, None
        row = hit[0]
        return True, (row if row is not None and store.key_valid(row, digest, now) else None)

    def lookup(self, session: Session, key: str, now: datetime) -> Integration | None:
        """The integration ``key`` opens now, from the cache or the database."""
        known, row = self.peek(key, now)
        if known:
            return row
        digest = hash_token(key)
        generation = self._generation
        row = store.integration_by_key(session, key=key, now=now)
        if self.ttl > 0:
            if row is not None:
                session.expunge(row)  # kept beyond this session, read-only
            with self._lock:
                if len(self._entries) >= self.MAX_ENTRIES:
                    self._entries.clear()
                if generation == self._generation:
                    self._entries[digest] = (row, time.monotonic() + self.ttl)
        return row
