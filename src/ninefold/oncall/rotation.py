"""Who is on call: rotations (layers), schedules and overrides as a pure calculator.

All instants going in and out are aware UTC datetimes; half-open intervals ``[start, end)``.

Turns
    A layer's first turn (participant 0) starts at ``Layer.start``. Later turns start at handoffs:

    * ``daily`` / ``weekly``: at the wall time ``handoff`` (on ``handoff_weekday`` for weekly) in
      the layer's zone, every ``length`` days or weeks. Handoffs stay at the same *local* time across
      DST, so the turn that contains a change is an hour shorter (spring) or longer (autumn). The
      first turn is a whole one when ``start`` is itself a handoff; otherwise it is partial and ends at the
      first handoff after ``start``. ``handoff`` and ``handoff_weekday`` default to ``start``'s
      local time and weekday, so by default every turn has full length.
    * ``hourly`` / ``custom``: every ``length`` hours or every ``turn_length`` of *elapsed* time
      from ``start``, ignoring wall clocks and DST.

    A handoff wall time that falls in a DST gap or overlap is resolved with ``fold=0`` (see
    :mod:`ninefold.oncall.restrictions`): 02:30 on a spring-forward day happens at 03:30 new time,
    and 02:30 on a fall-back day at its first occurrence (summer time).

Restrictions
    If a layer has restrictions, it has nobody outside their union. Turns keep advancing with time
    regardless (as in PagerDuty), so restrictions hide coverage, they do not delay turns.

Precedence
    Overrides beat every layer, and a later override (later in ``Schedule.overrides``, i.e. created
    later) beats an earlier one where they overlap. Among layers, a later layer beats an earlier one
    wherever it has someone on call; where it has nobody, the layers below show through.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import StrEnum
from itertools import pairwise

from ninefold.core.clock import ensure_utc
from ninefold.oncall.restrictions import (
    DAY,
    WEEK,
    Restriction,
    intersect,
    local_date,
    resolve_local,
    window_intervals,
    zone,
)

Interval = tuple[datetime, datetime]


class TurnKind(StrEnum):
    """How a layer's turns are measured."""

    HOURLY = "hourly"
    DAILY = "daily"
    WEEKLY = "weekly"
    CUSTOM = "custom"


@dataclass(frozen=True)
class Layer:
    """One rotation: participants taking turns, in a time zone, optionally restricted.

    ``length`` counts hours, days or weeks per turn for hourly, daily and weekly layers;
    ``turn_length`` (a timedelta or whole seconds) is the turn of a custom layer.
    """

    name: str
    participants: tuple[str, ...]
    kind: TurnKind
    start: datetime
    zone: str = "UTC"
    length: int = 1
    turn_length: timedelta | int | None = None
    handoff: time | None = None
    handoff_weekday: int | None = None
    end: datetime | None = None
    restrictions: tuple[Restriction, ...] = ()

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # normalising fields of a frozen dataclass
        set_(self, "participants", tuple(self.participants))
        set_(self, "restrictions", tuple(self.restrictions))
        set_(self, "kind", TurnKind(self.kind))
        set_(self, "start", ensure_utc(self.start))
        if self.end is not None:
            set_(self, "end", ensure_utc(self.end))
            if self.end <= self.start:
                raise ValueError(f"layer {self.name!r}: end must be after start")
        if not self.participants or not all(self.participants):
            raise ValueError(f"layer {self.name!r}: participants must be non-empty names")
        zone(self.zone)  # raises ZoneInfoNotFoundError (a KeyError) for unknown names
        if self.length < 1:
            raise ValueError(f"layer {self.name!r}: length must be at least 1")
        turn = self.turn_length
        if isinstance(turn, int):
            turn = timedelta(seconds=turn)
            set_(self, "turn_length", turn)
        if self.kind is TurnKind.CUSTOM:
            if turn is None or turn <= timedelta(0):
                raise ValueError(
                    f"layer {self.name!r}: a custom layer needs a positive turn_length"
                )
        elif self.turn_length is not None:
            raise ValueError(f"layer {self.name!r}: turn_length is only for custom layers")
        if self.handoff is not None and self.handoff.tzinfo is not None:
            raise ValueError(f"layer {self.name!r}: handoff is a wall time in the layer's zone")
        if self.handoff_weekday is not None and not 0 <= self.handoff_weekday <= 6:
            raise ValueError(f"layer {self.name!r}: handoff_weekday must be 0 (Monday) to 6")


