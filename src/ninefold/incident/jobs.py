"""Periodic incident work: bring the timelines of active incidents up to date (pages, acks,
SLO burn alerts and deploys on their services)."""

from __future__ import annotations

from typing import Any

from ninefold.db.engine import write_lock
from ninefold.incident import flows


def run_with_state(state: Any) -> int:
    """Engine entry point: one sync of every active incident in one transaction."""
    with write_lock(state.engine), state.session_factory() as session, session.begin():
        return flows.sync_open(session, now=state.clock.now())
