"""Incident response figures over a report period (pure).

Which incidents: those whose impact *started* in the period (``started_at`` in [start, end)),
merged incidents excluded. Durations are not clipped to the period: an incident that started on
the 31st and was resolved two days later counts with its full time to resolve, in the period it
started in; one that started before the period is not counted at all. Open incidents (no
resolution yet) count in the totals and ``open`` but not in time to resolve; an incident without
an acknowledgment has no time to acknowledge.

* time to detect      = detected_at - started_at
* time to acknowledge = acknowledged_at - detected_at
* time to mitigate    = mitigated_at - started_at (resolved_at when mitigation was not recorded)
* time to resolve     = resolved_at - started_at
* time between failures of a service = gaps between consecutive incident starts on that service
  within the period (a service needs two incidents in the period for one gap).

Negative durations (corrected timestamps out of order) count as 0.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from ninefold.report.stats import Summary, ratio, summarize


@dataclass(frozen=True)
class IncidentInput:
    """The fields of an incident the formulas need."""

    id: int
    severity: str
    started_at: datetime
    detected_at: datetime
    acknowledged_at: datetime | None
    mitigated_at: datetime | None
    resolved_at: datetime | None
    services: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()


@dataclass(frozen=True)
class ResponseTimes:
    """Summaries in seconds."""

    detect: Summary
    acknowledge: Summary
    mitigate: Summary
    resolve: Summary


def _secs(a: datetime, b: datetime) -> float:
    return max((b - a).total_seconds(), 0.0)


def in_period(
    incidents: Iterable[IncidentInput], start: datetime, end: datetime
) -> list[IncidentInput]:
    """Incidents whose impact started in [start, end)."""
    return [i for i in incidents if start <= i.started_at < end]


def time_to_detect(i: IncidentInput) -> float:
    """Seconds from impact start to detection."""
    return _secs(i.started_at, i.detected_at)


def time_to_acknowledge(i: IncidentInput) -> float | None:
    """Seconds from detection to acknowledgment; None when never acknowledged."""
    return None if i.acknowledged_at is None else _secs(i.detected_at, i.acknowledged_at)


def time_to_mitigate(i: IncidentInput) -> float | None:
    """Seconds from impact start to mitigation (or resolution); None while neither happened."""
    at = i.mitigated_at or i.resolved_at
    return None if at is None else _secs(i.started_at, at)


def time_to_resolve(i: IncidentInput) -> float | None:
    """Seconds from impact start to resolution; None while open."""
    return None if i.resolved_at is None else _secs(i.started_at, i.resolved_at)


def _present(values: Iterable[float | None]) -> list[float]:
    return [v for v in values if v is not None]


def response_times(incidents: Sequence[IncidentInput]) -> ResponseTimes:
    """Time to detect, acknowledge, mitigate and resolve over ``incidents``."""
    return ResponseTimes(
        detect=summarize(time_to_detect(i) for i in incidents),
        acknowledge=summarize(_present(time_to_acknowledge(i) for i in incidents)),
        mitigate=summarize(_present(time_to_mitigate(i) for i in incidents)),
        resolve=summarize(_present(time_to_resolve(i) for i in incidents)),
    )


def counts_by(incidents: Iterable[IncidentInput], key: str) -> dict[str, int]:
    """Incidents per severity, service or team; an incident counts once per service/team."""
    c: Counter[str] = Counter()
    for i in incidents:
        if key == "severity":
            c[i.severity] += 1
        else:
            for v in set(i.services if key == "service" else i.teams):
                c[v] += 1
    return dict(sorted(c.items()))


def open_count(incidents: Iterable[IncidentInput]) -> int:
    """Incidents not resolved yet."""
    return sum(1 for i in incidents if i.resolved_at is None)


def unacknowledged_count(incidents: Iterable[IncidentInput]) -> int:
    """Incidents never acknowledged."""
    return sum(1 for i in incidents if i.acknowledged_at is None)


def time_between_failures(incidents: Iterable[IncidentInput]) -> dict[str, Summary]:
    """Per service, the gaps in seconds between consecutive incident starts."""
    starts: dict[str, list[datetime]] = {}
    for i in incidents:
        for s in set(i.services):
            starts.setdefault(s, []).append(i.started_at)
    out: dict[str, Summary] = {}
    for service in sorted(starts):
        ts = sorted(starts[service])
        out[service] = summarize((b - a).total_seconds() for a, b in itertools.pairwise(ts))
    return out


def repeat_rate(incidents: Sequence[IncidentInput], repeats: set[int]) -> float | None:
    """Share of incidents flagged as a repeat of an earlier one (ids in ``repeats``)."""
    return ratio(sum(1 for i in incidents if i.id in repeats), len(incidents))


# --- postmortems and action items (only when the postmortem domain is present) ---------------


@dataclass(frozen=True)
class PostmortemInput:
    """A resolved incident that needs a postmortem, and when its postmortem was published."""

    incident_id: int
    resolved_at: datetime
    published_at: datetime | None


@dataclass(frozen=True)
class ActionItemInput:
    """An action item with a due date."""

    id: int
    due: datetime
    """End of the due day (UTC): closing any time that day is on time."""
    status: str
    closed_at: datetime | None


@dataclass(frozen=True)
class RateFigure:
    """``numerator`` of ``denominator``, and their ratio."""

    numerator: int
    denominator: int
    rate: float | None


def postmortem_completion(items: Sequence[PostmortemInput], days: int) -> RateFigure:
    """Postmortems published within ``days`` days of resolution / incidents needing one."""
    done = sum(
        1
        for p in items
        if p.published_at is not None
        and (p.published_at - p.resolved_at).total_seconds() <= days * 86400
    )
    return RateFigure(done, len(items), ratio(done, len(items)))


def action_items_on_time(items: Sequence[ActionItemInput]) -> RateFigure:
    """Action items due in the period closed as done by their due day / items due."""
    done = sum(
        1 for a in items if a.status == "done" and a.closed_at is not None and a.closed_at <= a.due
    )
    return RateFigure(done, len(items), ratio(done, len(items)))
