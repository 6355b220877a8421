"""Pure error-budget math: SLI, budget, burn rates, time to exhaustion and status.

Definitions (docs/slo-math.md repeats them):

* Occurrences: SLI = good / total over the window, weighted by events. Timeslices: SLI = good
  slices / slices with data. Zero events (or slices) is *no data*: no SLI, never NaN or 100%.
* Error budget (events) = (1 - objective) × total; consumed = bad; consumed fraction =
  bad / budget = (1 - SLI) / (1 - objective); remaining fraction = 1 - consumed fraction (it goes
  negative when the budget is overspent).
* Burn rate over a window w = error ratio(w) / (1 - objective): 1 spends the budget exactly over
  the period.
* Time to exhaustion = remaining fraction × period / burn rate(1h); none when not burning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ninefold.slo.alerting import AlertDecision, decide
from ninefold.slo.sources import Counts

Status = Literal["healthy", "warning", "critical", "exhausted", "no_data", "stale"]
Budgeting = Literal["occurrences", "timeslices"]

CURRENT_BURN_WINDOW = "1h"
#: Budget left below this counts as spent (float error must not keep an exact spend "healthy").
EPSILON = 1e-9


@dataclass(frozen=True)
class Evaluation:
    """The outcome of evaluating one SLO at one time."""

    sli: float | None
    objective: float
    objective_met: bool | None
    good: float
    total: float
    budget_total: float
    budget_consumed: float
    budget_remaining: float
    consumed_fraction: float | None
    remaining_fraction: float | None
    burn_rates: dict[str, float | None]
    time_to_exhaustion_seconds: float | None
    status: Status
    alerts: list[AlertDecision] = field(default_factory=list)
    unit: Literal["events", "timeslices"] = "events"


def ratio_parts(counts: Counts | None, budgeting: Budgeting) -> tuple[float, float]:
    """(good, total) in the unit the budgeting method counts: events or slices."""
    if counts is None:
        return 0.0, 0.0
    if budgeting == "timeslices":
        return float(counts.good_slices), float(counts.total_slices)
    return counts.good, counts.total


def error_ratio(counts: Counts | None, budgeting: Budgeting) -> float | None:
    """Bad over total in the budgeting unit; None without data."""
    good, total = ratio_parts(counts, budgeting)
    if total <= 0:
        return None
    return min(max((total - good) / total, 0.0), 1.0)


def burn_rate(counts: Counts | None, objective: float, budgeting: Budgeting) -> float | None:
    """How fast the budget burns over the counts' window (1.0 = exactly on budget)."""
    ratio = error_ratio(counts, budgeting)
    return None if ratio is None else ratio / (1.0 - objective)


def evaluate(
    *,
    objective: float,
    budgeting: Budgeting,
    window: Counts | None,
    burn_windows: dict[str, Counts | None],
    recent: Counts | None,
    period_seconds: int,
    nominal_period_seconds: int,
    page: bool = True,
    ticket: bool = True,
) -> Evaluation:
    """Evaluate one SLO from its window counts, burn-window counts and recent-data counts.

    ``recent`` covers the no-data-after interval: None there means data stopped arriving.
    """
    if not 0.0 < objective < 1.0:
        raise ValueError("objective must be between 0 and 1")
    good, total = ratio_parts(window, budgeting)
    rates = {label: burn_rate(c, objective, budgeting) for label, c in burn_windows.items()}
    stale = recent is None
    alerts = decide(rates, nominal_period_seconds, page=page, ticket=ticket, stale=stale)
    unit: Literal["events", "timeslices"] = "timeslices" if budgeting == "timeslices" else "events"
    if total <= 0:
        return Evaluation(
            sli=None,
            objective=objective,
            objective_met=None,
            good=good,
            total=total,
            budget_total=0.0,
            budget_consumed=0.0,
            budget_remaining=0.0,
            consumed_fraction=None,
            remaining_fraction=None,
            burn_rates=rates,
            time_to_exhaustion_seconds=None,
            status="no_data",
            alerts=alerts,
            unit=unit,
        )
    bad = max(total - good, 0.0)
    sli = good / total
    budget_total = (1.0 - objective) * total
    consumed_fraction = bad / budget_total
    remaining_fraction = 1.0 - consumed_fraction
    if abs(remaining_fraction) < EPSILON:
        remaining_fraction = 0.0
    current = rates.get(CURRENT_BURN_WINDOW)
    if remaining_fraction <= 0:
        tte: float | None = 0.0
    elif current is None or current <= 0:
        tte = None
    else:
        tte = remaining_fraction * period_seconds / current
    return Evaluation(
        sli=sli,
        objective=objective,
        objective_met=sli >= objective,
        good=good,
        total=total,
        budget_total=budget_total,
        budget_consumed=bad,
        budget_remaining=budget_total - bad,
        consumed_fraction=consumed_fraction,
        remaining_fraction=remaining_fraction,
        burn_rates=rates,
        time_to_exhaustion_seconds=tte,
        status=status_of(remaining_fraction, alerts, stale),
        alerts=alerts,
        unit=unit,
    )


def status_of(remaining_fraction: float, alerts: list[AlertDecision], stale: bool) -> Status:
    """Status from budget and alerts: exhausted > stale > critical > warning > healthy."""
    if remaining_fraction <= 0:
        return "exhausted"
    if stale:
        return "stale"
    firing = {a.severity for a in alerts if a.firing}
    if "page" in firing:
        return "critical"
    if "ticket" in firing:
        return "warning"
    return "healthy"
