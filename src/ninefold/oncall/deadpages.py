"""A page that could not be delivered escalates at once.

When an escalation's page to a person ends in the dead-letter list (its channel kept failing),
waiting out the level's delay would leave nobody reached; the escalation moves to its next level
now, and the failure is on the alert's record. The channel's own ``NotificationChannelFailing``
alert is raised separately (``notification.flows.channel_health_alerts``).
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy.orm import Session

from ninefold.oncall.models import EscalationRow

_KEY = re.compile(r"^esc-(\d+):(\d+):")


def escalate_after_dead_page(
    session: Session, *, idempotency_key: str, error: str | None, now: datetime, public_url: str
) -> bool:
    """If ``idempotency_key`` is an escalation page of the level now paging, page the next level
    at once; returns whether it did."""
    from ninefold.oncall.escalation import Position, exhausted
    from ninefold.oncall.flows import escalation_event, policy_of, step

    found = _KEY.match(idempotency_key)
    if found is None:
        return False
    esc = session.get(EscalationRow, int(found.group(1)))
    if esc is None or esc.status != "triggered" or esc.policy is None or esc.assignee:
        return False
    if int(esc.level_started_at.timestamp()) != int(found.group(2)):
        return False  # a page of an earlier round: that level is already behind us
    policy = policy_of(esc.policy)
    if exhausted(policy, Position(esc.level, esc.loop, esc.level_started_at)):
        return False  # nobody further to page
    delay = policy.levels[min(esc.level, len(policy.levels) - 1)].delay
    if esc.level_started_at + delay <= now:
        return False  # the next level is due anyway
    escalation_event(session, esc, "page_dead", now, {"key": idempotency_key, "error": error})
    # Pretend the level's delay has run out now: the next step enters the next level at ``now``.
    esc.level_started_at = now - delay
    esc.paged = []  # the people of this level were paged already: no second round for them
    step(session, esc, now=now, public_url=public_url)
    return True
