"""Periodic SLO evaluation."""

from __future__ import annotations

from typing import Any


def run_with_state(state: Any) -> None:
    """Evaluate every SLO and record alert transitions (filled in by the SLO engine)."""
    return None