Rotation = Layer


@dataclass(frozen=True)
class Override:
    """``user`` is on call from ``start`` to ``end``, whatever the layers say."""

    user: str
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", ensure_utc(self.start))
        object.__setattr__(self, "end", ensure_utc(self.end))
        if not self.user:
            raise ValueError("override: user must be a non-empty name")
        if self.end <= self.start:
            raise ValueError("override: end must be after start")


@dataclass(frozen=True)
class Schedule:
    """Layers in order (later wins) and overrides in creation order (later wins)."""

    name: str
    zone: str = "UTC"
    layers: tuple[Layer, ...] = ()
    overrides: tuple[Override, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))
        object.__setattr__(self, "overrides", tuple(self.overrides))
        zone(self.zone)


@dataclass(frozen=True)
class Shift:
    """``user`` is on call over [start, end) because of ``source`` (a layer or an override)."""

    user: str
    start: datetime
    end: datetime
    source: Layer | Override = field(repr=False)

    @property
    def is_override(self) -> bool:
        """Return True when an override put the user on call."""
        return isinstance(self.source, Override)

    @property
    def label(self) -> str:
        """Return the layer name, or ``override``."""
        return "override" if isinstance(self.source, Override) else self.source.name


# --- turns ---------------------------------------------------------------------------------


def _step(layer: Layer) -> timedelta:
    if layer.kind is TurnKind.HOURLY:
        return timedelta(hours=layer.length)
    if layer.kind is TurnKind.DAILY:
        return layer.length * DAY
    if layer.kind is TurnKind.WEEKLY:
        return layer.length * WEEK
    assert isinstance(layer.turn_length, timedelta)  # checked in Layer.__post_init__
    return layer.turn_length


def _elapsed(layer: Layer) -> bool:
    return layer.kind in (TurnKind.HOURLY, TurnKind.CUSTOM)


