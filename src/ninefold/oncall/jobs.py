"""The pager tick: flush due alert groups and step due escalations, then push what was queued."""

from __future__ import annotations

from typing import Any

from ninefold.alert.dispatch import default_routing, flush_due
from ninefold.db.engine import write_lock
from ninefold.oncall.flows import step_due


def run_with_state(state: Any) -> int:
    """Engine entry point: one tick in one transaction; returns notifications queued."""
    routing = state.routing or default_routing()
    public_url = state.settings.public_url
    with write_lock(state.engine), state.session_factory() as session, session.begin():
        now = state.clock.now()
        queued = flush_due(session, routing=routing, now=now, public_url=public_url)
        queued += step_due(session, now=now, public_url=public_url)
    runner = getattr(state, "engine_runner", None)
    if queued and runner is not None:
        runner.wake_delivery()
    return queued
