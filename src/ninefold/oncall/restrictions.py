"""Wall-clock helpers and restriction windows for on-call layers (pure: no clock, no I/O).

Every local wall time is turned into an instant by :func:`resolve_local`, which applies one DST rule
everywhere (PEP 495, ``fold=0``):

* a wall time that does not exist (the spring-forward gap, e.g. 02:30 on 2026-03-29 in
  Europe/Berlin) is read with the offset in force *before* the change, so it lands as far after
  the gap's start as it was meant to: 02:30 becomes 03:30 CEST (01:30 UTC);
* a wall time that exists twice (the fall-back overlap, e.g. 02:30 on 2026-10-25 in
  Europe/Berlin) means its *first* occurrence, 02:30 CEST (00:30 UTC).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAY = timedelta(days=1)
WEEK = timedelta(days=7)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def zone(name: str) -> ZoneInfo:
    """Return the IANA zone ``name`` (zoneinfo caches instances, so this is cheap)."""
    return ZoneInfo(name)


def resolve_local(day: date, at: time, tz: ZoneInfo) -> datetime:
    """Return the UTC instant of wall time ``at`` on ``day`` in ``tz`` (``fold=0``, see module doc)."""
    wall = datetime.combine(day, at.replace(tzinfo=None, fold=0))
    return resolve_wall(wall, tz)


def resolve_wall(wall: datetime, tz: ZoneInfo) -> datetime:
    """Return the UTC instant of the naive wall-clock datetime ``wall`` in ``tz`` (``fold=0``)."""
    return wall.replace(tzinfo=tz, fold=0).astimezone(UTC)


def local_date(t: datetime, tz: ZoneInfo) -> date:
    """Return the calendar date of instant ``t`` in ``tz``."""
    return t.astimezone(tz).date()


def _check_weekday(value: int, what: str) -> None:
    if not 0 <= value <= 6:
        raise ValueError(f"{what} must be 0 (Monday) to 6 (Sunday), got {value}")


@dataclass(frozen=True)
class DailyWindow:
    """A time-of-day window on the given weekdays (0 = Monday); ``end <= start`` runs past midnight.

    ``DailyWindow(time(9), time(17), weekdays=frozenset(range(5)))`` is business hours Monday to
    Friday. A window that starts on one of ``weekdays`` and crosses midnight ends on the next day
    (22:00-06:00 on Friday covers Friday 22:00 to Saturday 06:00). ``start == end`` is 24 hours.
    """

    start: time
    end: time
    weekdays: frozenset[int] = frozenset(range(7))

    def __post_init__(self) -> None:
        if not self.weekdays:
            raise ValueError("a daily window needs at least one weekday")
        for day in self.weekdays:
            _check_weekday(day, "weekday")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("window times are wall times in the layer's zone: no tzinfo")

    def spans(self) -> list[tuple[timedelta, timedelta]]:
        """Return (offset, length) pairs from Monday 00:00 local for one week."""
        begin = _tod(self.start)
        length = (_tod(self.end) - begin) % DAY or DAY
        return [(day * DAY + begin, length) for day in sorted(self.weekdays)]


@dataclass(frozen=True)
class WeeklyWindow:
    """A window from one weekday and time to another, e.g. Friday 18:00 to Monday 09:00.

    Weekdays are 0 (Monday) to 6 (Sunday). An end at or before the start wraps into the next week;
    identical start and end mean the whole week.
    """

    start_weekday: int
    start: time
    end_weekday: int
    end: time

    def __post_init__(self) -> None:
        _check_weekday(self.start_weekday, "start_weekday")
        _check_weekday(self.end_weekday, "end_weekday")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("window times are wall times in the layer's zone: no tzinfo")

    def spans(self) -> list[tuple[timedelta, timedelta]]:
        """Return the (offset, length) pair from Monday 00:00 local for one week."""
        begin = self.start_weekday * DAY + _tod(self.start)
        finish = self.end_weekday * DAY + _tod(self.end)
        return [(begin, (finish - begin) % WEEK or WEEK)]


Restriction = DailyWindow | WeeklyWindow


def business_hours(start: time = time(9), end: time = time(17)) -> DailyWindow:
    """Return the Monday-to-Friday window from ``start`` to ``end`` (09:00-17:00 by default)."""
    return DailyWindow(start, end, frozenset(range(5)))


def _tod(at: time) -> timedelta:
    return timedelta(
        hours=at.hour, minutes=at.minute, seconds=at.second, microseconds=at.microsecond
    )


def window_intervals(
    windows: Sequence[Restriction], tz: ZoneInfo, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """Return the sorted, disjoint UTC intervals within [start, end) covered by ``windows``.

    Window edges are wall times in ``tz`` resolved with :func:`resolve_wall`; a window whose
    resolved end is not after its resolved start (it lies inside a spring-forward gap) is empty.
    """
    if start >= end or not windows:
        return []
    spans = [span for window in windows for span in window.spans()]
    # A window lasts at most a week, so one that covers ``start`` began at most 8 local days before.
    first = local_date(start, tz) - timedelta(days=8)
    monday = first - timedelta(days=first.weekday())
    last = local_date(end, tz)
    found: list[tuple[datetime, datetime]] = []
    while monday <= last:
        base = datetime.combine(monday, time())
        for offset, length in spans:
            lo = resolve_wall(base + offset, tz)
            hi = resolve_wall(base + offset + length, tz)
            lo, hi = max(lo, start), min(hi, end)
            if lo < hi:
                found.append((lo, hi))
        monday += WEEK
    return union(found)


def union(intervals: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Return the union of half-open intervals as sorted disjoint intervals (touching ones joined)."""
    merged: list[tuple[datetime, datetime]] = []
    for lo, hi in sorted(intervals):
        if merged and lo <= merged[-1][1]:
            if hi > merged[-1][1]:
                merged[-1] = (merged[-1][0], hi)
        else:
            merged.append((lo, hi))
    return merged


def intersect(
    a: Sequence[tuple[datetime, datetime]], b: Sequence[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    """Return the intersection of two sorted disjoint interval lists."""
    out: list[tuple[datetime, datetime]] = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo < hi:
            out.append((lo, hi))
        if a[i][1] <= b[j][1]:
            i += 1
        else:
            j += 1
    return out
