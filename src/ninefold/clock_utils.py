"""Helpers at the API edge for times given by users."""

from __future__ import annotations

from datetime import UTC, datetime

from ninefold.errors import InvalidInput


def aware(value: datetime) -> datetime:
    """Refuse naive datetimes from users with a clear message; return UTC."""
    if value.tzinfo is None:
        raise InvalidInput(f"time {value.isoformat()} has no time zone: add Z or +00:00")
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
