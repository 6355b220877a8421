"""Helpers at the API edge for times given by users."""

from __future__ import annotations

from datetime import UTC, datetime

from ninefold.errors import InvalidInput

#: Times users may ask about: SLO windows reach back up to a quarter, so keep far from year 1.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def aware(value: datetime) -> datetime:
    """Refuse naive or out-of-range datetimes from users with a clear message; return UTC."""
    if value.tzinfo is None:
        raise InvalidInput(f"time {value.isoformat()} has no time zone: add Z or +00:00")
    if not EARLIEST <= value <= LATEST:
        raise InvalidInput(f"time {value.isoformat()} is out of range (1970 to 9000)")
    return value.astimezone(UTC)


def parse_time(text: str) -> datetime:
    """Parse an RFC 3339 time such as 2026-11-01T00:00:00Z into aware UTC."""
    try:
        value = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        raise InvalidInput(
            f"invalid time {text!r}: use RFC 3339, e.g. 2026-11-01T00:00:00Z"
        ) from None
    return aware(value)
