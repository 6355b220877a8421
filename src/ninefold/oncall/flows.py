"""On-call use cases: who is on call, and running escalations of alert groups.

An escalation starts when a group's flush brings new firing alerts and its receiver names an
escalation policy. Each level pages its targets (users, whoever a schedule has on call at that
moment, every member of a team); each paged person is reached through their personal
notification rules, each rule at its own delay. Pages are outbox notifications keyed by
escalation, page round, person and rule, so a tick that runs twice queues nothing twice.
Acknowledging any alert of the group stops the escalation; when nothing in the group fires any
more it is resolved; snooze pages the current level again later; reassign pages one person now.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from ninefold.alert import store as alert_store
from ninefold.alert.models import Alert, AlertEvent, AlertGroup
from ninefold.errors import InvalidInput, NotFound
from ninefold.identity import guard
from ninefold.integrations.notify.message import Notification, NotificationKind
from ninefold.oncall import store
from ninefold.oncall.escalation import (
    Level,
    Policy,
    Position,
    Target,
    advance,
    next_level_at,
    parse_policy,
)
from ninefold.oncall.models import (
    EscalationPolicyRow,
    EscalationRow,
    NotificationRuleRow,
    OverrideRow,
    ScheduleRow,
)
from ninefold.oncall.rotation import Schedule, on_call_at
from ninefold.oncall.spec import to_schedule

log = logging.getLogger("ninefold.oncall")


def schedule_of(row: ScheduleRow) -> Schedule:
    """The calculator's view of a stored schedule."""
    return to_schedule(
        row.name,
        row.time_zone,
        row.layers,
        [(o.user_name, o.starts_at, o.ends_at) for o in row.overrides],
    )


def on_call(session: Session, *, schedule: str, at: datetime) -> list[str]:
    """Who is on call on ``schedule`` at ``at``."""
    return on_call_at(schedule_of(store.get_schedule(session, name=schedule)), at)


def policy_of(row: EscalationPolicyRow) -> Policy:
    """The calculator's view of a stored policy."""
    return parse_policy(row.name, row.levels, row.repeat)


def resolve_targets(session: Session, targets: tuple[Target, ...], at: datetime) -> list[str]:
    """The people a level's targets page at ``at``, each once, in target order."""
    out: list[str] = []
    for target in targets:
        if target.kind == "user":
            names = [target.name]
        elif target.kind == "schedule":
            try:
                names = on_call(session, schedule=target.name, at=at)
            except NotFound:
                log.error("escalation target schedule %r does not exist", target.name)
                names = []
        else:
            names = store.team_member_names(session, team=target.name)
        out.extend(n for n in names if n not in out)
    return out


def _policy_for(session: Session, name: str, alert: Alert) -> EscalationPolicyRow | None:
    from ninefold.alert.dispatch import OWNER

    if name != OWNER:
        try:
            return store.get_policy(session, name=name)
        except NotFound:
            log.error("escalation policy %r does not exist", name)
            return None
    service = alert.service
    if service is None or service.owner_team_id is None:
        return None
    return store.team_policy(session, team_id=service.owner_team_id)


def start_escalation(
    session: Session,
    *,
    group: AlertGroup,
    policy: str,
    first: Alert,
    now: datetime,
    public_url: str,
) -> int:
    """Start escalating ``group`` through ``policy`` unless it already escalates; returns pages."""
    if store.open_escalation(session, group_id=group.id) is not None:
        return 0
    row = _policy_for(session, policy, first)
    if row is None:
        return 0
    esc = EscalationRow(
        group_id=group.id,
        policy_id=row.id,
        status="triggered",
        level=0,
        loop=0,
        level_started_at=now,
        next_step_at=now,
        paged=[],
        created_at=now,
    )
    session.add(esc)
    session.flush()
    alert_store.add_event(
        session,
        alert=first,
        kind="escalation_started",
        at=now,
        details={"escalation": esc.id, "policy": row.name},
    )
    return step(session, esc, now=now, public_url=public_url)


def _level(policy: Policy, esc: EscalationRow) -> Level:
    return policy.levels[min(esc.level, len(policy.levels) - 1)]


