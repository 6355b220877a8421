"""DORA delivery metrics over a report period (pure), and performance levels read from data.

* Deployment frequency = deploys in the period / days in the period (every outcome and
  environment counts); per service the same over that service's deploys. The level uses the
  median of the per-service frequencies of the services that deployed.
* Lead time for changes = deployed_at - committed_at, for deploys whose commit time is known;
  deploys without one are left out and counted in ``without_commit_time``.
* Change failure rate = failed deploys / deploys. A deploy failed when its outcome is
  ``failure`` or ``rollback``, or when an incident on the same service started within the
  window (default 24 h) after it.
* Time to restore (failed deployment recovery time) = resolved_at - started_at of the incidents
  that made a deploy fail (started within the window after a deploy of one of their services);
  still open ones are counted apart.
* Rework rate = rework deploys / deploys. A deploy is rework when its outcome is ``rollback`` or
  another deploy of the same service followed it within N hours (default 4 h): it had to be
  redone. The follow-up may fall after the period end.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from importlib import resources
from typing import Any

from ruamel.yaml import YAML

from ninefold.report.stats import Summary, ratio, summarize


@dataclass(frozen=True)
class DeployInput:
    """A deploy as the formulas see it."""

    id: int
    service: str
    deployed_at: datetime
    committed_at: datetime | None
    outcome: str


@dataclass(frozen=True)
class ChangeIncident:
    """An incident start on one service (an incident with two services gives two)."""

    incident_id: int
    service: str
    started_at: datetime
    resolved_at: datetime | None


@dataclass(frozen=True)
class Frequency:
    """Deploys per day over the selection, and the median per service that deployed."""

    deploys: int
    per_day: float | None
    per_service_median_per_day: float | None


@dataclass(frozen=True)
class LeadTime:
    """Lead time summary (seconds) and how many deploys had no commit time."""

    summary: Summary
    without_commit_time: int


@dataclass(frozen=True)
class ChangeFailures:
    """Failed deploys and the incidents that followed deploys."""

    deploys: int
    failed: int
    rate: float | None
    failed_ids: frozenset[int]
    caused_incidents: frozenset[int]


def frequency(deploys: Sequence[DeployInput], days: float) -> Frequency:
    """Deploys per day and the median per-service deploys per day."""
    if days <= 0:
        return Frequency(len(deploys), None, None)
    per_service: dict[str, int] = {}
    for d in deploys:
        per_service[d.service] = per_service.get(d.service, 0) + 1
    med = summarize(n / days for n in per_service.values()).median
    return Frequency(len(deploys), len(deploys) / days, med)


def lead_time(deploys: Sequence[DeployInput]) -> LeadTime:
    """deployed_at - committed_at over deploys that know their commit time."""
    known = [d for d in deploys if d.committed_at is not None]
    return LeadTime(
        summarize(
            max((d.deployed_at - d.committed_at).total_seconds(), 0.0)
            for d in known
            if d.committed_at is not None
        ),
        len(deploys) - len(known),
    )


def change_failures(
    deploys: Sequence[DeployInput], incidents: Sequence[ChangeIncident], window: timedelta
) -> ChangeFailures:
    """Which deploys failed (outcome, or an incident on the service within ``window``)."""
    starts: dict[str, list[tuple[datetime, int]]] = {}
    for inc in incidents:
        starts.setdefault(inc.service, []).append((inc.started_at, inc.incident_id))
    for lst in starts.values():
        lst.sort()
    failed: set[int] = set()
    caused: set[int] = set()
    for d in deploys:
        hit = d.outcome in ("failure", "rollback")
        lst = starts.get(d.service, [])
        i = bisect.bisect_left(lst, (d.deployed_at, -1))
        while i < len(lst) and lst[i][0] < d.deployed_at + window:
            hit = True
            caused.add(lst[i][1])
            i += 1
        if hit:
            failed.add(d.id)
    return ChangeFailures(
        len(deploys),
        len(failed),
        ratio(len(failed), len(deploys)),
        frozenset(failed),
        frozenset(caused),
    )


def time_to_restore(
    incidents: Sequence[ChangeIncident], caused: frozenset[int]
) -> tuple[Summary, int]:
    """Summary of resolve - start (seconds) of the change-caused incidents, and how many are open."""
    seen: dict[int, ChangeIncident] = {}
    for inc in incidents:
        if inc.incident_id in caused:
            seen.setdefault(inc.incident_id, inc)
    open_ = sum(1 for i in seen.values() if i.resolved_at is None)
    return (
        summarize(
            max((i.resolved_at - i.started_at).total_seconds(), 0.0)
            for i in seen.values()
            if i.resolved_at is not None
        ),
        open_,
    )


def rework(
    deploys: Sequence[DeployInput], following: Sequence[DeployInput], within: timedelta
) -> tuple[int, float | None]:
    """(rework deploys, rework rate) of ``deploys``; ``following`` holds every deploy that may
    follow one of them (the period's deploys and those up to ``within`` after its end)."""
    by_service: dict[str, list[datetime]] = {}
    for d in following:
        by_service.setdefault(d.service, []).append(d.deployed_at)
    for lst in by_service.values():
        lst.sort()
    n = 0
    for d in deploys:
        if d.outcome == "rollback":
            n += 1
            continue
        lst = by_service.get(d.service, [])
        i = bisect.bisect_right(lst, d.deployed_at)
        if i < len(lst) and lst[i] <= d.deployed_at + within:
            n += 1
    return n, ratio(n, len(deploys))


# --- performance levels ----------------------------------------------------------------------


@dataclass(frozen=True)
class Levels:
    """Performance level bands per metric, from a versioned data file."""

    source: str
    year: int
    metrics: dict[str, dict[str, Any]]


@lru_cache(maxsize=4)
def load_levels(name: str = "dora_levels_2024.yaml") -> Levels:
    """Read a levels file shipped in this package."""
    text = resources.files("ninefold.report").joinpath(name).read_text(encoding="utf-8")
    doc = YAML(typ="safe").load(text)
    return Levels(str(doc["source"]), int(doc["year"]), dict(doc["metrics"]))


def classify(levels: Levels, metric: str, value: float | None) -> str | None:
    """The level of ``value`` for ``metric`` (None without a value)."""
    if value is None:
        return None
    spec = levels.metrics[metric]
    higher = spec["better"] == "higher"
    for band in spec["bands"]:
        if (higher and value >= float(band["min"])) or (not higher and value <= float(band["max"])):
            return str(band["level"])
    return "low"
