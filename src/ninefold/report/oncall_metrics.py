"""On-call health over a report period (pure).

* A *page* is one person paged for one alert group at one escalation level and loop: the
  ``paged`` alert events of several notification rules (SMS, then phone …) of that person for
  the same level count once.
* Pages per shift: each page is matched to the on-call shift of the paged person that contains
  it (shifts of the schedules in the selection, from ``oncall.rotation.shifts``); the figure is
  the summary of pages per shift over every shift overlapping the period (shifts without pages
  count as 0). Pages outside any shift (direct pages, someone paged off-rotation) are counted
  apart.
* Pages outside working hours: the page time in the paged person's time zone is outside
  09:00-17:00 Monday to Friday (configurable).
* Alert actionability = pages whose alert was acknowledged *and* attached to an incident / pages.
* Noisiest alerts: alerts started in the period per (alertname, service), most first.
* Flapping alerts: alert fingerprints that fired (opened a new alert) at least N times.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ninefold.report.stats import Summary, ratio, summarize


@dataclass(frozen=True)
class PageInput:
    """One page: who, when, for which alert, and what became of the alert."""

    alert_id: int
    user: str
    at: datetime
    acknowledged: bool
    in_incident: bool


@dataclass(frozen=True)
class ShiftInput:
    """``user`` on call on ``schedule`` over [start, end)."""

    schedule: str
    user: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class WorkingHours:
    """Working hours in each person's own time zone (weekday 0 = Monday)."""

    start: time = time(9, 0)
    end: time = time(17, 0)
    weekdays: frozenset[int] = field(default_factory=lambda: frozenset(range(5)))


@dataclass(frozen=True)
class ShiftLoad:
    """Pages per shift."""

    shifts: int
    pages_in_shifts: int
    pages_outside_shifts: int
    per_shift: Summary
    counts: tuple[int, ...] = ()
    """Pages of each shift, in the order given."""


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def is_working_time(at: datetime, tz: str, hours: WorkingHours) -> bool:
    """Whether ``at`` falls in working hours in time zone ``tz``."""
    local = at.astimezone(_zone(tz))
    return local.weekday() in hours.weekdays and hours.start <= local.time() < hours.end


def outside_hours(
    pages: Iterable[PageInput], zones: Mapping[str, str], hours: WorkingHours
) -> tuple[int, int]:
    """(pages outside working hours, pages); unknown people are taken to be in UTC."""
    total = outside = 0
    for p in pages:
        total += 1
        if not is_working_time(p.at, zones.get(p.user, "UTC"), hours):
            outside += 1
    return outside, total


def pages_per_shift(pages: Sequence[PageInput], shifts: Sequence[ShiftInput]) -> ShiftLoad:
    """Match every page to the paged person's shift containing it."""
    by_user: dict[str, list[tuple[datetime, datetime, int]]] = {}
    for idx, s in enumerate(shifts):
        by_user.setdefault(s.user, []).append((s.start, s.end, idx))
    starts: dict[str, list[datetime]] = {}
    for user, lst in by_user.items():
        lst.sort(key=lambda t: (t[0], t[2]))
        starts[user] = [t[0] for t in lst]
    counts = [0] * len(shifts)
    outside = 0
    for p in pages:
        lst = by_user.get(p.user, [])
        pos = bisect.bisect_right(starts.get(p.user, []), p.at)
        hit = None
        # shifts of one person on several schedules may overlap: look a few back
        for j in range(pos - 1, max(pos - 9, -1), -1):
            start, end, idx = lst[j]
            if start <= p.at < end:
                hit = idx
                break
        if hit is None:
            outside += 1
        else:
            counts[hit] += 1
    return ShiftLoad(len(shifts), sum(counts), outside, summarize(counts), tuple(counts))


def pages_per_person(pages: Iterable[PageInput]) -> dict[str, int]:
    """Pages per paged person, most paged first."""
    c = Counter(p.user for p in pages)
    return dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))


def actionability(pages: Sequence[PageInput]) -> float | None:
    """Pages acknowledged and attached to an incident / all pages."""
    return ratio(sum(1 for p in pages if p.acknowledged and p.in_incident), len(pages))


@dataclass(frozen=True)
class AlertCount:
    """Alerts of one (alertname, service) (or one fingerprint) in the period."""

    alertname: str
    service: str
    count: int
    fingerprint: str = ""


def noisiest(counts: Iterable[AlertCount], top: int = 10) -> list[AlertCount]:
    """The ``top`` most frequent alerts, ties by name."""
    return sorted(counts, key=lambda c: (-c.count, c.alertname, c.service))[:top]


def flapping(counts: Iterable[AlertCount], threshold: int) -> list[AlertCount]:
    """Fingerprints that fired at least ``threshold`` times, most first."""
    return noisiest((c for c in counts if c.count >= threshold), top=1_000_000)
