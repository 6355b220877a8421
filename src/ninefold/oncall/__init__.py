"""On-call: rotations, schedules, overrides and their iCalendar export."""
