"""Action items: create and change them, overdue reminders through notification channels, and
the on-time closure rate per team (formula in ``closure.py``)."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ninefold.catalog.models import Service
from ninefold.errors import InvalidInput, NotFound
from ninefold.identity import guard
from ninefold.identity.models import Team, TeamMember, User
from ninefold.incident import store as incident_store
from ninefold.incident.models import IncidentService
from ninefold.integrations.notify.message import Notification, NotificationKind
from ninefold.postmortem import closure, states, store
from ninefold.postmortem.models import ActionItem

log = logging.getLogger("ninefold.postmortem")

_NOTIFY_SEVERITY = {"P1": "error", "P2": "warning", "P3": "info", "P4": "info"}
UNSET: Any = object()
"""Marks an argument of ``update_item`` that was not given (``None`` clears a field)."""


def _user(session: Session, name: str) -> User:
    user = session.scalars(select(User).where(User.name == name)).first()
    if user is None:
        raise InvalidInput(f"owner: unknown user {name!r}")
    return user


def _team(session: Session, name: str) -> Team:
    team = session.scalars(select(Team).where(Team.name == name)).first()
    if team is None:
        raise InvalidInput(f"team: unknown team {name!r}")
    return team


def team_id_of(session: Session, name: str) -> int:
    """The id of team ``name``, or InvalidInput."""
    return _team(session, name).id


def _default_team(session: Session, incident_id: int | None, owner: User | None) -> int | None:
    """The owner team of the incident's first affected service, else the owner's first team."""
    if incident_id is not None:
        found = session.scalar(
            select(Service.owner_team_id)
            .join(IncidentService, IncidentService.service_id == Service.id)
            .where(IncidentService.incident_id == incident_id)
            .order_by(Service.name)
            .limit(1)
        )
        if found is not None:
            return found
    if owner is not None:
        return session.scalar(
            select(TeamMember.team_id)
            .where(TeamMember.user_id == owner.id)
            .order_by(TeamMember.id)
            .limit(1)
        )
    return None


def _priority(value: str) -> str:
    try:
        return states.normalise_priority(value)
    except states.StateError as exc:
        raise InvalidInput(str(exc)) from None


def create_item(
    session: Session,
    *,
    title: str,
    actor: str,
    now: datetime,
    owner: str | None = None,
    due_date: date | None = None,
    priority: str = "P3",
    incident_id: int | None = None,
    postmortem_id: int | None = None,
    team: str | None = None,
    description: str = "",
) -> ActionItem:
    """A new open action item; from a postmortem it also points at the postmortem's incident."""
    if postmortem_id is not None:
        try:
            pm = store.get_postmortem(session, postmortem_id=postmortem_id)
        except NotFound:
            raise InvalidInput(
                f"postmortem_id: postmortem {postmortem_id} does not exist"
            ) from None
        if incident_id is not None and incident_id != pm.incident_id:
            raise InvalidInput(
                f"incident_id: postmortem {pm.id} belongs to incident {pm.incident_id}"
            )
        incident_id = pm.incident_id
    elif incident_id is not None:
        try:
            incident_store.get_incident(session, incident_id=incident_id)
        except NotFound:
            raise InvalidInput(f"incident_id: incident {incident_id} does not exist") from None
        found = store.postmortem_of(session, incident_id=incident_id)
        postmortem_id = found.id if found is not None else None
    user = _user(session, owner) if owner is not None else None
    team_id = _team(session, team).id if team else _default_team(session, incident_id, user)
    guard.check_team(session, kind="action item", name=title, team_id=team_id)
    item = ActionItem(
        title=title,
        description=description,
        owner_id=user.id if user is not None else None,
        team_id=team_id,
        due_date=due_date,
        priority=_priority(priority),
        status="open",
        incident_id=incident_id,
        postmortem_id=postmortem_id,
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    session.add(item)
    session.flush()
    _refresh_postmortem(session, item, now=now)
    return item


def update_item(
    session: Session,
    *,
    item: ActionItem,
    now: datetime,
    title: str | None = None,
    description: str | None = None,
    owner: str | None = UNSET,
    team: str | None = UNSET,
    due_date: date | None = UNSET,
    priority: str | None = None,
    status: str | None = None,
) -> ActionItem:
    """Change an item; closing it (done, wont_do) stamps ``closed_at``, reopening clears it."""
    check_item(session, item)
    if team is not UNSET and team is not None:
        guard.check_team(
            session, kind="action item", name=item.title, team_id=_team(session, team).id
        )
    if title is not None:
        item.title = title
    if description is not None:
        item.description = description
    if owner is not UNSET:
        item.owner_id = _user(session, owner).id if owner is not None else None
    if team is not UNSET:
        item.team_id = _team(session, team).id if team is not None else None
    if due_date is not UNSET:
        item.due_date = due_date
    if priority is not None:
        item.priority = _priority(priority)
    if status is not None and status != item.status:
        if status not in states.ITEM_STATUSES:
            raise InvalidInput(
                f"status: unknown {status!r}; one of {', '.join(states.ITEM_STATUSES)}"
            )
        item.status = status
        item.closed_at = now if status in states.CLOSED_ITEM_STATUSES else None
    item.updated_at = now
    session.flush()
    _refresh_postmortem(session, item, now=now)
    return item


def check_item(session: Session, item: ActionItem) -> None:
    """Team guard: an action item belongs to its team (an item without a team is everyone's)."""
    guard.check_team(session, kind="action item", name=item.title, team_id=item.team_id)


def _refresh_postmortem(session: Session, item: ActionItem, *, now: datetime) -> None:
    """Keep the action-items section of the item's postmortem current while it is editable."""
    from ninefold.postmortem.flows import SYSTEM_ACTOR, refresh

    if item.postmortem_id is None:
        return
    pm = store.get_postmortem(session, postmortem_id=item.postmortem_id)
    if pm.status in states.EDITABLE:
        refresh(session, pm=pm, actor=SYSTEM_ACTOR, now=now)


# --- overdue reminders ------------------------------------------------------------------------


def reminder(item: ActionItem, *, today: date) -> Notification:
    """The overdue reminder of one item on ``today`` (key unique per item and day)."""
    assert item.due_date is not None
    days = (today - item.due_date).days
    owner = item.owner.name if item.owner is not None else "nobody"
    source = f" from incident #{item.incident_id}" if item.incident_id else ""
    return Notification(
        idempotency_key=f"action-item-{item.id}:overdue:{today.isoformat()}",
        kind=NotificationKind.INCIDENT,
        title=f"Overdue action item #{item.id}: {item.title}"[:1024],
        summary=(
            f"Action item #{item.id}{source} ({item.priority}, {item.status}) was due "
            f"{item.due_date.isoformat()}, {days} day{'s' if days != 1 else ''} ago. "
            f"Owner: {owner}. Close it with `ninefold action done {item.id}` or move its due date."
        ),
        severity=_NOTIFY_SEVERITY.get(item.priority, "info"),  # type: ignore[arg-type]
        service="action-items",
        occurred_at=datetime(today.year, today.month, today.day, tzinfo=UTC),
        labels={"action_item": str(item.id), "priority": item.priority, "owner": owner},
    )


def send_overdue_reminders(session: Session, now: datetime, *, channel: str | None = None) -> int:
    """Queue one reminder per overdue open item per UTC day: to the owner's immediate personal
    notification rules, else to ``channel``. Idempotent (outbox keys carry item and day); returns
    the items reminded."""
    from ninefold.notification.flows import enqueue
    from ninefold.oncall.flows import page_user

    today = now.astimezone(UTC).date()
    reminded = 0
    for item in store.overdue_unreminded(session, today=today):
        note = reminder(item, today=today)
        queued: list[str] = []
        if item.owner is not None:
            queued = page_user(
                session,
                user=item.owner.name,
                notification=note,
                key_prefix=note.idempotency_key,
                now=now,
            )
        if not queued and channel is not None:
            try:
                enqueue(
                    session,
                    channel=channel,
                    notification=replace(note, idempotency_key=f"{note.idempotency_key}:{channel}"),
                    now=now,
                )
                queued = [channel]
            except NotFound:
                log.error("action_item_reminder_channel names unknown channel %r", channel)
        if not queued:
            log.info("overdue action item %s: nowhere to send a reminder", item.id)
        item.last_reminded_on = today
        reminded += bool(queued)
    session.flush()
    return reminded


# --- on-time closure rate ---------------------------------------------------------------------


def closure_stats(
    session: Session, *, team: str | None, start: date, end: date
) -> closure.ClosureStats:
    """On-time closure rate of the items due in [start, end], of one team or all."""
    team_id = _team(session, team).id if team else None
    items = store.items_due_between(session, start=start, end=end, team_id=team_id)
    return closure.closure_stats(
        (closure.ItemDates(i.due_date, i.status, i.closed_at) for i in items), start=start, end=end
    )
