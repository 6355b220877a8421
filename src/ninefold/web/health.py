"""The overview's SLO health: every SLO evaluated once per few seconds, shared by all requests.

The engine stores every SLO's status after each evaluation (``slo_snapshots``); the console
reads that when it is recent. Without it (engine off or behind) the console evaluates the SLOs
itself, which for 3,000 SLOs takes about a second of CPU. Either way it happens at most once per
``ttl`` in one process and every overview request reads the same snapshot (plain values, no
ORM rows). The services tables, which are the same for every user (no CSRF token, no role
dependent buttons), are rendered once per snapshot too and kept with it.

Staleness: a snapshot is served while it is younger than ``ttl``; up to ``max_stale`` it is still
served while one background thread computes the next one; an older one (nobody looked for a
while) is recomputed before answering. A refresh that finds the same stored evaluation, the
same SLO versions and the same services as the snapshot it replaces keeps that snapshot (and
its rendered fragments) instead of parsing and summarising again. Open incidents, firing alerts
and who is on call are not part of it (see ``pages.overview``).
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from markupsafe import Markup

from ninefold.catalog.store import ServiceHead
from ninefold.slo import jobs as slo_jobs
from ninefold.slo import store as slo_store
from ninefold.slo.schemas import SLOStatus
from ninefold.slo.wiring import prometheus_source

log = logging.getLogger("ninefold.web")

STATUS_ORDER = {
    "exhausted": 0,
    "critical": 1,
    "warning": 2,
    "stale": 3,
    "no_data": 4,
    "healthy": 5,
}
STORED_MAX_AGE = timedelta(seconds=90)
"""The engine's stored evaluation is used when at most this old (or three evaluation intervals:
its time is when the evaluation started, and one can take a while with a slow Prometheus)."""
MAX_FRAGMENTS = 64
"""Rendered fragments kept per snapshot (tiers × pages); beyond that they are rendered anew."""


def worst(statuses: list[SLOStatus]) -> str:
    """The worst status among SLOs ('none' without SLOs)."""
    if not statuses:
        return "none"
    return min((s.status for s in statuses), key=lambda s: STATUS_ORDER.get(s, 6))


def _rank(status: str, budget: float | None) -> tuple[int, float]:
    return STATUS_ORDER.get(status, 6), budget if budget is not None else 2.0


@dataclass
class Health:
    """What the overview shows of the organisation's SLOs, as plain values."""

    at: datetime
    """When the SLOs were evaluated (by the engine, or here)."""
    fetched: datetime
    """When this process read or computed it: its lifetime counts from here."""
    tiers: list[tuple[int, list[dict[str, Any]]]]
    burning: list[SLOStatus]
    mark: tuple[Any, ...] | None = None
    """What it was made from (stored evaluation time, SLO versions, services), when it was made
    from the engine's stored evaluation; None when evaluated here."""
    _fragments: dict[tuple[Any, ...], Markup] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def rows(self, tier: int) -> list[dict[str, Any]]:
        """The services of one tier, those needing attention first ([] for unknown tiers)."""
        return next((rows for t, rows in self.tiers if t == tier), [])

    def fragment(self, key: tuple[Any, ...], build: Callable[[], str]) -> Markup:
        """HTML built once per snapshot and ``key`` (only for content that is the same for
        every user: never pass anything holding a CSRF token or depending on the role)."""
        with self._lock:
            found = self._fragments.get(key)
        if found is not None:
            return found
        html = Markup(build())  # noqa: S704 - built by the autoescaping template environment
        with self._lock:
            if len(self._fragments) < MAX_FRAGMENTS:
                self._fragments[key] = html
        return html


