"""iCalendar (RFC 5545) export of on-call shifts, as plain text (pure: ``now`` is passed in).

One VEVENT per resolved shift. Times are written in UTC (``19970714T173000Z``, truncated to whole
seconds); lines end in CRLF and are folded at 75 octets without splitting a UTF-8 character; TEXT
values escape backslash, semicolon, comma and newlines. A UID is stable for a given schedule, user
and shift start, so calendar clients update events instead of duplicating them on each refresh.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from ninefold.core.clock import ensure_utc
from ninefold.oncall.rotation import Schedule, Shift, shifts

PRODID = "-//ninefold//on-call schedules//EN"
UID_DOMAIN = "ninefold"
MAX_OCTETS = 75


@dataclass(frozen=True)
class CalendarEvent:
    """One on-call shift of ``schedule`` ready to be written as a VEVENT."""

    schedule: str
    shift: Shift


def escape_text(value: str) -> str:
    """Escape a TEXT value: backslash, semicolon, comma and newlines; drop other control characters."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    out: list[str] = []
    for char in value:
        if char in "\\;,":
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t" or (ord(char) >= 0x20 and ord(char) != 0x7F):
            out.append(char)
    return "".join(out)


def fold(line: str) -> str:
    """Fold one content line into CRLF-joined pieces of at most 75 octets (RFC 5545 §3.1)."""
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > MAX_OCTETS:
            pieces.append("".join(current))
            current, size = [" "], 1  # a continuation line starts with one space
        current.append(char)
        size += width
    pieces.append("".join(current))
    return "\r\n".join(pieces)


def format_utc(value: datetime) -> str:
    """Format an instant as an RFC 5545 UTC DATE-TIME (``20261025T010000Z``)."""
    return ensure_utc(value).strftime("%Y%m%dT%H%M%SZ")


def event_uid(schedule: str, user: str, start: datetime) -> str:
    """Return the stable UID of a shift: a digest of schedule, user and start."""
    key = "\x00".join((schedule, user, format_utc(start)))
    return f"{hashlib.sha256(key.encode('utf-8')).hexdigest()[:32]}@{UID_DOMAIN}"


def _event_lines(event: CalendarEvent, stamp: str) -> list[str]:
    shift = event.shift
    source = "override" if shift.is_override else f"layer {shift.label}"
    summary = f"On call: {shift.user} ({event.schedule})"
    description = f"Schedule: {event.schedule}\nVia: {source}"
    return [
        "BEGIN:VEVENT",
        f"UID:{event_uid(event.schedule, shift.user, shift.start)}",
        f"DTSTAMP:{stamp}",
        f"DTSTART:{format_utc(shift.start)}",
        f"DTEND:{format_utc(shift.end)}",
        f"SUMMARY:{escape_text(summary)}",
        f"DESCRIPTION:{escape_text(description)}",
        "TRANSP:TRANSPARENT",
        "END:VEVENT",
    ]


def render(events: Iterable[CalendarEvent], now: datetime, name: str) -> str:
    """Return a VCALENDAR named ``name`` holding ``events``, stamped with ``now``."""
    stamp = format_utc(now)
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"NAME:{escape_text(name)}",
        f"X-WR-CALNAME:{escape_text(name)}",
    ]
    for event in sorted(events, key=lambda e: (e.shift.start, e.schedule, e.shift.user)):
        if format_utc(event.shift.start) < format_utc(event.shift.end):
            lines.extend(_event_lines(event, stamp))
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)


def schedule_calendar(schedule: Schedule, start: datetime, end: datetime, now: datetime) -> str:
    """Return the iCalendar text of ``schedule``'s resolved shifts within [start, end)."""
    events = [CalendarEvent(schedule.name, s) for s in shifts(schedule, start, end)]
    return render(events, now, f"On call: {schedule.name}")


def user_calendar(
    user: str, schedules: Sequence[Schedule], start: datetime, end: datetime, now: datetime
) -> str:
    """Return the iCalendar text of ``user``'s shifts within [start, end) across ``schedules``."""
    events = [
        CalendarEvent(schedule.name, s)
        for schedule in schedules
        for s in shifts(schedule, start, end)
        if s.user == user
    ]
    return render(events, now, f"On call: {user}")
