"""Report periods: ``2026-10`` (month), ``2026-W43`` (ISO week), ``2026-Q4`` (quarter) or an
explicit ``START..END`` (dates or RFC 3339 times), all half-open ``[start, end)`` in UTC."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from ninefold.errors import InvalidInput

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")


@dataclass(frozen=True)
class Period:
    """A named half-open UTC interval; ``kind`` is month, week, quarter or range."""

    label: str
    kind: str
    start: datetime
    end: datetime

    @property
    def days(self) -> float:
        """Length in days."""
        return (self.end - self.start).total_seconds() / 86400.0


def _month_start(year: int, month: int) -> datetime:
    return datetime(year, month, 1, tzinfo=UTC)


def _next_month(d: datetime) -> datetime:
    return _month_start(d.year + d.month // 12, d.month % 12 + 1)


def _parse_instant(text: str) -> datetime:
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInput(f"period: {text!r} is not a date or RFC 3339 time") from exc
    if value.tzinfo is None:
        raise InvalidInput(f"period: {text!r} needs a time zone offset")
    return value.astimezone(UTC)


def parse_period(text: str) -> Period:
    """Parse a period expression (month, ISO week, quarter or ``START..END``)."""
    text = text.strip()
    if m := _MONTH.match(text):
        year, month = int(m[1]), int(m[2])
        if not 1 <= month <= 12:
            raise InvalidInput(f"period: month {month} out of range")
        start = _month_start(year, month)
        return Period(text, "month", start, _next_month(start))
    if m := _WEEK.match(text):
        try:
            day = date.fromisocalendar(int(m[1]), int(m[2]), 1)
        except ValueError as exc:
            raise InvalidInput(f"period: {text!r} is not an ISO week") from exc
        start = datetime.combine(day, datetime.min.time(), UTC)
        return Period(text, "week", start, start + timedelta(days=7))
    if m := _QUARTER.match(text):
        year, q = int(m[1]), int(m[2])
        start = _month_start(year, 3 * q - 2)
        end = _month_start(year + 1, 1) if q == 4 else _month_start(year, 3 * q + 1)
        return Period(text, "quarter", start, end)
    if ".." in text:
        lo, _, hi = text.partition("..")
        return period_between(_parse_instant(lo), _parse_instant(hi))
    raise InvalidInput(f"period: {text!r} is not YYYY-MM, YYYY-Www, YYYY-Qn or START..END")


def period_between(start: datetime, end: datetime) -> Period:
    """An explicit range period."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        raise InvalidInput("period: end must be after start")
    label = f"{start.isoformat().replace('+00:00', 'Z')}..{end.isoformat().replace('+00:00', 'Z')}"
    return Period(label, "range", start, end)


def current_period(kind: str, now: datetime) -> Period:
    """The month or ISO week containing ``now``."""
    now = now.astimezone(UTC)
    if kind == "week":
        y, w, _ = now.isocalendar()
        return parse_period(f"{y}-W{w:02d}")
    return parse_period(f"{now.year}-{now.month:02d}")


def previous_period(kind: str, now: datetime) -> Period:
    """The last complete month or ISO week before ``now``."""
    cur = current_period(kind, now)
    return current_period(kind, cur.start - timedelta(seconds=1))


def buckets(period: Period) -> list[Period]:
    """Sub-periods for trend charts: days of a week, ISO weeks of a month (clipped), months of
    a quarter; for ranges days up to 31 days, weeks up to 190 days, else months."""
    kind = period.kind
    if kind == "range":
        kind = "week" if period.days <= 31 else "month" if period.days <= 190 else "quarter"
    out: list[Period] = []
    t = period.start
    while t < period.end:
        if kind == "week":
            nxt = datetime.combine(t.date() + timedelta(days=1), datetime.min.time(), UTC)
            label = t.strftime("%m-%d")
        elif kind == "month":
            monday = t.date() - timedelta(days=t.weekday())
            nxt = datetime.combine(monday + timedelta(days=7), datetime.min.time(), UTC)
            _y, w, _ = t.isocalendar()
            label = f"W{w:02d}"
        else:
            nxt = _next_month(_month_start(t.year, t.month))
            label = t.strftime("%Y-%m")
        nxt = min(nxt, period.end)
        out.append(Period(label, "range", t, nxt))
        t = nxt
    return out
