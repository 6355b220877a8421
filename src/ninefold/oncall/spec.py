"""Schedule documents (YAML and API) → the pure calculator's Layer, Schedule and Override.

A layer document::

    name: weekly
    rotation: weekly          # hourly, daily, weekly or custom
    length: 1                 # hours, days or weeks per turn
    turn_length: 12h          # custom layers only
    start: 2026-01-05T09:00:00+01:00
    handoff: "09:00"          # wall time in the layer's zone (daily/weekly)
    handoff_weekday: monday   # weekly
    zone: Europe/Berlin       # default: the schedule's time zone
    end: 2027-01-01T00:00:00Z
    participants: [alice, bob]
    restrictions:
      - {type: daily, start: "09:00", end: "17:00", weekdays: [mon, tue, wed, thu, fri]}
      - {type: weekly, start_weekday: fri, start: "18:00", end_weekday: mon, end: "09:00"}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfoNotFoundError

from ninefold.clock_utils import parse_time
from ninefold.core.durations import parse_duration
from ninefold.oncall.restrictions import DailyWindow, Restriction, WeeklyWindow
from ninefold.oncall.rotation import Layer, Override, Schedule, TurnKind

_LAYER_KEYS = frozenset(
    {
        "name",
        "rotation",
        "length",
        "turn_length",
        "start",
        "handoff",
        "handoff_weekday",
        "zone",
        "end",
        "participants",
        "restrictions",
    }
)
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def weekday(value: Any, where: str) -> int:
    """``0``-``6`` or a day name (``mon``, ``monday`` …) → 0 (Monday) to 6."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 6:
        return value
    if isinstance(value, str) and value[:3].lower() in _DAYS:
        return _DAYS.index(value[:3].lower())
    raise ValueError(f"{where}: a weekday is 0 (Monday) to 6 or a name such as monday")


def wall_time(value: Any, where: str) -> time:
    """``"09:00"`` (or YAML's sexagesimal int, 540 = 09:00) → a wall time."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1440:
        return time(value // 60, value % 60)
    if isinstance(value, str):
        try:
            return time.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f'{where}: a wall time is HH:MM, e.g. "09:00"')


def _instant(value: Any, where: str) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"{where}: needs a UTC offset, e.g. 2026-01-05T09:00:00Z")
        return value
    if isinstance(value, str):
        try:
            return parse_time(value)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
    raise ValueError(f"{where}: must be a timestamp such as 2026-01-05T09:00:00Z")


def _restriction(raw: Any, where: str) -> Restriction:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: must be a mapping with type daily or weekly")
    kind = raw.get("type", "daily")
    if kind == "daily":
        days = raw.get("weekdays", list(range(7)))
        if not isinstance(days, Sequence) or isinstance(days, str):
            raise ValueError(f"{where}.weekdays: must be a list of weekdays")
        return DailyWindow(
            wall_time(raw.get("start"), f"{where}.start"),
            wall_time(raw.get("end"), f"{where}.end"),
            frozenset(weekday(d, f"{where}.weekdays[{i}]") for i, d in enumerate(days)),
        )
    if kind == "weekly":
        return WeeklyWindow(
            weekday(raw.get("start_weekday"), f"{where}.start_weekday"),
            wall_time(raw.get("start"), f"{where}.start"),
            weekday(raw.get("end_weekday"), f"{where}.end_weekday"),
            wall_time(raw.get("end"), f"{where}.end"),
        )
    raise ValueError(f"{where}.type: must be daily or weekly")


def parse_layer(raw: Any, default_zone: str, where: str) -> Layer:
    """Build a Layer from its document; ValueError names the field."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: must be a mapping")
    unknown = sorted(set(raw) - _LAYER_KEYS)
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {', '.join(map(str, unknown))}")
    name = raw.get("name") or where
    participants = raw.get("participants")
    if not isinstance(participants, Sequence) or isinstance(participants, str):
        raise ValueError(f"{where}.participants: must be a list of user names")
    kind = raw.get("rotation", "weekly")
    if kind not in [k.value for k in TurnKind]:
        raise ValueError(f"{where}.rotation: must be hourly, daily, weekly or custom")
    turn = raw.get("turn_length")
    turn_seconds = None
    if turn is not None:
        try:
            turn_seconds = parse_duration(str(turn))
        except ValueError as exc:
            raise ValueError(f"{where}.turn_length: {exc}") from None
    length = raw.get("length", 1)
    if isinstance(length, bool) or not isinstance(length, int):
        raise ValueError(f"{where}.length: must be a whole number")
    restrictions = raw.get("restrictions") or []
    if not isinstance(restrictions, Sequence) or isinstance(restrictions, str):
        raise ValueError(f"{where}.restrictions: must be a list")
    try:
        return Layer(
            name=str(name),
            participants=tuple(str(p) for p in participants),
            kind=TurnKind(kind),
            start=_instant(raw.get("start"), f"{where}.start"),
            zone=str(raw.get("zone") or default_zone),
            length=length,
            turn_length=turn_seconds,
            handoff=wall_time(raw["handoff"], f"{where}.handoff") if "handoff" in raw else None,
            handoff_weekday=weekday(raw["handoff_weekday"], f"{where}.handoff_weekday")
            if "handoff_weekday" in raw
            else None,
            end=_instant(raw["end"], f"{where}.end") if raw.get("end") is not None else None,
            restrictions=tuple(
                _restriction(r, f"{where}.restrictions[{i}]") for i, r in enumerate(restrictions)
            ),
        )
    except ZoneInfoNotFoundError:
        raise ValueError(f"{where}.zone: unknown IANA time zone") from None
    except ValueError as exc:
        msg = str(exc)
        raise ValueError(msg if msg.startswith(where) else f"{where}: {msg}") from None


def parse_layers(raw: Any, default_zone: str) -> tuple[Layer, ...]:
    """A list of layer documents → layers; ValueError names ``layers[i].field``."""
    if not isinstance(raw, Sequence) or isinstance(raw, str) or not raw:
        raise ValueError("layers: must be a non-empty list")
    return tuple(parse_layer(item, default_zone, f"layers[{i}]") for i, item in enumerate(raw))


def check_zone(name: Any, where: str = "time_zone") -> str:
    """An IANA time zone name, or ValueError."""
    from ninefold.oncall.restrictions import zone

    if not isinstance(name, str):
        raise ValueError(f"{where}: must be an IANA time zone name such as Europe/Berlin")
    try:
        zone(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{where}: unknown IANA time zone {name!r}") from None
    return name


def to_schedule(
    name: str, time_zone: str, layers: Any, overrides: Sequence[tuple[str, datetime, datetime]]
) -> Schedule:
    """A stored schedule → the calculator's Schedule (overrides in creation order)."""
    return Schedule(
        name=name,
        zone=time_zone,
        layers=parse_layers(layers, time_zone),
        overrides=tuple(Override(user, start, end) for user, start, end in overrides),
    )


def users_in_layers(raw: Any) -> set[str]:
    """Every participant named in layer documents (for reference checks)."""
    out: set[str] = set()
    for layer in raw if isinstance(raw, list) else []:
        if isinstance(layer, Mapping):
            out.update(str(p) for p in layer.get("participants") or [])
    return out
