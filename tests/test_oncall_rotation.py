"""Pure on-call calculator: rotations, restrictions, layers, overrides, DST, and properties."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ninefold.oncall.restrictions import (
    DailyWindow,
    Restriction,
    WeeklyWindow,
    business_hours,
    resolve_local,
    window_intervals,
)
from ninefold.oncall.rotation import (
    Layer,
    Override,
    Schedule,
    Shift,
    TurnKind,
    layer_shifts,
    layer_user_at,
    next_shifts,
    on_call_at,
    shifts,
)

H = timedelta(hours=1)
BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def local(zone: str, *args: int, fold: int = 0) -> datetime:
    """The UTC instant of a wall time in ``zone``."""
    return datetime(*args, tzinfo=ZoneInfo(zone), fold=fold).astimezone(UTC)  # type: ignore[misc]


def plain(timeline: list[Shift]) -> list[tuple[str, datetime, datetime]]:
    return [(s.user, s.start, s.end) for s in timeline]


def layer(kind: str, start: datetime, people: str = "abc", **kw: object) -> Layer:
    return Layer(kw.pop("name", kind), tuple(people), TurnKind(kind), start, **kw)  # type: ignore[arg-type]


def schedule(*layers: Layer, overrides: tuple[Override, ...] = ()) -> Schedule:
    return Schedule("primary", "UTC", layers, overrides)


# --- who is on call: table tests per turn kind ---------------------------------------------------

DAILY = layer("daily", utc(2026, 1, 5, 9))  # a Monday, 09:00 UTC
WEEKLY_BERLIN = layer(  # first turn is partial: Wednesday noon to Monday 10:00 Berlin
    "weekly", utc(2026, 1, 7, 12), zone=BERLIN, handoff=time(10), handoff_weekday=MON
)
HOURLY_2 = layer("hourly", utc(2026, 1, 5), "ab", length=2)
CUSTOM_8H = layer("custom", utc(2026, 1, 5, 6), turn_length=8 * 3600)
CUSTOM_90M = layer("custom", utc(2026, 1, 5), "ab", turn_length=timedelta(minutes=90))
EVERY_2_DAYS = layer("daily", utc(2026, 1, 5, 9), "ab", length=2, end=utc(2026, 1, 11, 9))


@pytest.mark.parametrize(
    ("rotation", "at", "expected"),
    [
        (DAILY, utc(2026, 1, 5, 8, 59, 59), []),
        (DAILY, utc(2026, 1, 5, 9), ["a"]),
        (DAILY, utc(2026, 1, 6, 8, 59, 59), ["a"]),
        (DAILY, utc(2026, 1, 6, 9), ["b"]),
        (DAILY, utc(2026, 1, 7, 9), ["c"]),
        (DAILY, utc(2026, 1, 8, 9), ["a"]),
        (DAILY, utc(2026, 1, 5, 9) + 301 * 24 * H, ["b"]),
        (WEEKLY_BERLIN, utc(2026, 1, 7, 11), []),
        (WEEKLY_BERLIN, utc(2026, 1, 7, 12), ["a"]),
        (WEEKLY_BERLIN, local(BERLIN, 2026, 1, 12, 9, 59), ["a"]),
        (WEEKLY_BERLIN, local(BERLIN, 2026, 1, 12, 10), ["b"]),
        (WEEKLY_BERLIN, local(BERLIN, 2026, 1, 19, 10), ["c"]),
        (WEEKLY_BERLIN, local(BERLIN, 2026, 1, 26, 10), ["a"]),
        (WEEKLY_BERLIN, local(BERLIN, 2026, 7, 6, 10), ["c"]),  # 26th turn, in summer time
        (HOURLY_2, utc(2026, 1, 5, 1, 59), ["a"]),
        (HOURLY_2, utc(2026, 1, 5, 2), ["b"]),
        (HOURLY_2, utc(2026, 1, 5, 4), ["a"]),
        (HOURLY_2, utc(2026, 1, 6, 2), ["b"]),
        (CUSTOM_8H, utc(2026, 1, 5, 13, 59), ["a"]),
        (CUSTOM_8H, utc(2026, 1, 5, 14), ["b"]),
        (CUSTOM_8H, utc(2026, 1, 5, 22), ["c"]),
        (CUSTOM_8H, utc(2026, 1, 6, 6), ["a"]),
        (CUSTOM_90M, utc(2026, 1, 5, 1, 29), ["a"]),
        (CUSTOM_90M, utc(2026, 1, 5, 1, 30), ["b"]),
        (CUSTOM_90M, utc(2026, 1, 5, 3), ["a"]),
        (EVERY_2_DAYS, utc(2026, 1, 7, 8, 59), ["a"]),
        (EVERY_2_DAYS, utc(2026, 1, 7, 9), ["b"]),
        (EVERY_2_DAYS, utc(2026, 1, 9, 9), ["a"]),
        (EVERY_2_DAYS, utc(2026, 1, 11, 9), []),  # the layer has ended
    ],
)
def test_who_is_on_call(rotation: Layer, at: datetime, expected: list[str]) -> None:
    assert on_call_at(schedule(rotation), at) == expected
    assert layer_user_at(rotation, at) == (expected[0] if expected else None)


def test_daily_layer_shifts_are_whole_days_and_merge_a_lone_participant() -> None:
    assert plain(layer_shifts(DAILY, utc(2026, 1, 1), utc(2026, 1, 8, 12))) == [
        ("a", utc(2026, 1, 5, 9), utc(2026, 1, 6, 9)),
        ("b", utc(2026, 1, 6, 9), utc(2026, 1, 7, 9)),
        ("c", utc(2026, 1, 7, 9), utc(2026, 1, 8, 9)),
        ("a", utc(2026, 1, 8, 9), utc(2026, 1, 8, 12)),
    ]
    alone = replace(DAILY, participants=("solo",))
    assert plain(layer_shifts(alone, utc(2026, 1, 1), utc(2026, 1, 9))) == [
        ("solo", utc(2026, 1, 5, 9), utc(2026, 1, 9)),
    ]


def test_aware_non_utc_inputs_come_out_utc() -> None:
    berlin = datetime(2026, 1, 6, 10, 30, tzinfo=ZoneInfo(BERLIN))
    assert on_call_at(schedule(DAILY), berlin) == ["b"]
    (first,) = layer_shifts(DAILY, berlin, berlin + H)
    assert first.start == utc(2026, 1, 6, 9, 30)
    assert first.start.tzinfo is UTC
    with pytest.raises(ValueError, match="naive"):
        on_call_at(schedule(DAILY), datetime(2026, 1, 6))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"people": ""}, "participants"),
        ({"length": 0}, "length"),
        ({"kind": "custom"}, "turn_length"),
        ({"kind": "custom", "turn_length": 0}, "turn_length"),
        ({"turn_length": 3600}, "only for custom"),
        ({"end": utc(2026, 1, 1)}, "end must be after start"),
        ({"handoff_weekday": 7}, "handoff_weekday"),
        ({"handoff": time(9, tzinfo=UTC)}, "wall time"),
    ],
)
def test_layer_validation(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"kind": "daily", "start": utc(2026, 1, 5)} | kwargs
    with pytest.raises(ValueError, match=message):
        layer(**args)  # type: ignore[arg-type]


def test_unknown_zone_and_bad_windows_are_refused() -> None:
    with pytest.raises(KeyError):
        layer("daily", utc(2026, 1, 5), zone="Mars/Olympus_Mons")
    with pytest.raises(ValueError, match="weekday"):
        DailyWindow(time(9), time(17), frozenset({7}))
    with pytest.raises(ValueError, match="weekday"):
        DailyWindow(time(9), time(17), frozenset())
    with pytest.raises(ValueError, match="start_weekday"):
        WeeklyWindow(-1, time(9), 0, time(9))
    with pytest.raises(ValueError, match="end must be after"):
        Override("x", utc(2026, 1, 2), utc(2026, 1, 1))


# --- restrictions -----------------------------------------------------------------------------

BUSINESS = layer(
    "daily", local(BERLIN, 2026, 1, 5, 9), zone=BERLIN, restrictions=(business_hours(),)
)
WEEKEND = layer(  # Friday 18:00 to Monday 09:00 New York time, crossing midnight and the week
    "weekly",
    local(NEW_YORK, 2026, 1, 2, 18),
    "xy",
    zone=NEW_YORK,
    restrictions=(WeeklyWindow(FRI, time(18), MON, time(9)),),
)
FRIDAY_NIGHT = layer(  # 22:00-06:00 starting on Fridays only
    "daily",
    utc(2026, 1, 1),
    "n",
    restrictions=(DailyWindow(time(22), time(6), frozenset({FRI})),),
)


@pytest.mark.parametrize(
    ("rotation", "at", "expected"),
    [
        (BUSINESS, local(BERLIN, 2026, 1, 5, 9), "a"),
        (BUSINESS, local(BERLIN, 2026, 1, 5, 16, 59, 59), "a"),
        (BUSINESS, local(BERLIN, 2026, 1, 5, 17), None),
        (BUSINESS, local(BERLIN, 2026, 1, 6, 8, 59), None),
        (BUSINESS, local(BERLIN, 2026, 1, 6, 9), "b"),
        (BUSINESS, local(BERLIN, 2026, 1, 9, 12), "b"),  # Friday; turns advance regardless
        (BUSINESS, local(BERLIN, 2026, 1, 10, 12), None),  # Saturday
        (BUSINESS, local(BERLIN, 2026, 1, 12, 9), "b"),  # Monday: turn 7
        (BUSINESS, local(BERLIN, 2026, 7, 14, 9), "b"),  # summer time: still 09:00 local
        (BUSINESS, local(BERLIN, 2026, 7, 14, 8, 59), None),
        (WEEKEND, local(NEW_YORK, 2026, 1, 2, 17, 59), None),
        (WEEKEND, local(NEW_YORK, 2026, 1, 2, 18), "x"),
        (WEEKEND, local(NEW_YORK, 2026, 1, 3, 0), "x"),
        (WEEKEND, local(NEW_YORK, 2026, 1, 5, 8, 59), "x"),
        (WEEKEND, local(NEW_YORK, 2026, 1, 5, 9), None),
        (WEEKEND, local(NEW_YORK, 2026, 1, 7, 12), None),
        (WEEKEND, local(NEW_YORK, 2026, 1, 9, 18), "y"),
        (WEEKEND, local(NEW_YORK, 2026, 3, 8, 12), "y"),  # the spring-forward Sunday, turn 9
        (FRIDAY_NIGHT, utc(2026, 1, 2, 21, 59), None),
        (FRIDAY_NIGHT, utc(2026, 1, 2, 22), "n"),
        (FRIDAY_NIGHT, utc(2026, 1, 3, 5, 59), "n"),
        (FRIDAY_NIGHT, utc(2026, 1, 3, 6), None),
        (FRIDAY_NIGHT, utc(2026, 1, 3, 22), None),  # Saturday night is not in the window
        (FRIDAY_NIGHT, utc(2026, 1, 1, 23), None),  # Thursday night neither
    ],
)
def test_restrictions(rotation: Layer, at: datetime, expected: str | None) -> None:
    assert layer_user_at(rotation, at) == expected
    assert on_call_at(schedule(rotation), at) == ([expected] if expected else [])


def test_weekend_window_shifts_over_two_weeks() -> None:
    got = plain(layer_shifts(WEEKEND, utc(2026, 1, 1), utc(2026, 1, 15)))
    assert got == [
        ("x", local(NEW_YORK, 2026, 1, 2, 18), local(NEW_YORK, 2026, 1, 5, 9)),
        ("y", local(NEW_YORK, 2026, 1, 9, 18), local(NEW_YORK, 2026, 1, 12, 9)),
    ]


def test_business_hours_keep_local_time_across_dst_week() -> None:
    # Berlin springs forward on Sunday 2026-03-29: Friday 08:00-16:00 UTC, Monday 07:00-15:00 UTC.
    got = layer_shifts(BUSINESS, utc(2026, 3, 27), utc(2026, 3, 31))
    assert [(s.start, s.end) for s in got] == [
        (utc(2026, 3, 27, 8), utc(2026, 3, 27, 16)),
        (utc(2026, 3, 30, 7), utc(2026, 3, 30, 15)),
    ]


def test_windows_union_and_the_night_of_the_spring_gap() -> None:
    tz = ZoneInfo(BERLIN)
    overlapping = (DailyWindow(time(8), time(12)), DailyWindow(time(11), time(14)))
    got = window_intervals(overlapping, tz, utc(2026, 1, 5), utc(2026, 1, 6))
    assert got == [(local(BERLIN, 2026, 1, 5, 8), local(BERLIN, 2026, 1, 5, 14))]
    # 01:00-05:00 on the spring-forward night lasts three real hours.
    night = (DailyWindow(time(1), time(5)),)
    (only,) = window_intervals(night, tz, utc(2026, 3, 28, 12), utc(2026, 3, 29, 12))
    assert only[1] - only[0] == 3 * H
    # A window wholly inside the gap (02:00-03:00) does not happen that night.
    gap = (DailyWindow(time(2), time(3)),)
    assert window_intervals(gap, tz, utc(2026, 3, 28, 12), utc(2026, 3, 29, 12)) == []
    # 00:00-00:00 is a whole day, and a weekly window with equal ends the whole week.
    whole: tuple[Restriction, ...] = (WeeklyWindow(WED, time(6), WED, time(6)),)
    assert window_intervals(whole, tz, utc(2026, 1, 5), utc(2026, 1, 20)) == [
        (utc(2026, 1, 5), utc(2026, 1, 20))
    ]
    (day,) = DailyWindow(time(0), time(0), frozenset({SUN})).spans()
    assert day == (6 * 24 * H, 24 * H)


# --- layers and overrides --------------------------------------------------------------------

BASE = layer("weekly", utc(2026, 1, 5), "ab", name="base")  # Mondays 00:00 UTC
DAYTIME = layer("daily", utc(2026, 1, 5), "d", name="day", restrictions=(business_hours(),))
NIGHT = layer("daily", utc(2026, 1, 5), "n", name="night", end=utc(2026, 1, 8))
LAYERED = Schedule("ops", "UTC", (BASE, DAYTIME))


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (utc(2026, 1, 5, 8, 59), ["a"]),
        (utc(2026, 1, 5, 9), ["d"]),
        (utc(2026, 1, 5, 17), ["a"]),
        (utc(2026, 1, 10, 12), ["a"]),  # Saturday: the day layer has nobody, base shows through
        (utc(2026, 1, 12, 12), ["d"]),
        (utc(2026, 1, 12, 18), ["b"]),
        (utc(2026, 1, 4), []),  # before every layer
    ],
)
def test_later_layers_win_where_they_have_someone(at: datetime, expected: list[str]) -> None:
    assert on_call_at(LAYERED, at) == expected


def test_layer_order_matters_and_ended_layers_let_others_through() -> None:
    reordered = Schedule("ops", "UTC", (DAYTIME, BASE))
    assert on_call_at(reordered, utc(2026, 1, 5, 12)) == ["a"]
    three = Schedule("ops", "UTC", (BASE, DAYTIME, NIGHT))
    assert on_call_at(three, utc(2026, 1, 5, 12)) == ["n"]
    assert on_call_at(three, utc(2026, 1, 8, 12)) == ["d"]
    assert plain(shifts(LAYERED, utc(2026, 1, 5), utc(2026, 1, 6, 12))) == [
        ("a", utc(2026, 1, 5), utc(2026, 1, 5, 9)),
        ("d", utc(2026, 1, 5, 9), utc(2026, 1, 5, 17)),
        ("a", utc(2026, 1, 5, 17), utc(2026, 1, 6, 9)),
        ("d", utc(2026, 1, 6, 9), utc(2026, 1, 6, 12)),
    ]
    assert [s.label for s in shifts(LAYERED, utc(2026, 1, 5), utc(2026, 1, 5, 12))] == [
        "base",
        "day",
    ]


O_INSIDE = Override("o1", utc(2026, 1, 6), utc(2026, 1, 6, 6))
O_ACROSS = Override("o2", utc(2026, 1, 11, 20), utc(2026, 1, 12, 4))  # across a weekly handoff
O_OVER_1 = Override("o3", utc(2026, 1, 7), utc(2026, 1, 7, 10))
O_OVER_2 = Override("o4", utc(2026, 1, 7, 8), utc(2026, 1, 7, 12))  # created later: wins 08-12
O_BEFORE = Override("o5", utc(2026, 1, 1), utc(2026, 1, 2))  # before any layer starts


def test_overrides_split_turns_and_later_override_wins() -> None:
    overridden = replace(LAYERED, overrides=(O_INSIDE, O_ACROSS, O_OVER_1, O_OVER_2, O_BEFORE))
    got = plain(shifts(overridden, utc(2026, 1, 1), utc(2026, 1, 12, 12)))
    assert got == [
        ("o5", utc(2026, 1, 1), utc(2026, 1, 2)),
        ("a", utc(2026, 1, 5), utc(2026, 1, 5, 9)),
        ("d", utc(2026, 1, 5, 9), utc(2026, 1, 5, 17)),
        ("a", utc(2026, 1, 5, 17), utc(2026, 1, 6)),
        ("o1", utc(2026, 1, 6), utc(2026, 1, 6, 6)),
        ("a", utc(2026, 1, 6, 6), utc(2026, 1, 6, 9)),
        ("d", utc(2026, 1, 6, 9), utc(2026, 1, 6, 17)),
        ("a", utc(2026, 1, 6, 17), utc(2026, 1, 7)),
        ("o3", utc(2026, 1, 7), utc(2026, 1, 7, 8)),
        ("o4", utc(2026, 1, 7, 8), utc(2026, 1, 7, 12)),
        ("d", utc(2026, 1, 7, 12), utc(2026, 1, 7, 17)),
        ("a", utc(2026, 1, 7, 17), utc(2026, 1, 8, 9)),
        ("d", utc(2026, 1, 8, 9), utc(2026, 1, 8, 17)),
        ("a", utc(2026, 1, 8, 17), utc(2026, 1, 9, 9)),
        ("d", utc(2026, 1, 9, 9), utc(2026, 1, 9, 17)),
        ("a", utc(2026, 1, 9, 17), utc(2026, 1, 11, 20)),
        ("o2", utc(2026, 1, 11, 20), utc(2026, 1, 12, 4)),
        ("b", utc(2026, 1, 12, 4), utc(2026, 1, 12, 9)),
        ("d", utc(2026, 1, 12, 9), utc(2026, 1, 12, 12)),
    ]
    assert on_call_at(overridden, utc(2026, 1, 7, 9)) == ["o4"]
    reversed_order = replace(overridden, overrides=(O_OVER_2, O_OVER_1))
    assert on_call_at(reversed_order, utc(2026, 1, 7, 9)) == ["o3"]
    assert all(s.is_override for s in shifts(overridden, utc(2026, 1, 1), utc(2026, 1, 2)))


def test_override_by_the_person_on_call_stays_a_separate_shift() -> None:
    same = replace(LAYERED, overrides=(Override("a", utc(2026, 1, 5, 2), utc(2026, 1, 5, 4)),))
    got = shifts(same, utc(2026, 1, 5), utc(2026, 1, 5, 6))
    assert [(s.user, s.label) for s in got] == [
        ("a", "base"),
        ("a", "override"),
        ("a", "base"),
    ]


def test_next_shifts() -> None:
    got = next_shifts(LAYERED, "d", utc(2026, 1, 5, 12), 3)
    assert plain(got) == [
        ("d", utc(2026, 1, 5, 9), utc(2026, 1, 5, 17)),  # under way: from its real start
        ("d", utc(2026, 1, 6, 9), utc(2026, 1, 6, 17)),
        ("d", utc(2026, 1, 7, 9), utc(2026, 1, 7, 17)),
    ]
    # b is on call every other week, all week except business hours.
    weeks = next_shifts(Schedule("s", "UTC", (BASE,)), "b", utc(2026, 1, 5), 3)
    assert plain(weeks) == [
        ("b", utc(2026, 1, 12), utc(2026, 1, 19)),
        ("b", utc(2026, 1, 26), utc(2026, 2, 2)),
        ("b", utc(2026, 2, 9), utc(2026, 2, 16)),
    ]
    assert next_shifts(LAYERED, "nobody", utc(2026, 1, 5), 2) == []
    assert next_shifts(LAYERED, "d", utc(2026, 1, 5), 0) == []
    short = next_shifts(LAYERED, "d", utc(2026, 1, 5), 2, horizon=timedelta(hours=12))
    assert plain(short) == [("d", utc(2026, 1, 5, 9), utc(2026, 1, 5, 12))]  # cut at the horizon


# --- DST --------------------------------------------------------------------------------------
# Europe/Berlin: 2026-03-29 02:00 CET -> 03:00 CEST; 2026-10-25 03:00 CEST -> 02:00 CET.
# America/New_York: 2026-03-08 02:00 EST -> 03:00 EDT; 2026-11-01 02:00 EDT -> 01:00 EST.


def _turns(
    rotation: Layer, start: datetime, end: datetime
) -> list[tuple[str, datetime, timedelta]]:
    return [(s.user, s.start, s.end - s.start) for s in layer_shifts(rotation, start, end)]


@pytest.mark.parametrize(
    ("zone", "first", "days", "short_or_long"),
    [
        (BERLIN, (2026, 3, 27), 4, 23 * H),
        (BERLIN, (2026, 10, 23), 4, 25 * H),
        (NEW_YORK, (2026, 3, 6), 4, 23 * H),
        (NEW_YORK, (2026, 10, 30), 4, 25 * H),
    ],
)
def test_daily_0900_stays_0900_local(
    zone: str, first: tuple[int, int, int], days: int, short_or_long: timedelta
) -> None:
    start = local(zone, *first, 9)
    rotation = layer("daily", start, "abcd", zone=zone)
    got = _turns(rotation, start, start + days * 24 * H + 2 * H)
    assert [s.astimezone(ZoneInfo(zone)).hour for _, s, _ in got] == [9] * (days + 1)
    assert [length for _, _, length in got[:days]] == [24 * H, short_or_long, 24 * H, 24 * H]
    assert [user for user, _, _ in got] == ["a", "b", "c", "d", "a"]


def test_berlin_spring_daily_exact_instants() -> None:
    rotation = layer("daily", utc(2026, 3, 27, 8), zone=BERLIN)  # 09:00 CET
    assert _turns(rotation, utc(2026, 3, 27), utc(2026, 3, 30, 7)) == [
        ("a", utc(2026, 3, 27, 8), 24 * H),
        ("b", utc(2026, 3, 28, 8), 23 * H),
        ("c", utc(2026, 3, 29, 7), 24 * H),  # 09:00 CEST
    ]


@pytest.mark.parametrize(
    ("zone", "day_before", "gap_handoff_utc", "after_utc"),
    [
        # 02:30 does not exist: read with the pre-change offset, i.e. 03:30 summer time.
        (BERLIN, (2026, 3, 28), utc(2026, 3, 29, 1, 30), utc(2026, 3, 30, 0, 30)),
        (NEW_YORK, (2026, 3, 7), utc(2026, 3, 8, 7, 30), utc(2026, 3, 9, 6, 30)),
    ],
)
def test_handoff_in_the_spring_gap(
    zone: str, day_before: tuple[int, int, int], gap_handoff_utc: datetime, after_utc: datetime
) -> None:
    start = local(zone, *day_before, 2, 30)
    rotation = layer("daily", start, zone=zone)
    assert rotation.handoff is None  # defaults to start's local time, 02:30
    got = _turns(rotation, start, after_utc + H)
    assert got == [
        ("a", start, 24 * H),
        ("b", gap_handoff_utc, 23 * H),
        ("c", after_utc, H),
    ]
    assert gap_handoff_utc.astimezone(ZoneInfo(zone)).strftime("%H:%M") == "03:30"
    assert after_utc.astimezone(ZoneInfo(zone)).strftime("%H:%M") == "02:30"


def test_handoff_in_the_autumn_overlap_uses_the_first_occurrence() -> None:
    start = local(BERLIN, 2026, 10, 24, 2, 30)
    rotation = layer("daily", start, zone=BERLIN)
    assert _turns(rotation, start, utc(2026, 10, 26, 2)) == [
        ("a", utc(2026, 10, 24, 0, 30), 24 * H),
        ("b", utc(2026, 10, 25, 0, 30), 25 * H),  # 02:30 CEST, the first of the two 02:30s
        ("c", utc(2026, 10, 26, 1, 30), 30 * timedelta(minutes=1)),
    ]
    # A start at the second 02:30 (CET, fold=1) is not itself a handoff: the next one is a day on.
    second = local(BERLIN, 2026, 10, 25, 2, 30, fold=1)
    late = layer("daily", second, zone=BERLIN)
    assert second == utc(2026, 10, 25, 1, 30)
    assert _turns(late, second, utc(2026, 10, 27)) == [
        ("a", second, 24 * H),
        ("b", utc(2026, 10, 26, 1, 30), 22 * H + 30 * timedelta(minutes=1)),
    ]


@pytest.mark.parametrize(
    ("zone", "monday_before", "spring", "length"),
    [
        (BERLIN, (2026, 3, 23), True, 167 * H),
        (BERLIN, (2026, 10, 19), False, 169 * H),
        (NEW_YORK, (2026, 3, 2), True, 167 * H),
        (NEW_YORK, (2026, 10, 26), False, 169 * H),
    ],
)
def test_weekly_handoff_in_a_dst_week(
    zone: str, monday_before: tuple[int, int, int], spring: bool, length: timedelta
) -> None:
    start = local(zone, *monday_before, 9)
    rotation = layer("weekly", start, "ab", zone=zone)
    got = _turns(rotation, start, start + 3 * 168 * H - 2 * H)
    assert [d for _, _, d in got[:2]] == [length, 168 * H]
    assert all(s.astimezone(ZoneInfo(zone)).strftime("%a %H:%M") == "Mon 09:00" for _, s, _ in got)
    assert [u for u, _, _ in got] == ["a", "b", "a"]


def test_weekly_handoff_on_the_spring_forward_sunday_at_0230() -> None:
    rotation = layer(
        "weekly", utc(2026, 3, 1), "ab", zone=BERLIN, handoff=time(2, 30), handoff_weekday=SUN
    )
    got = _turns(rotation, utc(2026, 3, 21), utc(2026, 4, 6))
    assert [(u, s) for u, s, _ in got] == [
        ("b", utc(2026, 3, 21)),  # range start, mid-turn
        ("a", utc(2026, 3, 22, 1, 30)),  # 02:30 CET
        ("b", utc(2026, 3, 29, 1, 30)),  # 02:30 does not exist: 03:30 CEST
        ("a", utc(2026, 4, 5, 0, 30)),  # 02:30 CEST
    ]


@pytest.mark.parametrize("zone", [BERLIN, NEW_YORK])
@pytest.mark.parametrize("autumn", [False, True])
def test_12h_custom_turns_are_elapsed_time_across_the_change(zone: str, autumn: bool) -> None:
    day = (2026, 10, 24) if zone == BERLIN else (2026, 10, 31)
    if not autumn:
        day = (2026, 3, 28) if zone == BERLIN else (2026, 3, 7)
    start = local(zone, *day, 20)
    rotation = layer("custom", start, "ab", zone=zone, turn_length=timedelta(hours=12))
    got = _turns(rotation, start, start + 48 * H)
    assert [s for _, s, _ in got] == [start + 12 * H * i for i in range(4)]
    assert {d for _, _, d in got} == {12 * H}
    # Wall-clock handoffs drift by the change: 20:00, then 07:00 (autumn) or 09:00 (spring).
    second = got[1][1].astimezone(ZoneInfo(zone)).hour
    assert second == (7 if autumn else 9)


def test_hourly_turns_on_the_short_day() -> None:
    start = local(BERLIN, 2026, 3, 29, 0)
    rotation = layer("hourly", start, "abc", zone=BERLIN)
    got = _turns(rotation, start, local(BERLIN, 2026, 3, 30, 0))
    assert len(got) == 23
    assert {d for _, _, d in got} == {H}


def test_resolve_local_rule() -> None:
    tz = ZoneInfo(BERLIN)
    day = datetime(2026, 3, 29).date()
    assert resolve_local(day, time(2, 30), tz) == utc(2026, 3, 29, 1, 30)
    assert resolve_local(day, time(2, 30, fold=1), tz) == utc(2026, 3, 29, 1, 30)  # fold ignored
    autumn = datetime(2026, 10, 25).date()
    assert resolve_local(autumn, time(2, 30), tz) == utc(2026, 10, 25, 0, 30)


# --- properties -------------------------------------------------------------------------------

ZONES = [
    "UTC",
    BERLIN,
    NEW_YORK,
    "Australia/Lord_Howe",  # 30-minute DST
    "America/Santiago",  # changes at local midnight
    "Asia/Kolkata",
]
T0 = utc(2026, 1, 1)
YEAR_MINUTES = 365 * 24 * 60
names = st.sampled_from(["ann", "bob", "cy", "dee", "eve"])
minutes = st.integers(min_value=0, max_value=YEAR_MINUTES)
wall = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
windows: st.SearchStrategy[Restriction] = st.one_of(
    st.builds(DailyWindow, wall, wall, st.frozensets(st.integers(0, 6), min_size=1)),
    st.builds(WeeklyWindow, st.integers(0, 6), wall, st.integers(0, 6), wall),
)


@st.composite
def layers(draw: st.DrawFn, distinct: bool = False, restricted: bool = True) -> Layer:
    kind = draw(st.sampled_from(list(TurnKind)))
    people = draw(
        st.lists(names, min_size=2, max_size=5, unique=True)
        if distinct
        else st.lists(names, min_size=1, max_size=4)
    )
    start = T0 + timedelta(minutes=draw(minutes))
    end = None
    if draw(st.booleans()):
        end = start + timedelta(minutes=draw(st.integers(1, 60 * 24 * 60)))
    return Layer(
        name=draw(st.sampled_from(["l1", "l2", "l3"])),
        participants=tuple(people),
        kind=kind,
        start=start,
        zone=draw(st.sampled_from(ZONES)),
        length=draw(st.integers(1, 3)),
        turn_length=(
            timedelta(minutes=draw(st.integers(15, 4 * 24 * 60))) if kind == "custom" else None
        ),
        handoff=draw(st.none() | wall),
        handoff_weekday=draw(st.none() | st.integers(0, 6)),
        end=end,
        restrictions=tuple(draw(st.lists(windows, max_size=2))) if restricted else (),
    )


@st.composite
def overrides(draw: st.DrawFn) -> Override:
    start = T0 + timedelta(minutes=draw(minutes))
    return Override(draw(names), start, start + timedelta(minutes=draw(st.integers(1, 10 * 1440))))


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    return Schedule(
        "s",
        "UTC",
        tuple(draw(st.lists(layers(), min_size=1, max_size=3))),
        tuple(draw(st.lists(overrides(), max_size=3))),
    )


@st.composite
def ranges(draw: st.DrawFn, max_days: int = 21) -> tuple[datetime, datetime]:
    start = T0 + timedelta(minutes=draw(minutes))
    return start, start + timedelta(minutes=draw(st.integers(1, max_days * 1440)))


PROPS = settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])


def _owner(timeline: list[Shift], t: datetime) -> list[str]:
    return [s.user for s in timeline if s.start <= t < s.end]


@PROPS
@given(schedules(), ranges(), st.lists(st.integers(0, 10**9), max_size=20))
def test_shifts_tile_the_range_and_agree_with_on_call_at(
    sched: Schedule, span: tuple[datetime, datetime], probes: list[int]
) -> None:
    a, b = span
    timeline = shifts(sched, a, b)
    for s in timeline:
        assert a <= s.start < s.end <= b
        assert s.start.tzinfo is UTC
        assert on_call_at(sched, s.start) == [s.user]
    for prev, nxt in pairwise(timeline):
        assert prev.end <= nxt.start  # ordered, no overlap
        if prev.end == nxt.start:
            assert (prev.user, prev.source) != (nxt.user, nxt.source)  # merged when equal
        else:
            assert on_call_at(sched, prev.end) == []  # a gap means nobody
    if timeline and timeline[0].start > a:
        assert on_call_at(sched, a) == []
    if not timeline:
        assert on_call_at(sched, a) == []
    for probe in probes:
        t = a + (b - a) * (probe / 10**9)
        t = t.replace(microsecond=0)
        if a <= t < b:
            assert on_call_at(sched, t) == _owner(timeline, t)


@PROPS
@given(schedules(), ranges(max_days=10), st.integers(0, 10**6))
def test_shifts_compose_over_split_ranges(
    sched: Schedule, span: tuple[datetime, datetime], cut: int
) -> None:
    a, b = span
    m = a + ((b - a) * cut // 10**6 // timedelta(minutes=1)) * timedelta(minutes=1)
    joined = shifts(sched, a, m) + shifts(sched, m, b)
    merged: list[Shift] = []
    for s in joined:
        prev = merged[-1] if merged else None
        if prev and prev.end == s.start and prev.user == s.user and prev.source is s.source:
            merged[-1] = Shift(s.user, prev.start, s.end, s.source)
            continue
        merged.append(s)
    assert merged == shifts(sched, a, b)


@PROPS
@given(layers(distinct=True, restricted=False), st.integers(1, 40))
def test_participant_order_cycles(rotation: Layer, turns: int) -> None:
    if rotation.kind in ("hourly", "custom"):
        step = rotation.turn_length or timedelta(hours=rotation.length)
    else:
        step = timedelta(days=rotation.length * (7 if rotation.kind == "weekly" else 1))
    horizon = rotation.start + turns * step + timedelta(days=8)
    if rotation.end is not None:
        horizon = min(horizon, rotation.end)
    got = layer_shifts(rotation, rotation.start, horizon)
    people = rotation.participants
    assert got[0].start == rotation.start
    assert got[-1].end == horizon
    for i, s in enumerate(got):
        assert s.user == people[i % len(people)]
    for prev, nxt in pairwise(got):
        assert prev.end == nxt.start  # unrestricted layers have no gaps
    tz = ZoneInfo(rotation.zone)
    start_local = rotation.start.astimezone(tz)
    for s in got[1:-1]:
        if rotation.kind in ("hourly", "custom"):
            assert s.end - s.start == step  # elapsed time, whatever the wall clock does
        else:
            assert abs(s.end - s.start - step) <= H  # a DST change moves a handoff by <= 1h
    for s in got[1:]:
        if rotation.kind in ("hourly", "custom"):
            assert (s.start - rotation.start) % step == timedelta(0)
            continue
        handoff = rotation.handoff or start_local.time()
        # The same wall time every turn (resolved with fold=0 when it is in a gap or overlap).
        assert s.start == resolve_local(s.start.astimezone(tz).date(), handoff, tz)
        if rotation.kind == "weekly":
            weekday = rotation.handoff_weekday
            expected = start_local.weekday() if weekday is None else weekday
            assert s.start.astimezone(tz).weekday() == expected


@PROPS
@given(schedules(), overrides(), ranges())
def test_an_override_fully_replaces_its_range(
    sched: Schedule, override: Override, span: tuple[datetime, datetime]
) -> None:
    a, b = span
    with_override = replace(sched, overrides=(*sched.overrides, override))
    timeline = shifts(with_override, a, b)
    lo, hi = max(a, override.start), min(b, override.end)
    if lo < hi:
        inside = [s for s in timeline if s.start < hi and s.end > lo]
        assert inside[0].source is override
        assert (inside[0].start, inside[0].end) == (lo, hi)
        assert len(inside) == 1
        assert on_call_at(with_override, lo) == [override.user]
    # Outside the override's range, nothing changes.
    for x, y in ((a, min(b, override.start)), (max(a, override.end), b)):
        if x < y:
            assert shifts(with_override, x, y) == shifts(sched, x, y)
