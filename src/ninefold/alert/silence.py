"""Silences as in Alertmanager: matchers plus a time window, created by someone, with a comment.

A silence is pending before ``starts_at``, active from ``starts_at`` (inclusive) until
``ends_at`` (exclusive) and expired afterwards (``silence.CalcSilenceState``). An alert is
silenced by an active silence whose matchers all match its labels (missing labels match as
the empty string). Validation follows Alertmanager's: at least one matcher, not all of them
matching the empty string (a silence must not mute everything), start before end.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from ninefold.alert.matchers import Matcher, matches
from ninefold.alert.matchers import from_api as matcher_from_api


class SilenceState(StrEnum):
    """Where a silence is in its lifetime at a given time."""

    PENDING = "pending"
    ACTIVE = "active"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Silence:
    """A silence; construction validates it (ValueError with a client-facing message)."""

    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    id: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.matchers, tuple):
            object.__setattr__(self, "matchers", tuple(self.matchers))
        if not self.matchers:
            raise ValueError("a silence needs at least one matcher")
        if all(m.matches_empty for m in self.matchers):
            raise ValueError("at least one matcher must not match the empty string")
        for name in ("starts_at", "ends_at"):
            value = getattr(self, name)
            if not isinstance(value, datetime) or value.utcoffset() is None:
                raise ValueError(f"{name} must be a timezone-aware datetime")
        if self.ends_at <= self.starts_at:
            raise ValueError("start time must be before end time")
        if not self.created_by.strip():
            raise ValueError("created_by must not be empty")
        if not self.comment.strip():
            raise ValueError("comment must not be empty")

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether the silence's matchers all match the label set (ignoring time)."""
        return matches(self.matchers, labels)


def state(silence: Silence, t: datetime) -> SilenceState:
    """The silence's state at time ``t``."""
    if t < silence.starts_at:
        return SilenceState.PENDING
    if t < silence.ends_at:
        return SilenceState.ACTIVE
    return SilenceState.EXPIRED


def active(silence: Silence, t: datetime) -> bool:
    """Whether the silence is in force at time ``t`` (``starts_at <= t < ends_at``)."""
    return state(silence, t) is SilenceState.ACTIVE


def silenced_by(
    labels: Mapping[str, str], silences: Iterable[Silence], t: datetime
) -> list[Silence]:
    """The silences active at ``t`` that mute an alert with these labels, in the given order."""
    return [s for s in silences if active(s, t) and s.matches(labels)]


def is_silenced(labels: Mapping[str, str], silences: Iterable[Silence], t: datetime) -> bool:
    """Whether any silence active at ``t`` mutes an alert with these labels."""
    return any(active(s, t) and s.matches(labels) for s in silences)


def check_new(silence: Silence, now: datetime) -> None:
    """Extra checks Alertmanager's API applies when a silence is created: it must not be over."""
    if silence.ends_at <= now:
        raise ValueError("end time can't be in the past")


def from_api(item: Mapping[str, Any]) -> Silence:
    """A silence from Alertmanager's API v2 form (``matchers``, ``startsAt``, ``endsAt`` …)."""
    raw_matchers = item.get("matchers")
    if not isinstance(raw_matchers, list):
        raise ValueError("matchers must be a list of {name, value, isRegex, isEqual}")
    found: list[Matcher] = []
    for i, raw in enumerate(raw_matchers):
        if not isinstance(raw, Mapping):
            raise ValueError(f"matchers[{i}] must be an object")
        try:
            found.append(matcher_from_api(raw))
        except ValueError as exc:
            raise ValueError(f"matchers[{i}]: {exc}") from None
    times: dict[str, datetime] = {}
    for key in ("startsAt", "endsAt"):
        value = item.get(key)
        if not isinstance(value, str):
            raise ValueError(f"{key} must be an RFC 3339 timestamp")
        try:
            times[key] = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{key} is not an RFC 3339 timestamp: {value!r}") from None
    created_by, comment, ident = item.get("createdBy"), item.get("comment"), item.get("id")
    if not isinstance(created_by, str) or not isinstance(comment, str):
        raise ValueError("createdBy and comment must be strings")
    if ident is not None and not isinstance(ident, str):
        raise ValueError("id must be a string")
    return Silence(tuple(found), times["startsAt"], times["endsAt"], created_by, comment, ident)
