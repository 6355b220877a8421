"""The incident lifecycle as pure rules over named timestamps.

Five timestamps, each recorded once and correctable, always ordered::

    started ≤ detected ≤ acknowledged ≤ mitigated ≤ resolved

``started`` (impact began, may lie in the past) and ``detected`` are set when the incident is
declared. ``acknowledge``, ``mitigate`` and ``resolve`` record the others; a later one fills in
the earlier ones left empty (resolving an unmitigated incident mitigates it at the same moment).
``reopen`` clears ``mitigated`` and ``resolved``: impact is back. A stamp may only be set while
every stamp before it is. The status is derived from the stamps; ``merged`` is final.

Public status (what stakeholders see) moves freely among investigating, identified and
monitoring; ``resolved`` is reached by resolving, and a resolved incident leaves it only by
reopening.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

STAMPS = ("started_at", "detected_at", "acknowledged_at", "mitigated_at", "resolved_at")
"""The named timestamps, in the order they must keep."""

STATUSES = ("open", "acknowledged", "mitigated", "resolved", "merged")
PUBLIC_STATUSES = ("investigating", "identified", "monitoring", "resolved")
ACTIONS = ("acknowledge", "mitigate", "resolve", "reopen")

Action = Literal["acknowledge", "mitigate", "resolve", "reopen"]
PublicStatus = Literal["investigating", "identified", "monitoring", "resolved"]


class LifecycleError(ValueError):
    """A transition or correction that breaks the lifecycle rules; the message names the field."""


@dataclass(frozen=True, slots=True)
class Stamps:
    """The named timestamps of one incident."""

    started_at: datetime
    detected_at: datetime
    acknowledged_at: datetime | None = None
    mitigated_at: datetime | None = None
    resolved_at: datetime | None = None

    def values(self) -> tuple[datetime | None, ...]:
        """The five stamps in lifecycle order."""
        return tuple(getattr(self, name) for name in STAMPS)


def status_of(stamps: Stamps, *, merged: bool = False) -> str:
    """The status the stamps say: open, acknowledged, mitigated, resolved (or merged)."""
    if merged:
        return "merged"
    if stamps.resolved_at is not None:
        return "resolved"
    if stamps.mitigated_at is not None:
        return "mitigated"
    if stamps.acknowledged_at is not None:
        return "acknowledged"
    return "open"


def check(stamps: Stamps) -> Stamps:
    """Raise unless no stamp is set after an empty one and the set ones are ordered."""
    previous: tuple[str, datetime] | None = None
    gap: str | None = None
    for name, value in zip(STAMPS, stamps.values(), strict=True):
        if value is None:
            gap = gap or name
            continue
        if value.tzinfo is None:
            raise LifecycleError(f"{name}: must be timezone-aware")
        if gap is not None:
            raise LifecycleError(f"{name}: cannot be set while {gap} is empty")
        if previous is not None and value < previous[1]:
            raise LifecycleError(
                f"{name}: {value.isoformat()} is before {previous[0]} ({previous[1].isoformat()})"
            )
        previous = (name, value)
    return stamps


def transition(stamps: Stamps, action: str, at: datetime, *, merged: bool = False) -> Stamps:
    """The stamps after ``action`` at ``at``, or LifecycleError naming what is wrong."""
    if merged:
        raise LifecycleError("status: the incident was merged into another; act on that one")
    status = status_of(stamps)
    if action == "reopen":
        if status != "resolved":
            raise LifecycleError(
                f"status: only a resolved incident can be reopened (it is {status})"
            )
        return replace(stamps, mitigated_at=None, resolved_at=None)
    if action not in ACTIONS:
        raise LifecycleError(f"action: unknown {action!r}; one of {', '.join(ACTIONS)}")
    if status == "resolved":
        raise LifecycleError(f"status: the incident is resolved; reopen it before you {action} it")
    field = {"acknowledge": "acknowledged_at", "mitigate": "mitigated_at"}.get(
        action, "resolved_at"
    )
    if getattr(stamps, field) is not None:
        raise LifecycleError(
            f"{field}: already recorded ({getattr(stamps, field).isoformat()}); "
            "correct it instead of recording it again"
        )
    changes: dict[str, datetime] = {field: at}
    for earlier in STAMPS[2 : STAMPS.index(field)]:
        if getattr(stamps, earlier) is None:
            changes[earlier] = at
    return check(replace(stamps, **changes))


def correct(stamps: Stamps, changes: Mapping[str, datetime | None]) -> Stamps:
    """The stamps with ``changes`` applied (``None`` clears a stamp), checked for order."""
    for name, value in changes.items():
        if name not in STAMPS:
            raise LifecycleError(f"{name}: not a lifecycle timestamp; one of {', '.join(STAMPS)}")
        if value is None and name in ("started_at", "detected_at"):
            raise LifecycleError(f"{name}: cannot be cleared")
    return check(replace(stamps, **dict(changes)))  # type: ignore[arg-type]


def public_status_change(current: str, new: str, *, resolved: bool) -> str:
    """Check a move of the public status; returns ``new``. Resolving is the flow's business."""
    if new not in PUBLIC_STATUSES:
        raise LifecycleError(f"public_status: unknown {new!r}; one of {', '.join(PUBLIC_STATUSES)}")
    if resolved and new != "resolved":
        raise LifecycleError(
            f"public_status: the incident is resolved; reopen it before setting {new!r}"
        )
    return new


def public_status_after(action: str, current: str) -> str:
    """The public status an action leaves: resolve → resolved, reopen → investigating."""
    if action == "resolve":
        return "resolved"
    if action == "reopen":
        return "investigating"
    return current


def check_merge(*, source_id: int, source_status: str, target_id: int, target_status: str) -> None:
    """Raise unless the incident ``source_id`` may be merged into ``target_id``."""
    if source_id == target_id:
        raise LifecycleError("into: an incident cannot be merged into itself")
    if source_status == "merged":
        raise LifecycleError(f"incident {source_id} was already merged")
    if target_status == "merged":
        raise LifecycleError(f"into: incident {target_id} was merged; merge into its survivor")
