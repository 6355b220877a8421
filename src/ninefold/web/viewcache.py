"""Short-lived, bounded, per-process caches of computed view data that is the same for every user.

Used where a page would otherwise recompute the same thing for every request of a busy console:
an SLO's evaluation (nine window sums over its buckets), the incident console's pick lists
(severities, roles, people, schedules) and the overview's lists (open incidents, firing alerts,
on call now: :data:`LIVE_TTL`). An entry is used while it is younger than the cache's
lifetime at the request's clock, so what a page shows may be that much older than the database.
Never put anything user-specific here (CSRF tokens, role-dependent HTML).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

V = TypeVar("V")

VIEW_TTL = timedelta(seconds=5)
"""Lifetime of the SLO page's evaluation and of the incident console's pick lists."""
LIVE_TTL = timedelta(seconds=1)
"""Lifetime of the overview's lists: what many people watching it during an incident share."""


class TtlCache(Generic[V]):
    """At most ``max_entries`` values, each used for ``ttl`` after it was computed."""

    def __init__(self, ttl: timedelta, max_entries: int) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, tuple[datetime, V]] = OrderedDict()
        self._computing: set[Hashable] = set()

    def get(self, key: Hashable, now: datetime, compute: Callable[[], V]) -> V:
        """The value of ``key`` computed at most ``ttl`` before ``now``, else ``compute()``.

        While one request recomputes an expired value, the others get the expired one at once
        if it is younger than twice ``ttl``, instead of all computing it together when it
        expires; an older one (nobody asked for a while) is computed like a missing one.
        Requests that find no value at all compute it (bounded by the number of concurrent
        requests, and cheaper than holding a lock around database work)."""
        with self._lock:
            found = self._entries.get(key)
            age = now - found[0] if found is not None else None
            # fresh, or expired but younger than 2 × ttl while another request recomputes it
            if (
                found is not None
                and age is not None
                and timedelta(0) <= age
                and (age < self.ttl or (key in self._computing and age < 2 * self.ttl))
            ):
                self._entries.move_to_end(key)
                return found[1]
            self._computing.add(key)
        try:
            value = compute()
        finally:
            with self._lock:
                self._computing.discard(key)
        with self._lock:
            self._entries[key] = (now, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return value

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


_CREATE = threading.Lock()


def view_cache(state: Any, name: str, max_entries: int, ttl: timedelta = VIEW_TTL) -> TtlCache[Any]:
    """The app's cache called ``name`` (created on first use with lifetime ``ttl``)."""
    with _CREATE:
        caches: dict[str, TtlCache[Any]] | None = getattr(state, "web_view_caches", None)
        if caches is None:
            caches = state.web_view_caches = {}
        if name not in caches:
            caches[name] = TtlCache(ttl, max_entries)
        return caches[name]


class Changes:
    """A count of committed changes to what a view shows, made through this process's ORM
    sessions: a cache keyed on :meth:`count` is fresh at once after the console or the API of
    this process changes the objects watched (other processes' changes show within the
    cache's lifetime)."""

    def __init__(self, watched: tuple[type, ...]) -> None:
        self._watched = watched
        self._count = 0
        self._lock = threading.Lock()

    def count(self) -> int:
        """How many watched changes this process committed so far."""
        return self._count

    def install(self, factory: Any) -> None:
        """Watch the sessions of ``factory`` (a ``sessionmaker``)."""
        from sqlalchemy import event

        @event.listens_for(factory, "after_flush")
        def _flushed(session: Any, _context: Any) -> None:
            objects = (*session.new, *session.dirty, *session.deleted)
            if any(isinstance(o, self._watched) for o in objects):
                session.info["ninefold_view_changed"] = True

        @event.listens_for(factory, "after_commit")
        def _committed(session: Any) -> None:
            if session.info.pop("ninefold_view_changed", False):
                with self._lock:
                    self._count += 1

        @event.listens_for(factory, "after_soft_rollback")
        def _rolled_back(session: Any, _previous: Any) -> None:
            session.info.pop("ninefold_view_changed", None)
