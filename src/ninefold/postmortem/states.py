"""Postmortem states and action-item vocabularies (pure).

A postmortem moves draft → in_review → published; a review may send it back to draft.
Published is final: its sections no longer change.
"""

from __future__ import annotations

from typing import Literal

PostmortemStatus = Literal["draft", "in_review", "published"]
POSTMORTEM_STATUSES: tuple[PostmortemStatus, ...] = ("draft", "in_review", "published")
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "draft": ("in_review",),
    "in_review": ("draft", "published"),
    "published": (),
}
EDITABLE = ("draft", "in_review")

ItemStatus = Literal["open", "in_progress", "done", "wont_do"]
ITEM_STATUSES: tuple[ItemStatus, ...] = ("open", "in_progress", "done", "wont_do")
OPEN_ITEM_STATUSES = ("open", "in_progress")
CLOSED_ITEM_STATUSES = ("done", "wont_do")

Priority = Literal["P1", "P2", "P3", "P4"]
PRIORITIES: tuple[Priority, ...] = ("P1", "P2", "P3", "P4")
_PRIORITY_WORDS = {"high": "P2", "medium": "P3", "low": "P4", "critical": "P1"}


class StateError(ValueError):
    """A transition the rules do not allow; the message says which ones are."""


def check_transition(current: str, new: str) -> str:
    """Return ``new`` if a postmortem may move from ``current`` to it, else raise StateError."""
    if new not in POSTMORTEM_STATUSES:
        raise StateError(f"status: unknown {new!r}; one of {', '.join(POSTMORTEM_STATUSES)}")
    allowed = TRANSITIONS[current]
    if new not in allowed:
        hint = f"; from {current} only to {', '.join(allowed)}" if allowed else " (it is final)"
        raise StateError(f"status: a {current} postmortem cannot move to {new}{hint}")
    return new


def normalise_priority(value: str) -> str:
    """``P1``–``P4``, also accepting critical/high/medium/low (→ P1/P2/P3/P4)."""
    v = value.strip()
    if v.upper() in PRIORITIES:
        return v.upper()
    if v.lower() in _PRIORITY_WORDS:
        return _PRIORITY_WORDS[v.lower()]
    raise StateError(f"priority: unknown {value!r}; one of P1–P4 or critical/high/medium/low")
