"""Periodic alert work: resolve Alertmanager-API alerts that stopped being re-sent."""

from __future__ import annotations

from typing import Any

from ninefold.alert import flows


def run_with_state(state: Any) -> int:
    """Engine entry point: expire alerts past their endsAt in one transaction."""
    with state.session_factory() as session, session.begin():
        return flows.expire(session, now=state.clock.now())
