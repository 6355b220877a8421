"""On-time closure rate of action items (pure).

on-time closure rate = items due in the period that were closed (done or won't do) on or
before their due date ÷ items due in the period.

"Due in the period" means ``start ≤ due_date ≤ end`` (dates, both ends included). An item
counts as closed on time when its status is ``done`` or ``wont_do`` and the UTC date it was
closed is not after its due date; an item closed late, or still open, counts only in the
denominator. No item due in the period: the rate is ``None`` (no data), never 0 or 100 %.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from ninefold.postmortem.states import CLOSED_ITEM_STATUSES


@dataclass(frozen=True, slots=True)
class ItemDates:
    """What the formula reads of one action item."""

    due_date: date | None
    status: str
    closed_at: datetime | None


@dataclass(frozen=True, slots=True)
class ClosureStats:
    """Counts behind the rate, and the rate (None without items due)."""

    due: int
    closed_on_time: int
    closed_late: int
    still_open: int
    rate: float | None


def on_time(item: ItemDates) -> bool:
    """Whether the item was closed on or before its due date."""
    if item.due_date is None or item.status not in CLOSED_ITEM_STATUSES or item.closed_at is None:
        return False
    return item.closed_at.astimezone(UTC).date() <= item.due_date


def closure_stats(items: Iterable[ItemDates], *, start: date, end: date) -> ClosureStats:
    """The on-time closure rate of the items due in [start, end] (see the module docstring)."""
    due = on = late = still = 0
    for item in items:
        if item.due_date is None or not start <= item.due_date <= end:
            continue
        due += 1
        if on_time(item):
            on += 1
        elif item.status in CLOSED_ITEM_STATUSES:
            late += 1
        else:
            still += 1
    return ClosureStats(due, on, late, still, on / due if due else None)
