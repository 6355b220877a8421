"""Periodic SLO evaluation: evaluate every SLO now, record alert transitions, export gauges."""

from __future__ import annotations

import logging
import time
from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ninefold.slo import flows, store
from ninefold.slo.schemas import SLOStatus
from ninefold.slo.sources import Source
from ninefold.slo.wiring import prometheus_source

log = logging.getLogger("ninefold.slo")


def run(session: Session, now: datetime, *, prometheus: Source | None = None) -> list[SLOStatus]:
    """Evaluate all SLOs at ``now`` and record alert transitions; idempotent for a given state."""
    slos, _ = store.list_slos(session)
    statuses = flows.evaluate_slos(session, slos=slos, at=now, prometheus=prometheus)
    events = flows.record_alert_transitions(session, statuses=statuses, slos=slos, at=now)
    for ev in events:
        log.info("SLO alert %s %s (slo id %s): %s", ev.severity, ev.state, ev.slo_id, ev.reason)
    return statuses


def run_with_state(state: Any) -> None:
    """Engine entry point: one evaluation in its own transaction, with metrics."""
    metrics = state.metrics
    started = time.perf_counter()
    try:
        with state.session_factory() as session, session.begin():
            statuses = run(session, state.clock.now(), prometheus=prometheus_source(state.settings))
    except Exception:
        metrics.evaluations.labels("error").inc()
        raise
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
