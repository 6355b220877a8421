"""Periodic SLO evaluation: evaluate every SLO, record and raise alert transitions, export gauges."""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter
from sqlalchemy.orm import Session

from ninefold.config import Settings
from ninefold.slo import flows, store
from ninefold.slo.models import SloAlertEvent
from ninefold.slo.schemas import SLOStatus
from ninefold.slo.sources import Source
from ninefold.slo.wiring import prometheus_source

if TYPE_CHECKING:
    from ninefold.alert.dispatch import Routing

log = logging.getLogger("ninefold.slo")

DEFAULT_PUBLIC_URL: str = Settings.model_fields["public_url"].default
_STATUSES = TypeAdapter(list[SLOStatus])
STALE_LIMIT = 500
"""Beyond this many SLOs changed since the stored evaluation, all are evaluated afresh."""


@dataclass(frozen=True)
class Outcome:
    """One evaluation: every SLO's status, the transitions recorded, notifications queued."""

    statuses: list[SLOStatus]
    events: list[SloAlertEvent]
    queued: int


def evaluate(
    session: Session,
    now: datetime,
    *,
    prometheus: Source | None = None,
    routing: Routing | None = None,
    public_url: str = DEFAULT_PUBLIC_URL,
) -> Outcome:
    """Evaluate all SLOs at ``now``, record alert transitions and raise or resolve their alerts.

    Transitions enter the alert pipeline in the same transaction that records them, so a
    transition is never recorded without its alert (nor the other way round); with ``routing``
    they are notified too. Idempotent for a given state.
    """
    slos, _ = store.list_slos(session)
    statuses = flows.evaluate_slos(session, slos=slos, at=now, prometheus=prometheus)
    store.save_snapshot(
        session,
        at=now,
        statuses=_STATUSES.dump_json(statuses).decode(),
        versions=json.dumps({slo.name: slo.updated_at.isoformat() for slo in slos}),
    )
    events = flows.record_alert_transitions(session, statuses=statuses, slos=slos, at=now)
    for ev in events:
        log.info("SLO alert %s %s (slo id %s): %s", ev.severity, ev.state, ev.slo_id, ev.reason)
    queued = flows.raise_burn_alerts(
        session, events=events, slos=slos, routing=routing, now=now, public_url=public_url
    )
    return Outcome(statuses, events, queued)


def _evaluate_all(
    session: Session, now: datetime, prometheus: Source | None
) -> tuple[datetime, list[SLOStatus]]:
    slos, _ = store.list_slos(session)
    return now, flows.evaluate_slos(session, slos=slos, at=now, prometheus=prometheus)


def _parse_statuses(text: str) -> list[SLOStatus]:
    """The stored statuses, validated one by one: pydantic holds the GIL for the whole of one
    call, and one call for 3,000 statuses (about 0.2 s) stalled every request of the web
    process reading them; between single statuses the request threads run."""
    raw = json.loads(text)
    if not isinstance(raw, list):
        raise ValueError("stored SLO statuses are not a list")
    return [SLOStatus.model_validate(item) for item in raw]


def current_statuses(
    session: Session, now: datetime, *, max_age: timedelta, prometheus: Source | None
) -> tuple[datetime, list[SLOStatus]]:
    """Every SLO's status, by name: the engine's stored evaluation when made within ``max_age``
    of ``now``, with SLOs created or changed since (another ``updated_at`` than when evaluated,
    or missing) evaluated here; without a usable one (engine off or behind, or a row this version
    cannot read), every SLO evaluated here. Returns (when evaluated, the statuses).
    """
    found = store.latest_snapshot(session)
    if found is None or not now - max_age <= found[0] <= now + max_age:
        return _evaluate_all(session, now, prometheus)
    at, statuses, versions_json = found
    try:
        stored = {st.name: st for st in _parse_statuses(statuses)}
        versions: dict[str, str] = json.loads(versions_json)
    except ValueError:  # written by another version of ninefold: evaluate here
        log.warning("stored SLO statuses unreadable; evaluating every SLO", exc_info=True)
        return _evaluate_all(session, now, prometheus)
    current = store.slo_versions(session)
    stale = [
        n for n, updated in current if n not in stored or versions.get(n) != updated.isoformat()
    ]
    if len(stale) > STALE_LIMIT:
        return _evaluate_all(session, now, prometheus)
    if stale:
        slos = store.slos_named(session, stale)
        for st in flows.evaluate_slos(session, slos=slos, at=now, prometheus=prometheus):
            stored[st.name] = st
    return at, [stored[n] for n, _ in current if n in stored]


def run(
    session: Session,
    now: datetime,
    *,
    prometheus: Source | None = None,
    routing: Routing | None = None,
    public_url: str = DEFAULT_PUBLIC_URL,
) -> list[SLOStatus]:
    """:func:`evaluate`, returning the statuses."""
    return evaluate(
        session, now, prometheus=prometheus, routing=routing, public_url=public_url
    ).statuses


def run_with_state(state: Any) -> None:
    """Engine entry point: one evaluation in its own transaction, with metrics."""
    metrics = state.metrics
    started = time.perf_counter()
    try:
        with state.session_factory() as session, session.begin():
            outcome = evaluate(
                session,
                state.clock.now(),
                prometheus=prometheus_source(state.settings),
                routing=getattr(state, "routing", None),
                public_url=state.settings.public_url,
            )
    except Exception:
        metrics.evaluations.labels("error").inc()
        raise
    runner = getattr(state, "engine_runner", None)
    if outcome.queued and runner is not None:
        runner.wake_delivery()
    statuses = outcome.statuses
    metrics.evaluations.labels("ok").inc()
    metrics.evaluation_duration.observe(time.perf_counter() - started)
    firing: Counter[str] = Counter()
    for st in statuses:
        if st.error_budget_remaining_fraction is not None:
            metrics.slo_budget_remaining.labels(st.name, st.service).set(
                st.error_budget_remaining_fraction
            )
        if st.sli is not None:
            metrics.slo_sli.labels(st.name, st.service).set(st.sli)
        for window, rate in st.burn_rates.items():
            if rate is not None:
                metrics.slo_burn_rate.labels(st.name, st.service, window).set(rate)
        for alert in st.alerts:
            firing[alert.severity] += int(alert.firing)
    for severity in ("page", "ticket", "no_data"):
        metrics.alerts_firing.labels(severity).set(firing[severity])