def summarise(
    services: list[ServiceHead],
    statuses: list[SLOStatus],
    at: datetime,
    fetched: datetime,
    mark: tuple[Any, ...] | None = None,
) -> Health:
    """Group SLO statuses by tier and service; worst services and SLOs first."""
    by_service: dict[str, list[SLOStatus]] = defaultdict(list)
    for st in statuses:
        by_service[st.service].append(st)
    tiers: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for svc in services:
        sts = by_service.get(svc.name, [])
        budgets = [
            s.error_budget_remaining_fraction
            for s in sts
            if s.error_budget_remaining_fraction is not None
        ]
        tiers[svc.tier].append(
            {
                "name": svc.name,
                "title": svc.display_name or svc.name,
                "owner": svc.owner,
                "slos": [(s.name, s.status) for s in sts],
                "status": worst(sts),
                "budget": min(budgets) if budgets else None,
            }
        )
    for rows in tiers.values():
        rows.sort(key=lambda r: (*_rank(r["status"], r["budget"]), r["name"]))
    burning = sorted(
        (s for s in statuses if s.status in ("exhausted", "critical", "warning")),
        key=lambda s: (*_rank(s.status, s.error_budget_remaining_fraction), s.name),
    )
    return Health(at, fetched, sorted(tiers.items()), burning, mark)


class HealthCache:
    """The latest :class:`Health` of one process, recomputed at most once per ``ttl``."""

    def __init__(
        self,
        ttl: timedelta = timedelta(seconds=15),
        max_stale: timedelta | None = None,
    ) -> None:
        self.ttl = ttl
        self.max_stale = max_stale if max_stale is not None else 4 * ttl
        self._lock = threading.Lock()
        self._compute_lock = threading.Lock()
        self._refreshing = False
        self._value: Health | None = None

    def _compute(self, state: Any, now: datetime) -> Health:
        """The engine's stored evaluation when it is recent; else every SLO evaluated here.
        The current snapshot again (fetched now) when nothing it was made from changed."""
        from ninefold.catalog import store as catalog_store

        interval = getattr(state.settings, "evaluation_interval_seconds", 30.0)
        max_age = max(timedelta(seconds=3 * interval), STORED_MAX_AGE)
        with state.session_factory() as session, session.begin():
            services = catalog_store.service_heads(session)
            stored_at = slo_store.snapshot_time(session)
            mark = None
            if stored_at is not None and now - max_age <= stored_at <= now + max_age:
                mark = (stored_at, tuple(slo_store.slo_versions(session)), tuple(services))
                with self._lock:
                    previous = self._value
                if previous is not None and previous.mark == mark:
                    return replace(previous, fetched=now)
            at, statuses = slo_jobs.current_statuses(
                session, now, max_age=max_age, prometheus=prometheus_source(state.settings)
            )
            return summarise(services, statuses, at, now, mark if at == stored_at else None)

    def _refresh(self, state: Any, now: datetime) -> None:
        try:
            with self._compute_lock:
                value = self._compute(state, now)
            with self._lock:
                if self._value is None or value.fetched >= self._value.fetched:
                    self._value = value
        except Exception:  # keep serving the last value; the next request retries
            log.exception("refreshing the overview's SLO health failed")
        finally:
            with self._lock:
                self._refreshing = False

    def get(self, state: Any, now: datetime) -> Health:
        """A snapshot no older than ``ttl`` (or ``max_stale`` while a new one is computed)."""
        with self._lock:
            value = self._value
            if value is not None and value.fetched <= now < value.fetched + self.ttl:
                return value
            if value is not None and value.fetched <= now < value.fetched + self.max_stale:
                if not self._refreshing:
                    self._refreshing = True
                    threading.Thread(target=self._refresh, args=(state, now), daemon=True).start()
                return value
        # nothing usable: compute now; concurrent requests wait for one computation
        with self._compute_lock:
            with self._lock:
                value = self._value
            if value is not None and value.fetched <= now < value.fetched + self.ttl:
                return value
            value = self._compute(state, now)
            with self._lock:
                self._value = value
            return value


_CREATE = threading.Lock()


def health_cache(state: Any) -> HealthCache:
    """The app's health cache (created on first use, with the configured lifetime)."""
    with _CREATE:
        cache = getattr(state, "web_health_cache", None)
        if cache is None:
            seconds = getattr(state.settings, "web_cache_seconds", 15)
            cache = state.web_health_cache = HealthCache(ttl=timedelta(seconds=seconds))
    assert isinstance(cache, HealthCache)
    return cache
