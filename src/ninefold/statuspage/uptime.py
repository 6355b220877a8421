"""Component states and daily uptime from incident intervals (pure: no database, no clock).

**State of a component now.** The worst of: each public, active incident on one of its services
(severity rank 1 → ``major_outage``, rank 2 → ``partial_outage``, rank 3 and above →
``degraded_performance``; an incident that is mitigated, or whose public status is
``monitoring``, counts as ``degraded_performance``), and ``under_maintenance`` while a
maintenance window of one of its services is active. A manual override replaces the derived state.
Order, worst first: major_outage, partial_outage, degraded_performance, under_maintenance,
operational.

**Daily uptime.** For each UTC day of the last ``days`` days (today included, up to ``now``)::

    observed  = seconds of the day within [component created, now]
    downtime  = major_outage seconds + 0.3 × partial_outage seconds
    uptime %  = 100 × (observed − downtime) / observed        (None when observed = 0)

as on Atlassian Statuspage: a partial outage weighs 30% of a major one; degraded performance and
maintenance are not downtime. Overlapping incidents are not added up: at every instant the worst
state of the incidents covering it counts once. An open incident counts up to ``now``. Days (or the
parts of a day) before the component existed are not observed, so they neither raise nor lower
its uptime; a day with no observed time has ``uptime`` None ("no data"). The 90-day figure is
``100 × (Σ observed − Σ downtime) / Σ observed`` over the same days, not a mean of daily figures.

An incident's outage interval is ``[started_at, mitigated_at)`` at its severity's state, then
``[mitigated_at, resolved_at)`` as ``degraded_performance``; the current severity is used for
the whole interval (severity changes are not replayed).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise

OPERATIONAL = "operational"
DEGRADED = "degraded_performance"
PARTIAL = "partial_outage"
MAJOR = "major_outage"
MAINTENANCE = "under_maintenance"

#: Component states, best first.
STATES = (OPERATIONAL, MAINTENANCE, DEGRADED, PARTIAL, MAJOR)
_RANK = {s: i for i, s in enumerate(STATES)}

#: Share of an interval in a state that counts as downtime.
WEIGHTS = {MAJOR: 1.0, PARTIAL: 0.3, DEGRADED: 0.0, MAINTENANCE: 0.0, OPERATIONAL: 0.0}
PARTIAL_WEIGHT = WEIGHTS[PARTIAL]


def worst(states: Iterable[str]) -> str:
    """The worst of ``states`` (operational when there are none)."""
    return max(states, key=_RANK.__getitem__, default=OPERATIONAL)


def severity_state(rank: int) -> str:
    """The component state an incident of severity ``rank`` (1 is the worst) causes."""
    if rank <= 1:
        return MAJOR
    if rank == 2:
        return PARTIAL
    return DEGRADED


def incident_state(*, rank: int, mitigated: bool, monitoring: bool) -> str:
    """The state an active incident causes now: its severity's, or degraded once mitigated."""
    return DEGRADED if mitigated or monitoring else severity_state(rank)


@dataclass(frozen=True, slots=True)
class Outage:
    """``state`` from ``start`` until ``end`` (None: still going on)."""

    start: datetime
    end: datetime | None
    state: str


def incident_outages(
    *,
    rank: int,
    started_at: datetime,
    mitigated_at: datetime | None,
    resolved_at: datetime | None,
) -> list[Outage]:
    """The intervals an incident contributes: its severity's state until mitigated, then degraded."""
    first_end = mitigated_at or resolved_at
    if first_end is not None and resolved_at is not None:
        first_end = min(first_end, resolved_at)
    out = [Outage(started_at, first_end, severity_state(rank))]
    if mitigated_at is not None and (resolved_at is None or mitigated_at < resolved_at):
        out.append(Outage(max(mitigated_at, started_at), resolved_at, DEGRADED))
    return out


@dataclass(frozen=True, slots=True)
class DayUptime:
    """One day of one component: seconds observed and in each state, and the uptime percentage."""

    day: date
    observed: float
    major: float
    partial: float
    degraded: float

    @property
    def downtime(self) -> float:
        """Weighted downtime seconds."""
        return self.major + PARTIAL_WEIGHT * self.partial

    @property
    def uptime(self) -> float | None:
        """Uptime in percent, None when nothing of the day was observed."""
        if self.observed <= 0:
            return None
        return 100.0 * (self.observed - self.downtime) / self.observed

    @property
    def state(self) -> str:
        """The worst state seen that day (for colouring a bar)."""
        if self.major > 0:
            return MAJOR
        if self.partial > 0:
            return PARTIAL
        if self.degraded > 0:
            return DEGRADED
        return OPERATIONAL


def _segments(
    outages: Sequence[Outage], lo: datetime, hi: datetime
) -> list[tuple[datetime, datetime, str]]:
    """Disjoint segments in [lo, hi) with the worst state covering each (operational left out)."""
    clipped = []
    for o in outages:
        end = hi if o.end is None else min(o.end, hi)
        start = max(o.start, lo)
        if start < end and o.state in (MAJOR, PARTIAL, DEGRADED):
            clipped.append((start, end, o.state))
    points = sorted({p for s, e, _ in clipped for p in (s, e)})
    out: list[tuple[datetime, datetime, str]] = []
    for a, b in pairwise(points):
        covering = [st for s, e, st in clipped if s <= a and e >= b]
        if covering:
            state = worst(covering)
            if out and out[-1][1] == a and out[-1][2] == state:
                out[-1] = (out[-1][0], b, state)
            else:
                out.append((a, b, state))
    return out


def daily_uptime(
    outages: Sequence[Outage], *, now: datetime, since: datetime, days: int = 90
) -> list[DayUptime]:
    """The last ``days`` UTC days (oldest first, today last) of a component created at ``since``."""
    now = now.astimezone(UTC)
    today = now.date()
    first = today - timedelta(days=days - 1)
    lo = max(datetime.combine(first, time(), UTC), since.astimezone(UTC))
    segments = _segments(outages, lo, now) if lo < now else []
    result: list[DayUptime] = []
    for i in range(days):
        day = first + timedelta(days=i)
        d0 = datetime.combine(day, time(), UTC)
        d1 = min(d0 + timedelta(days=1), now)
        o0 = max(d0, lo)
        observed = max((d1 - o0).total_seconds(), 0.0)
        per = {MAJOR: 0.0, PARTIAL: 0.0, DEGRADED: 0.0}
        for s, e, state in segments:
            a, b = max(s, o0), min(e, d1)
            if a < b and state in per:
                per[state] += (b - a).total_seconds()
        result.append(DayUptime(day, observed, per[MAJOR], per[PARTIAL], per[DEGRADED]))
    return result


def overall_uptime(days: Sequence[DayUptime]) -> float | None:
    """Uptime in percent over ``days`` (weighted by observed time), None with no observed time."""
    observed = sum(d.observed for d in days)
    if observed <= 0:
        return None
    return 100.0 * (observed - sum(d.downtime for d in days)) / observed