def step(session: Session, esc: EscalationRow, *, now: datetime, public_url: str) -> int:
    """Bring ``esc`` up to ``now``: enter due levels, send due personal rules; returns pages."""
    if esc.status in ("acknowledged", "resolved"):
        return 0
    if esc.status == "snoozed":
        if esc.next_step_at is not None and esc.next_step_at > now:
            return 0
        esc.status = "triggered"
        esc.level_started_at = now
        esc.paged = []
    policy = policy_of(esc.policy) if esc.policy is not None else None
    queued = 0
    if policy is not None and esc.assignee is None:
        pos = Position(esc.level, esc.loop, esc.level_started_at)
        for entered in advance(policy, pos, now):
            # rules of the level being left that fell due before it was left (a late tick)
            queued += _page_level(
                session, esc, now=min(now, entered.started_at), public_url=public_url
            )
            esc.level, esc.loop, esc.level_started_at = (
                entered.level,
                entered.loop,
                entered.started_at,
            )
            esc.paged = []
            escalation_event(session, esc, "escalated", now, {"level": esc.level, "loop": esc.loop})
    if not esc.paged:
        targets = (
            (Target("user", esc.assignee),)
            if esc.assignee is not None
            else (_level(policy, esc).targets if policy is not None else ())
        )
        esc.paged = resolve_targets(session, targets, esc.level_started_at)
        if not esc.paged:
            escalation_event(session, esc, "nobody_to_page", now, {"level": esc.level})
    queued += _page_level(session, esc, now=now, public_url=public_url)
    nexts = [_next_rule_at(session, esc, now)]
    if policy is not None and esc.assignee is None:
        nexts.append(next_level_at(policy, Position(esc.level, esc.loop, esc.level_started_at)))
    found = [t for t in nexts if t is not None]
    esc.next_step_at = min(found) if found else None
    return queued


def _next_rule_at(session: Session, esc: EscalationRow, now: datetime) -> datetime | None:
    rules = store.rules_by_user(session, names=esc.paged)
    later = [
        esc.level_started_at + timedelta(seconds=r.delay_seconds)
        for rs in rules.values()
        for r in rs
        if esc.level_started_at + timedelta(seconds=r.delay_seconds) > now
    ]
    return min(later) if later else None


def _page_level(session: Session, esc: EscalationRow, *, now: datetime, public_url: str) -> int:
    """Queue every personal rule of the paged people due by ``now``; returns how many."""
    from ninefold.alert.dispatch import group_notification
    from ninefold.notification import store as outbox_store
    from ninefold.notification.flows import enqueue

    if not esc.paged:
        return 0
    group = session.get(AlertGroup, esc.group_id)
    assert group is not None
    round_ = int(esc.level_started_at.timestamp())
    queued = 0
    for user, rules in store.rules_by_user(session, names=esc.paged).items():
        if not rules:
            continue
        for rule in rules:
            if esc.level_started_at + timedelta(seconds=rule.delay_seconds) > now:
                continue
            key = f"esc-{esc.id}:{round_}:{user}:{rule.id}"
            if outbox_store.item_by_key(session, idempotency_key=key) is not None:
                continue
            note = group_notification(
                session, group, kind=NotificationKind.PAGE, key=key, public_url=public_url, now=now
            )
            try:
                enqueue(session, channel=rule.channel, notification=note, now=now)
            except NotFound as exc:
                escalation_event(
                    session, esc, "page_failed", now, {"user": user, "error": exc.message}
                )
                continue
            queued += 1
            escalation_event(
                session,
                esc,
                "paged",
                now,
                {"user": user, "channel": rule.channel, "level": esc.level, "loop": esc.loop},
            )
    return queued


def escalation_event(
    session: Session, esc: EscalationRow, kind: str, now: datetime, details: dict[str, Any]
) -> None:
    first = alert_store.first_alert_id(session, group_id=esc.group_id)
    if first is not None:
        session.add(
            AlertEvent(
                alert_id=first,
                kind=kind,
                at=now,
                actor=None,
                details={"escalation": esc.id, **details},
            )
        )


def step_due(session: Session, *, now: datetime, public_url: str) -> int:
    """Step every escalation whose next step is due (the engine's pager tick)."""
    queued = 0
    for esc in store.due_escalations(session, now=now):
        queued += step(session, esc, now=now, public_url=public_url)
    return queued


def end_escalation(session: Session, *, group_id: int, now: datetime) -> None:
    """Nothing in the group fires any more: resolve its escalation."""
    esc = store.open_escalation(session, group_id=group_id)
    if esc is not None:
        esc.status = "resolved"
        esc.resolved_at = now
        esc.next_step_at = None
        escalation_event(session, esc, "escalation_resolved", now, {})


