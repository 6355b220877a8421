"""On-call endpoints: schedules, overrides, who is on call, iCalendar, escalation policies,
personal notification rules, escalations, and snooze/reassign of alerts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from ninefold.alert import flows as alert_flows
from ninefold.alert import store as alert_store
from ninefold.alert.api import alert_read
from ninefold.alert.schemas import AlertRead
from ninefold.clock_utils import aware
from ninefold.deps import (
    Admin,
    ClockDep,
    Responder,
    SessionDep,
    SettingsDep,
    TeamAdmin,
    Viewer,
)
from ninefold.errors import InvalidInput
from ninefold.oncall import flows, ical, store
from ninefold.oncall.models import EscalationPolicyRow, EscalationRow, OverrideRow, ScheduleRow
from ninefold.oncall.rotation import next_shifts, on_call_at, shifts
from ninefold.oncall.schemas import (
    EscalationRead,
    OnCallRead,
    OverrideRead,
    OverrideWrite,
    PolicyRead,
    PolicyWrite,
    ReassignRequest,
    RuleRead,
    RuleWrite,
    ScheduleRead,
    ScheduleWrite,
    ShiftRead,
    SnoozeRequest,
)

router = APIRouter(tags=["on-call"])

MAX_RANGE = timedelta(days=366)


def _override_read(o: OverrideRow) -> OverrideRead:
    return OverrideRead(
        id=o.id,
        user=o.user_name,
        start=o.starts_at,
        end=o.ends_at,
        created_by=o.created_by,
        created_at=o.created_at,
    )


def _schedule_read(row: ScheduleRow, at: datetime) -> ScheduleRead:
    return ScheduleRead(
        name=row.name,
        description=row.description,
        team=row.team.name if row.team else None,
        time_zone=row.time_zone,
        layers=row.layers,
        overrides=[_override_read(o) for o in row.overrides if o.ends_at > at],
        on_call_now=on_call_at(flows.schedule_of(row), at),
    )


def _at(at: datetime | None, clock: ClockDep) -> datetime:
    return aware(at) if at is not None else clock.now()


def _range(
    start: datetime | None, end: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    lo = aware(start) if start is not None else now
    hi = aware(end) if end is not None else lo + timedelta(days=14)
    if hi <= lo:
        raise InvalidInput("end: must be after start")
    if hi - lo > MAX_RANGE:
        raise InvalidInput("end: at most 366 days after start")
    return lo, hi


@router.get("/schedules")
def list_schedules(_: Viewer, session: SessionDep, clock: ClockDep) -> list[ScheduleRead]:
    """Every schedule with who is on call now."""
    now = clock.now()
    return [_schedule_read(r, now) for r in store.list_schedules(session)]


@router.put("/schedules/{name}")
def put_schedule(
    name: str, body: ScheduleWrite, _: TeamAdmin, session: SessionDep, clock: ClockDep
) -> ScheduleRead:
    """Create or replace a schedule (layers in order: later layers win)."""
    now = clock.now()
    row = flows.put_schedule(
        session,
        name=name,
        layers=body.layers,
        time_zone=body.time_zone,
        team=body.team,
        description=body.description,
        now=now,
    )
    session.refresh(row)
    return _schedule_read(row, now)


@router.get("/schedules/{name}")
def get_schedule(
    name: str,
    _: Viewer,
    session: SessionDep,
    clock: ClockDep,
    at: Annotated[datetime | None, Query()] = None,
) -> ScheduleRead:
    """One schedule, with who is on call at ``at`` (default now)."""
    return _schedule_read(store.get_schedule(session, name=name), _at(at, clock))


@router.delete("/schedules/{name}", status_code=status.HTTP_204_NO_CONTENT)
def delete_schedule(name: str, _: TeamAdmin, session: SessionDep) -> Response:
    """Delete a schedule and its overrides."""
    row = store.get_schedule(session, name=name)
    flows.check_schedule(session, row)
    session.delete(row)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/schedules/{name}/shifts")
def schedule_shifts(
    name: str,
    _: Viewer,
    session: SessionDep,
    clock: ClockDep,
    start: Annotated[datetime | None, Query()] = None,
    end: Annotated[datetime | None, Query()] = None,
    user: Annotated[str | None, Query()] = None,
) -> list[ShiftRead]:
    """The resolved timeline over [start, end) (default the next 14 days), or a user's next
    shifts when ``user`` is given without ``end``."""
    sched = flows.schedule_of(store.get_schedule(session, name=name))
    now = clock.now()
    if user is not None and end is None:
        found = next_shifts(sched, user, aware(start) if start else now, 10)
    else:
        lo, hi = _range(start, end, now)
        found = [s for s in shifts(sched, lo, hi) if user is None or s.user == user]
    return [ShiftRead(user=s.user, start=s.start, end=s.end, source=s.label) for s in found]


@router.get("/oncall")
def who_is_on_call(
    _: Viewer,
    session: SessionDep,
    clock: ClockDep,
    at: Annotated[datetime | None, Query()] = None,
    team: Annotated[str | None, Query()] = None,
) -> list[OnCallRead]:
    """Who is on call at ``at`` (default now) on every schedule, optionally of one team."""
    when = _at(at, clock)
    out = []
    for row in store.list_schedules(session):
        owner = row.team.name if row.team else None
        if team is not None and owner != team:
            continue
        users = on_call_at(flows.schedule_of(row), when)
        out.append(OnCallRead(schedule=row.name, team=owner, at=when, users=users))
    return out


@router.post("/schedules/{name}/overrides", status_code=status.HTTP_201_CREATED)
def create_override(
    name: str, body: OverrideWrite, who: Responder, session: SessionDep, clock: ClockDep
) -> OverrideRead:
    """Put ``user`` on call over [start, end), above every layer and earlier override."""
    o = flows.add_override(
        session,
        schedule=name,
        user=body.user,
        start=body.start,
        end=body.end,
        actor=f"token:{who.name}",
        now=clock.now(),
    )
    return _override_read(o)


@router.delete("/schedules/{name}/overrides/{override_id}", status_code=204)
def delete_override(name: str, override_id: int, _: Responder, session: SessionDep) -> Response:
    """Remove an override."""
    row = store.get_schedule(session, name=name)
    flows.check_schedule(session, row, needed="responder")
    session.delete(store.get_override(session, schedule=row, override_id=override_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


_ICS = "text/calendar; charset=utf-8"


@router.get("/schedules/{name}/calendar.ics", response_class=Response)
def schedule_ics(
    name: str,
    _: Viewer,
    session: SessionDep,
    clock: ClockDep,
    days: Annotated[int, Query(ge=1, le=366)] = 60,
) -> Response:
    """The schedule's shifts for the next ``days`` (and the last 7) as iCalendar."""
    now = clock.now()
    sched = flows.schedule_of(store.get_schedule(session, name=name))
    text = ical.schedule_calendar(sched, now - timedelta(days=7), now + timedelta(days=days), now)
    return Response(content=text, media_type=_ICS)


