"""An injectable clock: domain code asks a Clock for the time, never the system."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Something that tells the current time as a timezone-aware UTC datetime."""

    def now(self) -> datetime:
        """Return the current time (aware, UTC)."""
        ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> datetime:
        """Return the current time (aware, UTC)."""
        return datetime.now(UTC)


class FrozenClock:
    """A clock for tests and reproducible evaluation: it moves only when told to."""

    def __init__(self, at: datetime) -> None:
        self._at = ensure_utc(at)

    def now(self) -> datetime:
        """Return the frozen time."""
        return self._at

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward by ``delta``."""
        self._at = self._at + delta

    def set(self, at: datetime) -> None:
        """Jump to ``at``."""
        self._at = ensure_utc(at)


def ensure_utc(value: datetime) -> datetime:
    """Return ``value`` as aware UTC; naive datetimes are refused because they are ambiguous."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: a time zone is required (use Z or +00:00)")
    return value.astimezone(UTC)


def from_epoch(seconds: float) -> datetime:
    """Convert epoch seconds to an aware UTC datetime."""
    return datetime.fromtimestamp(seconds, UTC)


def to_epoch(value: datetime) -> int:
    """Convert an aware datetime to whole epoch seconds."""
    return int(ensure_utc(value).timestamp())
