"""Table tests of the pure incident lifecycle: transitions, corrections, public status, merge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ninefold.incident import lifecycle
from ninefold.incident.lifecycle import LifecycleError, Stamps

T = datetime(2026, 11, 1, 12, tzinfo=UTC)


def m(minutes: int) -> datetime:
    return T + timedelta(minutes=minutes)


OPEN = Stamps(m(0), m(1))
ACKED = Stamps(m(0), m(1), m(2))
MITIGATED = Stamps(m(0), m(1), m(2), m(3))
RESOLVED = Stamps(m(0), m(1), m(2), m(3), m(4))
STATES = {"open": OPEN, "acknowledged": ACKED, "mitigated": MITIGATED, "resolved": RESOLVED}

# (state, action, at) -> resulting stamps, or the start of the error message
TRANSITIONS: list[tuple[str, str, int, Stamps | str]] = [
    ("open", "acknowledge", 5, Stamps(m(0), m(1), m(5))),
    ("open", "mitigate", 5, Stamps(m(0), m(1), m(5), m(5))),
    ("open", "resolve", 5, Stamps(m(0), m(1), m(5), m(5), m(5))),
    ("open", "reopen", 5, "status: only a resolved"),
    ("open", "acknowledge", 0, "acknowledged_at: 2026-11-01T12:00:00+00:00 is before detected_at"),
    ("acknowledged", "acknowledge", 5, "acknowledged_at: already recorded"),
    ("acknowledged", "mitigate", 5, Stamps(m(0), m(1), m(2), m(5))),
    ("acknowledged", "resolve", 5, Stamps(m(0), m(1), m(2), m(5), m(5))),
    (
        "acknowledged",
        "mitigate",
        1,
        "mitigated_at: 2026-11-01T12:01:00+00:00 is before acknowledged_at",
    ),
    ("acknowledged", "reopen", 5, "status: only a resolved"),
    ("mitigated", "acknowledge", 5, "acknowledged_at: already recorded"),
    ("mitigated", "mitigate", 5, "mitigated_at: already recorded"),
    ("mitigated", "reopen", 5, "status: only a resolved"),
    ("mitigated", "resolve", 5, Stamps(m(0), m(1), m(2), m(3), m(5))),
    ("mitigated", "resolve", 3, Stamps(m(0), m(1), m(2), m(3), m(3))),
    ("mitigated", "resolve", 2, "resolved_at: 2026-11-01T12:02:00+00:00 is before mitigated_at"),
    ("resolved", "acknowledge", 5, "status: the incident is resolved; reopen"),
    ("resolved", "mitigate", 5, "status: the incident is resolved; reopen"),
    ("resolved", "resolve", 5, "status: the incident is resolved; reopen"),
    ("resolved", "reopen", 5, Stamps(m(0), m(1), m(2))),
    ("open", "escalate", 5, "action: unknown"),
]


@pytest.mark.parametrize(("state", "action", "at", "expected"), TRANSITIONS)
def test_transitions(state: str, action: str, at: int, expected: Stamps | str) -> None:
    stamps = STATES[state]
    assert lifecycle.status_of(stamps) == state
    if isinstance(expected, str):
        with pytest.raises(LifecycleError) as err:
            lifecycle.transition(stamps, action, m(at))
        assert str(err.value).startswith(expected), str(err.value)
    else:
        assert lifecycle.transition(stamps, action, m(at)) == expected


@pytest.mark.parametrize("action", lifecycle.ACTIONS)
def test_merged_incidents_refuse_every_action(action: str) -> None:
    with pytest.raises(LifecycleError, match=r"^status: the incident was merged"):
        lifecycle.transition(RESOLVED, action, m(9), merged=True)
    assert lifecycle.status_of(OPEN, merged=True) == "merged"


CORRECTIONS: list[tuple[Stamps, dict[str, datetime | None], Stamps | str]] = [
    (RESOLVED, {"started_at": m(-60)}, Stamps(m(-60), m(1), m(2), m(3), m(4))),
    (RESOLVED, {"detected_at": m(2)}, Stamps(m(0), m(2), m(2), m(3), m(4))),
    (
        RESOLVED,
        {"detected_at": m(3)},
        "acknowledged_at: 2026-11-01T12:02:00+00:00 is before detected_at",
    ),
    (RESOLVED, {"started_at": m(2)}, "detected_at: 2026-11-01T12:01:00+00:00 is before started_at"),
    (RESOLVED, {"resolved_at": None}, Stamps(m(0), m(1), m(2), m(3))),
    (RESOLVED, {"mitigated_at": None}, "resolved_at: cannot be set while mitigated_at is empty"),
    (RESOLVED, {"mitigated_at": None, "resolved_at": None}, Stamps(m(0), m(1), m(2))),
    (OPEN, {"mitigated_at": m(5)}, "mitigated_at: cannot be set while acknowledged_at is empty"),
    (OPEN, {"acknowledged_at": m(5), "mitigated_at": m(6)}, Stamps(m(0), m(1), m(5), m(6))),
    (OPEN, {"started_at": None}, "started_at: cannot be cleared"),
    (OPEN, {"detected_at": None}, "detected_at: cannot be cleared"),
    (OPEN, {"declared_at": m(0)}, "declared_at: not a lifecycle timestamp"),
    (
        MITIGATED,
        {"resolved_at": m(2)},
        "resolved_at: 2026-11-01T12:02:00+00:00 is before mitigated_at",
    ),
    (
        OPEN,
        {"acknowledged_at": datetime(2026, 11, 1, 13)},
        "acknowledged_at: must be timezone-aware",
    ),
]


@pytest.mark.parametrize(("stamps", "changes", "expected"), CORRECTIONS)
def test_corrections(
    stamps: Stamps, changes: dict[str, datetime | None], expected: Stamps | str
) -> None:
    if isinstance(expected, str):
        with pytest.raises(LifecycleError) as err:
            lifecycle.correct(stamps, changes)
        assert str(err.value).startswith(expected), str(err.value)
    else:
        assert lifecycle.correct(stamps, changes) == expected


PUBLIC: list[tuple[str, str, bool, str | None]] = [
    ("investigating", "identified", False, None),
    ("identified", "monitoring", False, None),
    ("monitoring", "investigating", False, None),
    ("investigating", "resolved", False, None),
    ("resolved", "resolved", True, None),
    ("resolved", "monitoring", True, "public_status: the incident is resolved; reopen"),
    ("investigating", "fixed", False, "public_status: unknown 'fixed'"),
]


@pytest.mark.parametrize(("current", "new", "resolved", "error"), PUBLIC)
def test_public_status(current: str, new: str, resolved: bool, error: str | None) -> None:
    if error is None:
        assert lifecycle.public_status_change(current, new, resolved=resolved) == new
    else:
        with pytest.raises(LifecycleError) as err:
            lifecycle.public_status_change(current, new, resolved=resolved)
        assert str(err.value).startswith(error)


@pytest.mark.parametrize(
    ("action", "current", "expected"),
    [
        ("resolve", "monitoring", "resolved"),
        ("reopen", "resolved", "investigating"),
        ("acknowledge", "identified", "identified"),
        ("mitigate", "identified", "identified"),
    ],
)
def test_public_status_after(action: str, current: str, expected: str) -> None:
    assert lifecycle.public_status_after(action, current) == expected


@pytest.mark.parametrize(
    ("source", "source_status", "target", "target_status", "error"),
    [
        (1, "open", 2, "resolved", None),
        (1, "resolved", 2, "open", None),
        (1, "open", 1, "open", "into: an incident cannot be merged into itself"),
        (1, "merged", 2, "open", "incident 1 was already merged"),
        (1, "open", 2, "merged", "into: incident 2 was merged"),
    ],
)
def test_merge_rules(
    source: int, source_status: str, target: int, target_status: str, error: str | None
) -> None:
    args = {
        "source_id": source,
        "source_status": source_status,
        "target_id": target,
        "target_status": target_status,
    }
    if error is None:
        lifecycle.check_merge(**args)  # type: ignore[arg-type]
    else:
        with pytest.raises(LifecycleError) as err:
            lifecycle.check_merge(**args)  # type: ignore[arg-type]
        assert str(err.value).startswith(error)


def test_every_state_and_action_is_in_the_table() -> None:
    covered = {(s, a) for s, a, _, _ in TRANSITIONS}
    assert {(s, a) for s in STATES for a in lifecycle.ACTIONS} <= covered