@router.get("/users/{name}/calendar.ics", response_class=Response)
def user_ics(
    name: str,
    _: Viewer,
    session: SessionDep,
    clock: ClockDep,
    days: Annotated[int, Query(ge=1, le=366)] = 60,
) -> Response:
    """One person's shifts across every schedule as iCalendar."""
    now = clock.now()
    store.user_by_name(session, name=name)
    scheds = [flows.schedule_of(r) for r in store.list_schedules(session)]
    text = ical.user_calendar(
        name, scheds, now - timedelta(days=7), now + timedelta(days=days), now
    )
    return Response(content=text, media_type=_ICS)


def _policy_read(row: EscalationPolicyRow) -> PolicyRead:
    return PolicyRead(
        name=row.name,
        description=row.description,
        team=row.team.name if row.team else None,
        repeat=row.repeat,
        levels=row.levels,
    )


@router.get("/escalation-policies")
def list_policies(_: Viewer, session: SessionDep) -> list[PolicyRead]:
    """Every escalation policy."""
    return [_policy_read(r) for r in store.list_policies(session)]


@router.put("/escalation-policies/{name}")
def put_policy(
    name: str, body: PolicyWrite, _: TeamAdmin, session: SessionDep, clock: ClockDep
) -> PolicyRead:
    """Create or replace an escalation policy."""
    row = flows.put_policy(
        session,
        name=name,
        levels=body.levels,
        repeat=body.repeat,
        team=body.team,
        description=body.description,
        now=clock.now(),
    )
    session.refresh(row)
    return _policy_read(row)


