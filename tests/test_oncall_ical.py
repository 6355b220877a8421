"""iCalendar export of on-call shifts: parsed back with the ``icalendar`` package (tests only)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ninefold.oncall.ical import (
    escape_text,
    event_uid,
    fold,
    format_utc,
    schedule_calendar,
    user_calendar,
)
from ninefold.oncall.restrictions import business_hours
from ninefold.oncall.rotation import Layer, Override, Schedule, Shift, TurnKind, shifts

TOKYO = ZoneInfo("Asia/Tokyo")
NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
START = datetime(2026, 3, 23, tzinfo=UTC)
END = datetime(2026, 4, 6, tzinfo=UTC)

WEEKLY = Layer(
    "base", ("ann", "bob"), TurnKind.WEEKLY, datetime(2026, 3, 2, 8, tzinfo=UTC), "Europe/Berlin"
)
DAYTIME = Layer(
    "day",
    ("Zoë Ünïcødé-Łukasiewicz, ops; EU\\night",),
    TurnKind.DAILY,
    datetime(2026, 3, 2, 8, tzinfo=UTC),
    "Europe/Berlin",
    restrictions=(business_hours(),),
)
PRIMARY = Schedule(
    "Payments, primary; EU",
    "Europe/Berlin",
    (WEEKLY, DAYTIME),
    (Override("cy", datetime(2026, 3, 28, 20, tzinfo=UTC), datetime(2026, 3, 29, 8, tzinfo=UTC)),),
)
SECONDARY = Schedule(
    "secondary",
    "America/New_York",
    (Layer("s", ("bob", "ann"), TurnKind.DAILY, datetime(2026, 3, 2, 14, tzinfo=UTC), "UTC"),),
)


def _lines(text: str) -> list[str]:
    assert text.endswith("\r\n")
    lines = text[:-2].split("\r\n")
    for line in lines:
        assert "\n" not in line
        assert "\r" not in line
        assert len(line.encode("utf-8")) <= 75
    return lines


def _events(text: str) -> list[icalendar.Event]:
    calendar = icalendar.Calendar.from_ical(text)
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["PRODID"]).startswith("-//ninefold//")
    return list(calendar.walk("VEVENT"))


def _expected(
    schedule: Schedule, timeline: list[Shift]
) -> list[tuple[str, str, datetime, datetime]]:
    return [
        (
            event_uid(schedule.name, s.user, s.start),
            f"On call: {s.user} ({schedule.name})",
            s.start,
            s.end,
        )
        for s in timeline
    ]


def _parsed(events: list[icalendar.Event]) -> list[tuple[str, str, datetime, datetime]]:
    return [(str(e["UID"]), str(e["SUMMARY"]), e["DTSTART"].dt, e["DTEND"].dt) for e in events]


def test_schedule_calendar_round_trips_to_the_shifts() -> None:
    text = schedule_calendar(PRIMARY, START, END, NOW)
    lines = _lines(text)
    assert lines[0] == "BEGIN:VCALENDAR"
    assert lines[-1] == "END:VCALENDAR"
    assert any(line.startswith(" ") for line in lines)  # the long name forced folding
    timeline = shifts(PRIMARY, START, END)
    assert len(timeline) > 10
    events = _events(text)
    assert _parsed(events) == _expected(PRIMARY, timeline)
    for event, shift in zip(events, timeline, strict=True):
        assert event["DTSTAMP"].dt == NOW
        assert event["DTSTART"].dt.tzinfo is not None
        assert event["DTSTART"].dt.utcoffset() == timedelta(0)
        via = "override" if shift.is_override else f"layer {shift.label}"
        assert str(event["DESCRIPTION"]) == f"Schedule: {PRIMARY.name}\nVia: {via}"
    assert "DTSTART:20260328T200000Z" in lines  # the override, written in UTC
    # icalendar reads NAME and X-WR-CALNAME as unknown values and does not unescape them.
    name = icalendar.Calendar.from_ical(text)["NAME"]
    assert _unescape(name.to_ical().decode()) == f"On call: {PRIMARY.name}"
    assert "X-WR-CALNAME:On call: Payments\\, primary\\; EU" in lines


def test_user_calendar_spans_schedules() -> None:
    text = user_calendar("bob", [PRIMARY, SECONDARY], START, END, NOW)
    _lines(text)
    events = _events(text)
    mine = [
        (schedule, s)
        for schedule in (PRIMARY, SECONDARY)
        for s in shifts(schedule, START, END)
        if s.user == "bob"
    ]
    mine.sort(key=lambda pair: (pair[1].start, pair[0].name))
    assert {str(e["SUMMARY"]) for e in events} == {
        "On call: bob (Payments, primary; EU)",
        "On call: bob (secondary)",
    }
    assert [(e["DTSTART"].dt, e["DTEND"].dt) for e in events] == [(s.start, s.end) for _, s in mine]
    assert [str(e["UID"]) for e in events] == [
        event_uid(schedule.name, "bob", s.start) for schedule, s in mine
    ]
    assert len({str(e["UID"]) for e in events}) == len(events)
    assert _events(user_calendar("nobody", [PRIMARY], START, END, NOW)) == []


def test_uids_are_stable_and_dtstamp_is_the_given_now() -> None:
    first = _events(schedule_calendar(PRIMARY, START, END, NOW))
    later = _events(
        schedule_calendar(PRIMARY, START + timedelta(days=7), END, NOW + timedelta(days=9))
    )
    by_start = {e["DTSTART"].dt: str(e["UID"]) for e in first}
    # Events not clipped by the new range start keep their UIDs.
    for event in later[1:]:
        assert str(event["UID"]) == by_start[event["DTSTART"].dt]
        assert event["DTSTAMP"].dt == NOW + timedelta(days=9)
    assert event_uid("a", "b", START) == event_uid("a", "b", START.astimezone(TOKYO))
    assert event_uid("a", "b", START) != event_uid("a", "c", START)
    assert event_uid("a", "b", START) != event_uid("b", "b", START)


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("plain", "plain"),
        ("a,b", "a\\,b"),
        ("a;b", "a\\;b"),
        ("back\\slash", "back\\\\slash"),
        ("two\nlines", "two\\nlines"),
        ("crlf\r\nand\rcr", "crlf\\nand\\ncr"),
        ("colon: kept", "colon: kept"),
        ("tab\tkept, bell\x07 dropped", "tab\tkept\\, bell dropped"),
    ],
)
def test_escape_text(raw: str, escaped: str) -> None:
    assert escape_text(raw) == escaped


def test_fold_counts_octets_and_keeps_characters_whole() -> None:
    assert fold("x" * 75) == "x" * 75
    assert fold("x" * 76) == "x" * 75 + "\r\n x"
    folded = fold("SUMMARY:" + "é" * 80)  # two octets each
    pieces = folded.split("\r\n")
    assert all(len(p.encode("utf-8")) <= 75 for p in pieces)
    assert all(p.startswith(" ") for p in pieces[1:])
    assert "".join(p[1:] if i else p for i, p in enumerate(pieces)) == "SUMMARY:" + "é" * 80
    emoji = fold("X:" + "🚨" * 40).split("\r\n")  # four octets each
    assert [len(p.encode("utf-8")) for p in emoji] == [74, 73, 17]


def test_format_utc() -> None:
    assert format_utc(datetime(2026, 10, 25, 3, tzinfo=TOKYO)) == "20261024T180000Z"
    with pytest.raises(ValueError, match="naive"):
        format_utc(datetime(2026, 1, 1))


def test_empty_range_is_a_valid_empty_calendar() -> None:
    text = schedule_calendar(PRIMARY, START, START, NOW)
    assert _lines(text)[:3] == [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//ninefold//on-call schedules//EN",
    ]
    assert _events(text) == []


names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=60)


@settings(deadline=None, max_examples=75)
@given(names, names, st.integers(0, 60 * 24 * 30), st.integers(1, 6))
def test_any_names_round_trip(schedule_name: str, user: str, minute: int, hours: int) -> None:
    start = START + timedelta(minutes=minute)
    rotation = Layer(
        "l",
        (user, "other"),
        TurnKind.HOURLY,
        start,
        "Europe/Berlin",
        length=hours,
        restrictions=(business_hours(time(8), time(20)),),
    )
    schedule = Schedule(schedule_name, "UTC", (rotation,))
    text = schedule_calendar(schedule, start, start + timedelta(days=3), NOW)
    _lines(text)
    events = _events(text)
    timeline = shifts(schedule, start, start + timedelta(days=3))
    assert [(e["DTSTART"].dt, e["DTEND"].dt) for e in events] == [
        (s.start, s.end) for s in timeline
    ]
    for event, shift in zip(events, timeline, strict=True):
        summary = f"On call: {shift.user} ({schedule_name})"
        # Control characters other than tab and newlines are dropped; the rest survives exactly.
        assert str(event["SUMMARY"]) == _unescape(escape_text(summary))
        assert str(event["UID"]) == event_uid(schedule_name, shift.user, shift.start)


def _unescape(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            out.append("\n" if nxt in "nN" else nxt)
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)
