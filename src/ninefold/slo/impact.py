"""Error budget consumed between two instants: how much of an SLO's budget an incident spent.

consumed fraction = bad events in [start, end) ÷ error budget of the SLO window ending at
``end``, where the error budget = (1 − objective) × total events in that window (the same budget
``budget.evaluate`` reports). Timeslices SLOs count bad and total slices instead of events.
``start`` is floored and ``end`` rounded up to whole minutes (pushed data has minute
resolution). No events in the SLO window: no budget, the fraction is ``None`` (no data).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from ninefold.core.clock import to_epoch
from ninefold.slo import store
from ninefold.slo.budget import Budgeting, ratio_parts
from ninefold.slo.flows import spec_of
from ninefold.slo.models import SLO
from ninefold.slo.sources import Counts, RangeQuery, Source
from ninefold.slo.windows import floor_minute, slo_window


@dataclass(frozen=True, slots=True)
class BudgetImpact:
    """What a time range cost one SLO."""

    slo: str
    service: str
    objective: float
    unit: str
    bad: float | None
    budget: float | None
    consumed_fraction: float | None


def consumed_fraction(
    *, during: Counts | None, window: Counts | None, objective: float, budgeting: Budgeting
) -> tuple[float | None, float | None, float | None]:
    """(bad in the range, budget of the window, bad ÷ budget) — pure; Nones without data."""
    good, total = ratio_parts(during, budgeting)
    bad = max(total - good, 0.0)
    _, window_total = ratio_parts(window, budgeting)
    if window_total <= 0:
        return (bad if total > 0 else None), None, None
    budget = (1.0 - objective) * window_total
    return bad, budget, bad / budget


def _ceil_minute(at: datetime) -> datetime:
    floored = floor_minute(at)
    return floored if floored == at else floored + timedelta(minutes=1)


def budget_consumed_between(
    session: Session, *, slo: SLO, start: datetime, end: datetime, prometheus: Source | None = None
) -> BudgetImpact:
    """The share of ``slo``'s error budget spent by bad events between ``start`` and ``end``."""
    spec = spec_of(slo)
    lo, hi = floor_minute(start), _ceil_minute(end)
    hi = max(hi, lo + timedelta(minutes=1))
    bounds = slo_window(spec, hi)
    during: Counts | None
    window: Counts | None
    if spec.source == "push":
        ids = [slo.id]
        during = store.window_counts(
            session, start=to_epoch(lo), end=to_epoch(hi), slo_ids=ids
        ).get(slo.id)
        window = store.window_counts(
            session, start=to_epoch(bounds.start), end=to_epoch(bounds.end), slo_ids=ids
        ).get(slo.id)
    elif prometheus is not None:
        during, window = prometheus.counts(
            [RangeQuery(spec, lo, hi), RangeQuery(spec, bounds.start, bounds.end)]
        )
    else:
        during = window = None
    bad, budget, fraction = consumed_fraction(
        during=during, window=window, objective=spec.objective, budgeting=spec.budgeting
    )
    return BudgetImpact(
        slo=slo.name,
        service=slo.service.name,
        objective=spec.objective,
        unit="timeslices" if spec.budgeting == "timeslices" else "events",
        bad=bad,
        budget=budget,
        consumed_fraction=fraction,
    )
