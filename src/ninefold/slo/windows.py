"""Pure time-window arithmetic: SLO windows, burn windows and bucket decomposition."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from ninefold.catalog.spec import CalendarWindow, RollingWindow, SLOSpec
from ninefold.core.durations import parse_duration

#: Bucket resolutions stored for pushed events, largest first (seconds).
RESOLUTIONS = (86400, 3600, 600, 60)

#: Burn-rate windows evaluated for every SLO (label, seconds).
BURN_WINDOWS: tuple[tuple[str, int], ...] = (
    ("5m", 300),
    ("30m", 1800),
    ("1h", 3600),
    ("2h", 7200),
    ("6h", 21600),
    ("1d", 86400),
    ("3d", 259200),
)

_NOMINAL = {"week": 7 * 86400, "month": 30 * 86400, "quarter": 90 * 86400}


@dataclass(frozen=True)
class WindowBounds:
    """The evaluated range [start, end) and the length of the whole period it belongs to."""

    start: datetime
    end: datetime
    period_seconds: int

    @property
    def elapsed_seconds(self) -> int:
        """Seconds from start to end."""
        return int((self.end - self.start).total_seconds())


def floor_minute(at: datetime) -> datetime:
    """``at`` truncated to the whole minute (pushed data has minute resolution)."""
    return at.astimezone(UTC).replace(second=0, microsecond=0)


def calendar_start(at: datetime, unit: str, tz: str) -> datetime:
    """Start (UTC) of the calendar week/month/quarter containing ``at`` in time zone ``tz``."""
    local = at.astimezone(ZoneInfo(tz))
    if unit == "week":
        day = local.date() - timedelta(days=local.weekday())
    elif unit == "month":
        day = local.date().replace(day=1)
    elif unit == "quarter":
        day = local.date().replace(month=(local.month - 1) // 3 * 3 + 1, day=1)
    else:
        raise ValueError(f"unknown calendar unit {unit!r}")
    start_local = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz))
    return start_local.astimezone(UTC)


def calendar_next(start: datetime, unit: str, tz: str) -> datetime:
    """Start (UTC) of the calendar period after the one starting at ``start``."""
    local = start.astimezone(ZoneInfo(tz))
    if unit == "week":
        nxt = local.date() + timedelta(days=7)
    else:
        months = 1 if unit == "month" else 3
        month = local.month - 1 + months
        nxt = local.date().replace(year=local.year + month // 12, month=month % 12 + 1, day=1)
    return datetime(nxt.year, nxt.month, nxt.day, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def slo_window(spec: SLOSpec, at: datetime) -> WindowBounds:
    """The SLO's window ending at ``at`` (minute resolution)."""
    end = floor_minute(at)
    window = spec.window
    if isinstance(window, RollingWindow):
        seconds = parse_duration(window.rolling)
        return WindowBounds(end - timedelta(seconds=seconds), end, seconds)
    assert isinstance(window, CalendarWindow)
    start = calendar_start(end, window.calendar, window.timezone)
    if start == end:
        # The first instant of a period: evaluate the period that just ended.
        start = calendar_start(end - timedelta(minutes=1), window.calendar, window.timezone)
    nxt = calendar_next(start, window.calendar, window.timezone)
    return WindowBounds(start, end, int((nxt - start).total_seconds()))


def nominal_period_seconds(spec: SLOSpec) -> int:
    """Period length used for burn-rate alert factors (calendar: week 7d, month 30d, quarter 90d)."""
    window = spec.window
    if isinstance(window, RollingWindow):
        return parse_duration(window.rolling)
    return _NOMINAL[window.calendar]


def decompose(start: int, end: int) -> list[tuple[int, int, int]]:
    """Split [start, end) (epoch seconds, minute aligned) into few (resolution, lo, hi) ranges.

    Each range covers whole buckets of its resolution, so the sum of the buckets in the ranges
    equals the sum over [start, end). A 30-day window needs at most ~60 buckets.
    """
    if start % 60 or end % 60:
        raise ValueError("range must be aligned to whole minutes")
    out: list[tuple[int, int, int]] = []
    _split(start, end, 0, out)
    return out


def _split(start: int, end: int, level: int, out: list[tuple[int, int, int]]) -> None:
    if start >= end:
        return
    res = RESOLUTIONS[level]
    if res == 60:
        out.append((60, start, end))
        return
    lo = -(-start // res) * res
    hi = end // res * res
    if lo >= hi:
        _split(start, end, level + 1, out)
        return
    _split(start, lo, level + 1, out)
    out.append((res, lo, hi))
    _split(hi, end, level + 1, out)