@router.get("/escalation-policies/{name}")
def get_policy(name: str, _: Viewer, session: SessionDep) -> PolicyRead:
    """One escalation policy."""
    return _policy_read(store.get_policy(session, name=name))


@router.delete("/escalation-policies/{name}", status_code=204)
def delete_policy(name: str, _: TeamAdmin, session: SessionDep) -> Response:
    """Delete an escalation policy (running escalations stop paging)."""
    row = store.get_policy(session, name=name)
    flows.check_policy(session, row)
    session.delete(row)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/users/{name}/notification-rules")
def get_rules(name: str, _: Viewer, session: SessionDep) -> list[RuleRead]:
    """A person's notification rules, in order."""
    user = store.user_by_name(session, name=name)
    return [
        RuleRead(after_seconds=r.delay_seconds, channel=r.channel)
        for r in store.rules_of(session, user_id=user.id)
    ]


@router.put("/users/{name}/notification-rules")
def put_rules(
    name: str, body: list[RuleWrite], _: Admin, session: SessionDep, clock: ClockDep
) -> list[RuleRead]:
    """Replace a person's notification rules."""
    rows = flows.put_rules(
        session, user=name, rules=[r.model_dump() for r in body], now=clock.now()
    )
    return [RuleRead(after_seconds=r.delay_seconds, channel=r.channel) for r in rows]


def _escalation_read(session: SessionDep, row: EscalationRow) -> EscalationRead:
    return EscalationRead(
        id=row.id,
        group_id=row.group_id,
        policy=row.policy.name if row.policy else None,
        status=row.status,
        level=row.level,
        loop=row.loop,
        level_started_at=row.level_started_at,
        next_step_at=row.next_step_at,
        paged=list(row.paged),
        assignee=row.assignee,
        acknowledged_at=row.acknowledged_at,
        acknowledged_by=row.acknowledged_by,
        resolved_at=row.resolved_at,
        alert_ids=[a.id for a in alert_store.group_alerts(session, group_id=row.group_id)],
    )


@router.get("/escalations")
def list_escalations(
    _: Viewer,
    session: SessionDep,
    status_: Annotated[str | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[EscalationRead]:
    """Escalations, newest first, optionally by status."""
    rows = store.list_escalations(session, status=status_, limit=limit)
    return [_escalation_read(session, r) for r in rows]


@router.post("/alerts/{alert_id}/snooze")
def snooze(
    alert_id: int, body: SnoozeRequest, who: Responder, session: SessionDep, clock: ClockDep
) -> AlertRead:
    """Hold the alert's pages; its escalation pages the current level again when it ends."""
    now = clock.now()
    if body.until is not None:
        until = aware(body.until)
    elif body.minutes is not None:
        until = now + timedelta(minutes=body.minutes)
    else:
        raise InvalidInput("give minutes or until")
    alert = alert_store.get_alert(session, alert_id=alert_id)
    return alert_read(
        alert_flows.snooze(session, alert=alert, until=until, actor=f"token:{who.name}", now=now)
    )


@router.post("/alerts/{alert_id}/reassign")
def reassign(
    alert_id: int,
    body: ReassignRequest,
    who: Responder,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> list[EscalationRead]:
    """Page ``user`` now for the alert's escalations instead of the policy's current level."""
    alert_store.get_alert(session, alert_id=alert_id)
    flows.reassign_alert(
        session,
        alert_id=alert_id,
        user=body.user,
        actor=f"token:{who.name}",
        now=clock.now(),
        public_url=settings.public_url,
    )
    groups = alert_store.groups_of_alert(session, alert_id=alert_id)
    rows = store.escalations_of_groups(session, group_ids=[g.id for g in groups])
    return [_escalation_read(session, r) for r in rows]