class _Turns:
    """Handoff instants of one layer: ``at(0) == start`` and ``at(k)`` for k >= 1."""

    def __init__(self, layer: Layer) -> None:
        self.layer = layer
        self.tz = zone(layer.zone)
        self.step = _step(layer)
        if _elapsed(layer):
            return
        start_local = layer.start.astimezone(self.tz)
        self.handoff = layer.handoff or start_local.time().replace(tzinfo=None, fold=0)
        first = start_local.date()
        if layer.kind is TurnKind.WEEKLY:
            weekday = (
                start_local.weekday() if layer.handoff_weekday is None else layer.handoff_weekday
            )
            first += timedelta(days=(weekday - first.weekday()) % 7)
        if resolve_local(first, self.handoff, self.tz) < layer.start:
            first += WEEK if layer.kind is TurnKind.WEEKLY else DAY
        if resolve_local(first, self.handoff, self.tz) == layer.start:
            first += self.step  # start is a handoff: the first turn is a whole one
        self.first = first  # local date of handoff 1

    def at(self, k: int) -> datetime:
        """Return the instant turn ``k`` starts."""
        if k <= 0:
            return self.layer.start
        if _elapsed(self.layer):
            return self.layer.start + k * self.step
        return resolve_local(self.first + (k - 1) * self.step, self.handoff, self.tz)

    def index(self, t: datetime) -> int:
        """Return the turn containing ``t`` (0 for any ``t`` before the first handoff)."""
        if t < self.layer.start:
            return 0
        if _elapsed(self.layer):
            return (t - self.layer.start) // self.step
        days = (local_date(t, self.tz) - self.first).days
        k = max(0, 1 + days // self.step.days)
        # The estimate is exact or off by one where a resolved handoff crosses local midnight.
        while k > 0 and self.at(k) > t:
            k -= 1
        while self.at(k + 1) <= t:
            k += 1
        return k

    def user(self, k: int) -> str:
        """Return the participant of turn ``k``."""
        people = self.layer.participants
        return people[k % len(people)]


def _clip(layer: Layer, start: datetime, end: datetime) -> Interval:
    lo = max(start, layer.start)
    hi = end if layer.end is None else min(end, layer.end)
    return lo, hi


def layer_shifts(layer: Layer, start: datetime, end: datetime) -> list[Shift]:
    """Return the layer's shifts within [start, end), restrictions applied, equal neighbours merged."""
    start, end = ensure_utc(start), ensure_utc(end)
    lo, hi = _clip(layer, start, end)
    if lo >= hi:
        return []
    turns = _Turns(layer)
    spans: list[tuple[str, Interval]] = []
    k = turns.index(lo)
    while (begin := turns.at(k)) < hi:
        spans.append((turns.user(k), (max(begin, lo), min(turns.at(k + 1), hi))))
        k += 1
    if layer.restrictions:
        allowed = window_intervals(layer.restrictions, turns.tz, lo, hi)
        spans = [(user, part) for user, span in spans for part in intersect([span], allowed)]
    return _merge(Shift(user, a, b, layer) for user, (a, b) in spans)


def _merge(shifts: Iterable[Shift]) -> list[Shift]:
    out: list[Shift] = []
    for shift in shifts:
        prev = out[-1] if out else None
        if (
            prev
            and prev.end == shift.start
            and prev.user == shift.user
            and prev.source is shift.source
        ):
            out[-1] = Shift(prev.user, prev.start, shift.end, prev.source)
        else:
            out.append(shift)
    return out


def layer_user_at(layer: Layer, t: datetime) -> str | None:
    """Return who is on call in ``layer`` at ``t``, or None (outside the layer or its restrictions)."""
    t = ensure_utc(t)
    if t < layer.start or (layer.end is not None and t >= layer.end):
        return None
    turns = _Turns(layer)
    if layer.restrictions and not window_intervals(
        layer.restrictions, turns.tz, t, t + timedelta(microseconds=1)
    ):
        return None
    return turns.user(turns.index(t))


# --- schedules -----------------------------------------------------------------------------


def on_call_at(schedule: Schedule, t: datetime) -> list[str]:
    """Return who is on call at ``t`` (one name, or none when nobody is)."""
    t = ensure_utc(t)
    for override in reversed(schedule.overrides):
        if override.start <= t < override.end:
            return [override.user]
    for layer in reversed(schedule.layers):
        user = layer_user_at(layer, t)
        if user is not None:
            return [user]
    return []


def shifts(schedule: Schedule, start: datetime, end: datetime) -> list[Shift]:
    """Return the resolved timeline within [start, end): who is on call when, and why."""
    start, end = ensure_utc(start), ensure_utc(end)
    if start >= end:
        return []
    # Candidates in ascending precedence: layers in order, then overrides in creation order.
    candidates: list[list[Shift]] = [layer_shifts(layer, start, end) for layer in schedule.layers]
    for override in schedule.overrides:
        lo, hi = max(start, override.start), min(end, override.end)
        candidates.append([Shift(override.user, lo, hi, override)] if lo < hi else [])
    cuts = sorted({t for shifts_ in candidates for s in shifts_ for t in (s.start, s.end)})
    cursors = [0] * len(candidates)
    pieces: list[Shift] = []
    for lo, hi in pairwise(cuts):
        winner: Shift | None = None
        for i, shifts_ in enumerate(candidates):
            while cursors[i] < len(shifts_) and shifts_[cursors[i]].end <= lo:
                cursors[i] += 1
            if cursors[i] < len(shifts_) and shifts_[cursors[i]].start <= lo:
                winner = shifts_[cursors[i]]
        if winner is not None:
            pieces.append(Shift(winner.user, lo, hi, winner.source))
    return _merge(pieces)


def next_shifts(
    schedule: Schedule,
    user: str,
    after: datetime,
    count: int,
    *,
    lookback: timedelta = timedelta(days=31),
    horizon: timedelta = timedelta(days=731),
) -> list[Shift]:
    """Return ``user``'s next ``count`` shifts ending after ``after`` (a current one included).

    A shift under way is reported from its real start, looking back at most ``lookback``; shifts are
    searched at most ``horizon`` ahead, and the last one is cut there if it runs on.
    """
    after = ensure_utc(after)
    if count <= 0:
        return []
    span = timedelta(days=7)
    while True:
        span = min(span, horizon)
        stop = after + span
        mine = [
            s for s in shifts(schedule, after - lookback, stop) if s.user == user and s.end > after
        ]
        complete = len(mine) > count or (len(mine) == count and mine[-1].end < stop)
        if complete or span >= horizon:
            return mine[:count]
        span *= 4
