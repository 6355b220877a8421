"""Table tests of the pure status-page calculator: component states and daily uptime."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from ninefold.statuspage.uptime import (
    DEGRADED,
    MAINTENANCE,
    MAJOR,
    OPERATIONAL,
    PARTIAL,
    Outage,
    daily_uptime,
    incident_outages,
    incident_state,
    overall_uptime,
    severity_state,
    worst,
)

DAY = 86400.0
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)  # noon: today is half observed
LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)


def at(day: int, hour: float = 0) -> datetime:
    """November ``day`` 2026 at ``hour`` UTC."""
    return datetime(2026, 11, day, tzinfo=UTC) + timedelta(hours=hour)


def by_day(outages: list[Outage], since: datetime = LONG_AGO) -> dict[date, float | None]:
    return {d.day: d.uptime for d in daily_uptime(outages, now=NOW, since=since)}


@pytest.mark.parametrize(
    ("rank", "mitigated", "monitoring", "state"),
    [
        (1, False, False, MAJOR),
        (2, False, False, PARTIAL),
        (3, False, False, DEGRADED),
        (4, False, False, DEGRADED),
        (1, True, False, DEGRADED),
        (1, False, True, DEGRADED),
    ],
)
def test_incident_state(rank: int, mitigated: bool, monitoring: bool, state: str) -> None:
    assert incident_state(rank=rank, mitigated=mitigated, monitoring=monitoring) == state
    assert severity_state(rank) in (MAJOR, PARTIAL, DEGRADED)


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        ([], OPERATIONAL),
        ([OPERATIONAL, MAINTENANCE], MAINTENANCE),
        ([MAINTENANCE, DEGRADED], DEGRADED),
        ([DEGRADED, MAJOR, PARTIAL], MAJOR),
    ],
)
def test_worst(states: list[str], expected: str) -> None:
    assert worst(states) == expected


def test_shape_and_no_incidents() -> None:
    days = daily_uptime([], now=NOW, since=LONG_AGO)
    assert len(days) == 90
    assert days[-1].day == NOW.date()
    assert days[0].day == NOW.date() - timedelta(days=89)
    assert days[-1].observed == DAY / 2  # today up to now
    assert all(d.uptime == 100.0 for d in days)
    assert overall_uptime(days) == 100.0


@pytest.mark.parametrize(
    ("name", "outages", "expected"),
    [
        # a one-hour major outage: 23/24 of the day is up
        ("major hour", [Outage(at(10, 3), at(10, 4), MAJOR)], {date(2026, 11, 10): 100 * 23 / 24}),
        # a partial outage weighs 30%: 10 hours → 3 hours of downtime
        (
            "partial weighted",
            [Outage(at(10, 0), at(10, 10), PARTIAL)],
            {date(2026, 11, 10): 100 * 21 / 24},
        ),
        ("degraded is up", [Outage(at(10, 0), at(11, 0), DEGRADED)], {date(2026, 11, 10): 100.0}),
        # spans midnight: 2 hours on the 10th, 6 on the 11th
        (
            "across midnight",
            [Outage(at(10, 22), at(11, 6), MAJOR)],
            {date(2026, 11, 10): 100 * 22 / 24, date(2026, 11, 11): 100 * 18 / 24},
        ),
        # overlapping major outages count once: 02:00–06:00 is 4 hours, not 6
        (
            "overlap counted once",
            [Outage(at(10, 2), at(10, 5), MAJOR), Outage(at(10, 3), at(10, 6), MAJOR)],
            {date(2026, 11, 10): 100 * 20 / 24},
        ),
        # a major outage inside a partial one: the worst state wins where they overlap
        (
            "worst wins in overlap",
            [Outage(at(10, 0), at(10, 10), PARTIAL), Outage(at(10, 2), at(10, 4), MAJOR)],
            {date(2026, 11, 10): 100 * (24 - 2 - 0.3 * 8) / 24},
        ),
        # still open: counts up to now (noon today), today is half observed and all down
        (
            "open incident",
            [Outage(at(20, 18), None, MAJOR)],
            {date(2026, 11, 20): 100 * 18 / 24, date(2026, 11, 21): 0.0},
        ),
        # ended before the 90-day window: not seen at all
        (
            "before the window",
            [Outage(at(1) - timedelta(days=100), at(1) - timedelta(days=95), MAJOR)],
            {},
        ),
    ],
)
def test_daily_uptime(name: str, outages: list[Outage], expected: dict[date, float]) -> None:
    got = by_day(outages)
    for day, value in expected.items():
        assert got[day] == pytest.approx(value), (name, day)
    touched = set(expected)
    assert all(v == 100.0 for d, v in got.items() if d not in touched), name


def test_window_start_clipped() -> None:
    first = NOW.date() - timedelta(days=89)
    start = datetime.combine(first, datetime.min.time(), UTC)
    outages = [Outage(start - timedelta(days=5), start + timedelta(hours=6), MAJOR)]
    days = daily_uptime(outages, now=NOW, since=LONG_AGO)
    assert days[0].uptime == pytest.approx(75.0)
    assert days[0].major == 6 * 3600


def test_days_before_the_component_existed_are_no_data() -> None:
    created = at(15, 12)
    days = {d.day: d for d in daily_uptime([], now=NOW, since=created)}
    assert days[date(2026, 11, 14)].uptime is None
    assert days[date(2026, 11, 14)].observed == 0
    assert days[date(2026, 11, 15)].observed == DAY / 2  # a partial first day
    assert days[date(2026, 11, 15)].uptime == 100.0
    # an incident before the component existed does not count, one after does
    outages = [Outage(at(15, 6), at(15, 18), MAJOR)]
    day = {d.day: d for d in daily_uptime(outages, now=NOW, since=created)}[date(2026, 11, 15)]
    assert day.major == 6 * 3600
    assert day.uptime == pytest.approx(50.0)


def test_overall_is_weighted_by_observed_time() -> None:
    created = at(20, 0)  # observed: all of the 20th and half of the 21st = 36 h
    outages = [Outage(at(20, 0), at(20, 9), MAJOR)]
    days = daily_uptime(outages, now=NOW, since=created)
    assert overall_uptime(days) == pytest.approx(100 * 27 / 36)
    assert overall_uptime(daily_uptime([], now=NOW, since=NOW + timedelta(days=1))) is None


def test_day_state_for_bars() -> None:
    outages = [Outage(at(10, 1), at(10, 2), DEGRADED), Outage(at(11, 1), at(11, 2), PARTIAL)]
    states = {d.day: d.state for d in daily_uptime(outages, now=NOW, since=LONG_AGO)}
    assert states[date(2026, 11, 10)] == DEGRADED
    assert states[date(2026, 11, 11)] == PARTIAL
    assert states[date(2026, 11, 12)] == OPERATIONAL


@pytest.mark.parametrize(
    ("rank", "mitigated", "resolved", "expected"),
    [
        (1, None, None, [Outage(at(10), None, MAJOR)]),
        (2, None, at(10, 3), [Outage(at(10), at(10, 3), PARTIAL)]),
        (
            1,
            at(10, 1),
            at(10, 3),
            [Outage(at(10), at(10, 1), MAJOR), Outage(at(10, 1), at(10, 3), DEGRADED)],
        ),
        (1, at(10, 1), None, [Outage(at(10), at(10, 1), MAJOR), Outage(at(10, 1), None, DEGRADED)]),
        # resolved without a separate mitigation: no degraded tail
        (3, at(10, 2), at(10, 2), [Outage(at(10), at(10, 2), DEGRADED)]),
    ],
)
def test_incident_outages(
    rank: int, mitigated: datetime | None, resolved: datetime | None, expected: list[Outage]
) -> None:
    got = incident_outages(
        rank=rank, started_at=at(10), mitigated_at=mitigated, resolved_at=resolved
    )
    assert got == expected