def acknowledge_alert(session: Session, *, alert_id: int, actor: str, now: datetime) -> None:
    """An alert was acknowledged: stop the escalations of every group holding it."""
    groups = alert_store.groups_of_alert(session, alert_id=alert_id)
    for esc in store.escalations_of_groups(session, group_ids=[g.id for g in groups]):
        if esc.status in ("triggered", "snoozed"):
            esc.status = "acknowledged"
            esc.acknowledged_at = now
            esc.acknowledged_by = actor
            esc.next_step_at = None
            escalation_event(session, esc, "escalation_acknowledged", now, {"by": actor})


def snooze_alert(
    session: Session, *, alert_id: int, until: datetime, actor: str, now: datetime
) -> list[EscalationRow]:
    """Snooze the escalations holding an alert: page the current level again at ``until``."""
    if until <= now:
        raise InvalidInput("snooze: until must be in the future")
    groups = alert_store.groups_of_alert(session, alert_id=alert_id)
    escs = store.escalations_of_groups(session, group_ids=[g.id for g in groups])
    for esc in escs:
        esc.status = "snoozed"
        esc.next_step_at = until
        escalation_event(session, esc, "snoozed", now, {"until": until.isoformat(), "by": actor})
    return escs


def reassign_alert(
    session: Session, *, alert_id: int, user: str, actor: str, now: datetime, public_url: str
) -> int:
    """Reassign the escalations holding an alert to ``user``, who is paged now."""
    guard.check_alert(session, alert_store.get_alert(session, alert_id=alert_id))
    store.user_by_name(session, name=user)  # NotFound for an unknown user
    groups = alert_store.groups_of_alert(session, alert_id=alert_id)
    escs = store.escalations_of_groups(session, group_ids=[g.id for g in groups])
    if not escs:
        raise InvalidInput(f"alert {alert_id} has no open escalation to reassign")
    queued = 0
    for esc in escs:
        esc.assignee = user
        esc.status = "triggered"
        esc.level_started_at = now
        esc.paged = []
        esc.acknowledged_at = None
        esc.acknowledged_by = None
        escalation_event(session, esc, "reassigned", now, {"to": user, "by": actor})
        queued += step(session, esc, now=now, public_url=public_url)
    return queued


def page_user(
    session: Session, *, user: str, notification: Notification, key_prefix: str, now: datetime
) -> list[str]:
    """Page ``user`` now, outside any escalation: one outbox notification per personal rule due at
    once (delay 0), keyed ``{key_prefix}:{user}:{rule id}``; returns the channels queued.

    Rules with a later delay are not scheduled: without an escalation row nothing would carry
    them, and the person was reached by the immediate ones (incidents page this way).
    """
    from dataclasses import replace

    from ninefold.notification.flows import enqueue

    store.user_by_name(session, name=user)  # NotFound for an unknown user
    queued: list[str] = []
    for rule in store.rules_by_user(session, names=[user])[user]:
        if rule.delay_seconds > 0:
            continue
        note = replace(notification, idempotency_key=f"{key_prefix}:{user}:{rule.id}")
        try:
            enqueue(session, channel=rule.channel, notification=note, now=now)
        except NotFound:
            log.error("notification rule of %s names unknown channel %r", user, rule.channel)
            continue
        queued.append(rule.channel)
    return queued


# --- writes: schedules, overrides, policies, rules ------------------------------------------


def _check_users(session: Session, names: set[str], where: str) -> None:
    missing = sorted(names - store.user_names(session))
    if missing:
        raise InvalidInput(f"{where}: unknown user(s) {', '.join(missing)}")


def _team_id(session: Session, team: str | None) -> int | None:
    return None if team is None else store.team_by_name(session, name=team).id


def put_schedule(
    session: Session,
    *,
    name: str,
    layers: list[dict[str, Any]],
    time_zone: str,
    team: str | None,
    description: str | None,
    now: datetime,
    managed: bool = False,
) -> ScheduleRow:
    """Create or replace a schedule's layers; InvalidInput names the bad field."""
    from ninefold.oncall.spec import check_zone, parse_layers, users_in_layers

    try:
        check_zone(time_zone)
        parse_layers(layers, time_zone)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    _check_users(session, users_in_layers(layers), "layers")
    team_id = _team_id(session, team)
    guard.check_team(session, kind="schedule", name=name, team_id=team_id, needed="admin")
    try:
        row = store.get_schedule(session, name=name)
        check_schedule(session, row)
    except NotFound:
        row = ScheduleRow(name=name, created_at=now, layers=[])
        session.add(row)
    row.layers = _jsonable(layers)
    row.time_zone = time_zone
    row.team_id = team_id
    row.description = description
    row.managed = managed
    row.updated_at = now
    session.flush()
    return row


