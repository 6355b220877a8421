"""SLO attainment and error budget consumed over a report period (pure).

* SLI over the period = good / total events (Occurrences) or good / with-data slices
  (Timeslices). No events: *no data* — no SLI, not met, not missed, excluded from rates.
* Met: SLI >= objective. Missed: SLI < objective.
* Budget consumed (fraction) = (1 - SLI) / (1 - objective); above 1 the budget was overspent.
* Attainment of a group (service, tier, team, organisation) = SLOs met / SLOs with data.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ninefold.report.stats import ratio


@dataclass(frozen=True)
class SloInput:
    """One SLO with its summed counts over the period (in the SLO's budgeting unit)."""

    name: str
    service: str
    team: str
    tier: int
    objective: float
    good: float
    total: float


@dataclass(frozen=True)
class SloResult(SloInput):
    """An SLO's figures over the period: its input and what was computed from it."""

    sli: float | None
    met: bool | None
    budget_consumed: float | None


@dataclass(frozen=True)
class Attainment:
    """How many SLOs of a group met their objective."""

    group: str
    slos: int
    with_data: int
    met: int
    missed: int
    attainment: float | None


def slo_result(s: SloInput) -> SloResult:
    """The SLI, met flag and budget consumed of one SLO."""
    if s.total <= 0:
        return SloResult(**vars(s), sli=None, met=None, budget_consumed=None)
    good = min(max(s.good, 0.0), s.total)
    sli = good / s.total
    consumed = (1.0 - sli) / (1.0 - s.objective) if s.objective < 1.0 else None
    # 1e-12: an SLI equal to the objective up to float error counts as met
    return SloResult(**vars(s), sli=sli, met=sli >= s.objective - 1e-12, budget_consumed=consumed)


def attainment(group: str, results: Iterable[SloResult]) -> Attainment:
    """Attainment of a group of SLO results."""
    rs = list(results)
    with_data = [r for r in rs if r.met is not None]
    met = sum(1 for r in with_data if r.met)
    return Attainment(
        group, len(rs), len(with_data), met, len(with_data) - met, ratio(met, len(with_data))
    )


def attainment_by(results: Sequence[SloResult], key: str) -> list[Attainment]:
    """Attainment per value of ``key`` (``service``, ``team`` or ``tier``), sorted by it."""
    groups: dict[str, list[SloResult]] = {}
    for r in results:
        groups.setdefault(str(getattr(r, key)), []).append(r)
    return [attainment(g, groups[g]) for g in sorted(groups)]


def budget_consumed(bad: float, period_total: float, objective: float) -> float | None:
    """Bad events of a sub-period as a fraction of the whole period's budget."""
    budget = (1.0 - objective) * period_total
    return None if budget <= 0 else bad / budget
