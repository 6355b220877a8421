"""Engine job: raise an alert for each heartbeat monitor past its deadline."""

from __future__ import annotations

from typing import Any

from ninefold.heartbeat import flows


def run_with_state(state: Any) -> int:
    """Check deadlines in one transaction, then push any queued pages; returns alerts raised."""
    with state.session_factory() as session, session.begin():
        raised, queued = flows.check(session, outlet=flows.Outlet.of(state), now=state.clock.now())
    runner = getattr(state, "engine_runner", None)
    if queued and runner is not None:
        runner.wake_delivery()
    return raised