def check_schedule(session: Session, row: ScheduleRow, *, needed: str = "admin") -> None:
    """Team guard for changing (``admin``) or overriding (``responder``) a schedule."""
    guard.check_team(session, kind="schedule", name=row.name, team_id=row.team_id, needed=needed)


def check_policy(session: Session, row: EscalationPolicyRow) -> None:
    """Team guard for replacing or deleting an escalation policy."""
    guard.check_team(
        session, kind="escalation policy", name=row.name, team_id=row.team_id, needed="admin"
    )


def _jsonable(value: Any) -> Any:
    """YAML gives datetimes and times; store them as ISO text."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def add_override(
    session: Session,
    *,
    schedule: str,
    user: str,
    start: datetime,
    end: datetime,
    actor: str,
    now: datetime,
) -> OverrideRow:
    """``user`` takes ``schedule`` over [start, end)."""
    from ninefold.clock_utils import aware

    row = store.get_schedule(session, name=schedule)
    check_schedule(session, row, needed="responder")
    start, end = aware(start), aware(end)
    if end <= start:
        raise InvalidInput("end: must be after start")
    if end <= now:
        raise InvalidInput("end: the override would be over already")
    _check_users(session, {user}, "user")
    override = OverrideRow(
        schedule_id=row.id,
        user_name=user,
        starts_at=start,
        ends_at=end,
        created_by=actor,
        created_at=now,
    )
    row.overrides.append(override)
    session.flush()
    return override


def put_policy(
    session: Session,
    *,
    name: str,
    levels: list[dict[str, Any]],
    repeat: int,
    team: str | None,
    description: str | None,
    now: datetime,
    managed: bool = False,
) -> EscalationPolicyRow:
    """Create or replace an escalation policy; targets must exist."""
    try:
        policy = parse_policy(name, levels, repeat)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    for i, level in enumerate(policy.levels):
        for target in level.targets:
            where = f"levels[{i}].targets: {target.kind} {target.name!r}"
            if target.kind == "user":
                _check_users(session, {target.name}, f"levels[{i}].targets")
            elif target.kind == "team":
                try:
                    store.team_by_name(session, name=target.name)
                except NotFound:
                    raise InvalidInput(f"{where} does not exist") from None
            else:
                try:
                    store.get_schedule(session, name=target.name)
                except NotFound:
                    raise InvalidInput(f"{where} does not exist") from None
    team_id = _team_id(session, team)
    guard.check_team(session, kind="escalation policy", name=name, team_id=team_id, needed="admin")
    try:
        row = store.get_policy(session, name=name)
        check_policy(session, row)
    except NotFound:
        row = EscalationPolicyRow(name=name, created_at=now, levels=[])
        session.add(row)
    row.levels = _jsonable(levels)
    row.repeat = repeat
    row.team_id = team_id
    row.description = description
    row.managed = managed
    row.updated_at = now
    session.flush()
    return row


def put_rules(
    session: Session,
    *,
    user: str,
    rules: list[dict[str, Any]],
    now: datetime,
    managed: bool = False,
) -> list[NotificationRuleRow]:
    """Replace a user's personal notification rules; channels must exist."""
    from ninefold.notification import store as channel_store
    from ninefold.oncall.escalation import parse_rules

    person = store.user_by_name(session, name=user)
    try:
        parsed = parse_rules(rules)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    for i, rule in enumerate(parsed):
        try:
            channel_store.get_channel(session, name=rule.channel)
        except NotFound:
            raise InvalidInput(f"rules[{i}].channel: no channel {rule.channel!r}") from None
    for old in store.rules_of(session, user_id=person.id):
        session.delete(old)
    session.flush()
    rows = [
        NotificationRuleRow(
            user_id=person.id,
            position=i,
            delay_seconds=int(rule.delay.total_seconds()),
            channel=rule.channel,
            managed=managed,
            created_at=now,
        )
        for i, rule in enumerate(parsed)
    ]
    session.add_all(rows)
    session.flush()
    return rows
