"""Periodic postmortem work: draft the postmortems policy requires for recently resolved
incidents, link possible repeats of active incidents, and send overdue action-item reminders.

Not registered anywhere by itself; the engine runner calls ``run_with_state``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ninefold.db.engine import write_lock
from ninefold.postmortem import action_flows, flows
from ninefold.postmortem.policy import PostmortemPolicy


def run(
    session: Session,
    now: datetime,
    *,
    policy: PostmortemPolicy | None = None,
    reminder_channel: str | None = None,
) -> dict[str, int]:
    """One idempotent pass in the caller's transaction; returns what it did."""
    return {
        "postmortems": flows.ensure_postmortems(session, now, policy=policy),
        "repeats": flows.link_repeats_open(session, now=now),
        "reminders": action_flows.send_overdue_reminders(session, now, channel=reminder_channel),
    }


def run_with_state(state: Any) -> dict[str, int]:
    """Engine entry point: one pass in one transaction; wakes delivery when reminders were queued."""
    from ninefold.postmortem.wiring import policy_from_settings

    settings = state.settings
    with write_lock(state.engine), state.session_factory() as session, session.begin():
        done = run(
            session,
            state.clock.now(),
            policy=policy_from_settings(settings),
            reminder_channel=settings.action_item_reminder_channel,
        )
    runner = getattr(state, "engine_runner", None)
    if done["reminders"] and runner is not None:
        runner.wake_delivery()
    return done
