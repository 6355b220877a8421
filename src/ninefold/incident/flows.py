"""Incident use cases: declare, alerts, merge, lifecycle, roles and responders, timeline, updates.

The only incident module that touches other domains (alerts, catalog, on-call, notifications).
Every change that matters for the response leaves a timeline entry; automatic entries that come
from elsewhere (alerts, pages, acks, SLO burn alerts, deploys) carry a ``ref`` so that each is
recorded once per incident however often the timeline is synced.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from ninefold.alert import store as alert_store
from ninefold.alert.models import Alert
from ninefold.catalog.models import Service
from ninefold.errors import Conflict, InvalidInput, NotFound
from ninefold.identity import guard
from ninefold.incident import lifecycle, store
from ninefold.incident.catalog import (
    BUILTIN_ROLES,
    DEFAULT_SEVERITIES,
    RoleDef,
    SeverityDef,
    notification_severity,
)
from ninefold.incident.lifecycle import LifecycleError, Stamps
from ninefold.incident.models import (
    Incident,
    IncidentAlert,
    IncidentResponder,
    IncidentRoleAssignment,
    IncidentUpdate,
)
from ninefold.incident.templates import render
from ninefold.integrations.notify.message import Notification, NotificationKind

LOOKBACK = timedelta(hours=1)
"""Deploys and SLO burn alerts this long before ``started_at`` still show on the timeline."""

KEY_ACTIONS = {"acknowledge", "mitigate", "resolve", "reopen"}
_ALERT_SEVERITY_RANK = {"critical": 1, "error": 2, "warning": 3, "info": 4}


def _invalid(exc: LifecycleError) -> InvalidInput:
    return InvalidInput(str(exc))


# --- configuration ----------------------------------------------------------------------------


def severity_defs(session: Session) -> list[SeverityDef]:
    """The severities in force: those applied from YAML, else SEV1–SEV4."""
    rows = store.severities(session)
    if not rows:
        return list(DEFAULT_SEVERITIES)
    return [SeverityDef(r.name, r.rank, r.description, tuple(r.channels)) for r in rows]


def role_defs(session: Session) -> list[RoleDef]:
    """The built-in roles, then custom roles from YAML (YAML may re-describe a built-in one)."""
    custom = {r.name: RoleDef(r.name, r.description) for r in store.roles(session)}
    out = [custom.pop(b.name, b) for b in BUILTIN_ROLES]
    return out + sorted(custom.values(), key=lambda r: r.name)


def severity_def(session: Session, name: str) -> SeverityDef:
    """The severity called ``name``, or InvalidInput naming the field."""
    defs = severity_defs(session)
    for d in defs:
        if d.name.lower() == name.lower():
            return d
    raise InvalidInput(f"severity: unknown {name!r}; one of {', '.join(d.name for d in defs)}")


def service_id(session: Session, name: str, field: str = "service") -> int:
    """The id of the service ``name``; InvalidInput on ``field`` when there is none."""
    try:
        return alert_store.service_id(session, name=name)
    except NotFound:
        raise InvalidInput(f"{field}: unknown service {name!r}") from None


def _service_ids(session: Session, names: Sequence[str]) -> list[int]:
    return [service_id(session, name, "services") for name in names]


def _user_id(session: Session, name: str, field: str = "user") -> int:
    from ninefold.oncall import store as oncall_store

    try:
        return oncall_store.user_by_name(session, name=name).id
    except NotFound:
        raise InvalidInput(f"{field}: unknown user {name!r}") from None


def _stamps(incident: Incident) -> Stamps:
    return Stamps(
        incident.started_at,
        incident.detected_at,
        incident.acknowledged_at,
        incident.mitigated_at,
        incident.resolved_at,
    )


def _apply_stamps(incident: Incident, stamps: Stamps) -> list[str]:
    changed = []
    for name in lifecycle.STAMPS:
        if getattr(incident, name) != getattr(stamps, name):
            setattr(incident, name, getattr(stamps, name))
            changed.append(name)
    incident.status = lifecycle.status_of(stamps)
    return changed


def _not_future(value: datetime | None, now: datetime, field: str) -> None:
    if value is not None and value > now:
        raise InvalidInput(f"{field}: {value.isoformat()} is in the future")


def _writable(incident: Incident) -> None:
    """Every change of an incident passes here: the team guard (a team may change the incidents
    touching its services), then the merged check."""
    session = object_session(incident)
    if session is not None:
        guard.check_incident(session, incident)
    if incident.status == "merged":
        raise Conflict(
            f"incident {incident.id} was merged into incident {incident.merged_into_id}; "
            "change that one"
        )


# --- declare, alerts, merge -------------------------------------------------------------------


def _load_alerts(session: Session, ids: Sequence[int], incident_id: int | None) -> list[Alert]:
    alerts = alert_store.alerts_by_ids(session, ids=list(dict.fromkeys(ids)))
    missing = sorted(set(ids) - {a.id for a in alerts})
    if missing:
        raise InvalidInput(f"alert_ids: alert {missing[0]} does not exist")
    for alert in alerts:
        link = store.incident_of_alert(session, alert_id=alert.id)
        if link is not None and link.incident_id != incident_id:
            raise Conflict(
                f"alert_ids: alert {alert.id} is already attached to incident {link.incident_id}"
            )
    return sorted(alerts, key=lambda a: (a.starts_at, a.id))


def declare(
    session: Session,
    *,
    title: str,
    severity: str | None,
    services: Sequence[str],
    summary: str,
    alert_ids: Sequence[int],
    actor: str,
    now: datetime,
    started_at: datetime | None = None,
    detected_at: datetime | None = None,
    links: Mapping[str, str] | None = None,
) -> Incident:
    """Declare an incident, optionally from alerts (which join it and name its services)."""
    alerts = _load_alerts(session, alert_ids, None)
    if severity is None:
        worst = min((_ALERT_SEVERITY_RANK.get(a.severity, 2) for a in alerts), default=2)
        defs = severity_defs(session)
        sev = min(defs, key=lambda d: (abs(d.rank - worst), d.rank))
    else:
        sev = severity_def(session, severity)
    ids = _service_ids(session, services)
    ids += [a.service_id for a in alerts if a.service_id is not None and a.service_id not in ids]
    _not_future(started_at, now, "started_at")
    _not_future(detected_at, now, "detected_at")
    detected = detected_at or min((a.starts_at for a in alerts), default=now)
    started = started_at or min(detected, min((a.starts_at for a in alerts), default=detected))
    try:
        stamps = lifecycle.check(Stamps(started, detected))
    except LifecycleError as exc:
        raise _invalid(exc) from None
    incident = Incident(
        title=title,
        summary=summary,
        severity=sev.name,
        status=lifecycle.status_of(stamps),
        public_status="investigating",
        links=dict(links or {}),
        started_at=stamps.started_at,
        detected_at=stamps.detected_at,
        declared_at=now,
        declared_by=actor,
        updated_at=now,
    )
    session.add(incident)
    session.flush()
    store.set_services(session, incident_id=incident.id, ids=ids, now=now)
    store.add_entry(
        session,
        incident_id=incident.id,
        kind="declared",
        at=now,
        actor=actor,
        message=f"Incident declared ({sev.name}): {title}",
        details={"severity": sev.name},
        now=now,
        key_moment=True,
    )
    _attach(session, incident, alerts, actor=actor, now=now)
    sync_timeline(session, incident, now=now)
    return incident


def _alert_ref(alert: Alert) -> str:
    return f"slo:{alert.id}" if alert.source == "slo" else f"alert:{alert.id}"


def _attach(
    session: Session, incident: Incident, alerts: Sequence[Alert], *, actor: str, now: datetime
) -> None:
    for alert in alerts:
        if store.incident_of_alert(session, alert_id=alert.id) is not None:
            continue
        session.add(
            IncidentAlert(
                incident_id=incident.id, alert_id=alert.id, attached_at=now, attached_by=actor
            )
        )
        slo = alert.source == "slo"
        fired = store.add_entry(
            session,
            incident_id=incident.id,
            kind="slo_burn" if slo else "alert",
            at=alert.starts_at,
            actor=actor,
            message=f"{'SLO burn alert' if slo else 'Alert'} #{alert.id} fired: {alert.summary}",
            details={"alert_id": alert.id, "source": alert.source, "attached": True},
            ref=_alert_ref(alert),
            now=now,
        )
        if fired is None:
            store.add_entry(
                session,
                incident_id=incident.id,
                kind="alert_attached",
                at=now,
                actor=actor,
                message=f"Alert #{alert.id} attached: {alert.summary}",
                details={"alert_id": alert.id},
                now=now,
            )
        if alert.service_id is not None:
            ids = store.service_ids(session, incident_id=incident.id)
            if alert.service_id not in ids:
                store.set_services(
                    session, incident_id=incident.id, ids=[*ids, alert.service_id], now=now
                )
    session.flush()


def attach(
    session: Session, *, incident: Incident, alert_ids: Sequence[int], actor: str, now: datetime
) -> None:
    """Attach alerts to an incident (their services become affected)."""
    _writable(incident)
    if not alert_ids:
        raise InvalidInput("alert_ids: give at least one alert id")
    _attach(session, incident, _load_alerts(session, alert_ids, incident.id), actor=actor, now=now)
    incident.updated_at = now
    sync_timeline(session, incident, now=now)


def detach(
    session: Session, *, incident: Incident, alert_id: int, actor: str, now: datetime
) -> None:
    """Detach one alert from an incident."""
    _writable(incident)
    link = store.incident_of_alert(session, alert_id=alert_id)
    if link is None or link.incident_id != incident.id:
        raise NotFound(f"alert {alert_id} is not attached to incident {incident.id}")
    session.delete(link)
    store.add_entry(
        session,
        incident_id=incident.id,
        kind="alert_detached",
        at=now,
        actor=actor,
        message=f"Alert #{alert_id} detached",
        details={"alert_id": alert_id},
        now=now,
    )
    incident.updated_at = now


def declare_from_alert(
    session: Session,
    *,
    alert_id: int,
    actor: str,
    now: datetime,
    title: str | None = None,
    severity: str | None = None,
    summary: str = "",
) -> Incident:
    """Declare an incident from one alert: its summary is the default title."""
    try:
        alert = alert_store.get_alert(session, alert_id=alert_id)
    except NotFound:
        raise NotFound(f"alert {alert_id} does not exist") from None
    return declare(
        session,
        title=title or alert.summary,
        severity=severity,
        services=[],
        summary=summary,
        alert_ids=[alert.id],
        actor=actor,
        now=now,
    )


def merge(
    session: Session, *, source: Incident, target: Incident, actor: str, now: datetime
) -> None:
    """Merge ``source`` into ``target``: alerts, timeline, services and responders move over."""
    guard.check_incident(session, source)
    guard.check_incident(session, target)
    try:
        lifecycle.check_merge(
            source_id=source.id,
            source_status=source.status,
            target_id=target.id,
            target_status=target.status,
        )
    except LifecycleError as exc:
        raise _invalid(exc) from None
    store.move_children(session, source_id=source.id, target_id=target.id)
    services = store.service_ids(session, incident_id=target.id)
    extra = [s for s in store.service_ids(session, incident_id=source.id) if s not in services]
    if extra:
        store.set_services(session, incident_id=target.id, ids=services + extra, now=now)
    for person in store.responders_of(session, incident_id=source.id):
        if store.responder(session, incident_id=target.id, user_id=person.user_id) is None:
            person.incident_id = target.id
    source.status = "merged"
    source.merged_into_id = target.id
    source.updated_at = target.updated_at = now
    for incident, message in (
        (target, f"Incident #{source.id} ({source.title}) merged into this one"),
        (source, f"Merged into incident #{target.id}"),
    ):
        store.add_entry(
            session,
            incident_id=incident.id,
            kind="merged",
            at=now,
            actor=actor,
            message=message,
            details={"source": source.id, "target": target.id},
            now=now,
            key_moment=incident is target,
        )
    sync_timeline(session, target, now=now)


# --- lifecycle and fields ---------------------------------------------------------------------


def act(
    session: Session,
    *,
    incident: Incident,
    action: str,
    actor: str,
    now: datetime,
    at: datetime | None = None,
) -> list[str]:
    """Acknowledge, mitigate, resolve or reopen; returns the timestamps that changed."""
    _writable(incident)
    when = at or now
    _not_future(when, now, "at")
    try:
        stamps = lifecycle.transition(_stamps(incident), action, when)
    except LifecycleError as exc:
        raise _invalid(exc) from None
    changed = _apply_stamps(incident, stamps)
    old_public = incident.public_status
    incident.public_status = lifecycle.public_status_after(action, old_public)
    incident.updated_at = now
    verb = {"acknowledge": "acknowledged", "mitigate": "mitigated", "resolve": "resolved"}
    store.add_entry(
        session,
        incident_id=incident.id,
        kind="status",
        at=when,
        actor=actor,
        message=f"Incident {verb.get(action, 'reopened')}"
        + (f" (also recorded: {', '.join(changed[:-1])})" if len(changed) > 1 else ""),
        details={"action": action, "changed": changed, "status": incident.status},
        now=now,
        key_moment=action in KEY_ACTIONS,
    )
    if incident.public_status != old_public:
        _public_status_entry(session, incident, old_public, actor=actor, now=now)
    if action == "resolve":  # postmortem policy: draft one when required, link repeats
        from ninefold.postmortem.flows import on_incident_resolved

        on_incident_resolved(session, incident=incident, now=now)
    return changed


def _public_status_entry(
    session: Session, incident: Incident, old: str, *, actor: str, now: datetime
) -> None:
    store.add_entry(
        session,
        incident_id=incident.id,
        kind="public_status",
        at=now,
        actor=actor,
        message=f"Public status {old} → {incident.public_status}",
        details={"from": old, "to": incident.public_status},
        now=now,
    )


def correct(
    session: Session,
    *,
    incident: Incident,
    changes: Mapping[str, datetime | None],
    actor: str,
    now: datetime,
) -> None:
    """Correct recorded timestamps (the order rules still hold)."""
    _writable(incident)
    if not changes:
        raise InvalidInput("give at least one timestamp to correct")
    for name, value in changes.items():
        _not_future(value, now, name)
    before = _stamps(incident)
    try:
        stamps = lifecycle.correct(before, changes)
    except LifecycleError as exc:
        raise _invalid(exc) from None
    changed = _apply_stamps(incident, stamps)
    incident.updated_at = now
    for name in changed:
        old, new = getattr(before, name), getattr(stamps, name)
        store.add_entry(
            session,
            incident_id=incident.id,
            kind="timestamp_corrected",
            at=now,
            actor=actor,
            message=f"{name} corrected: {_iso(old)} → {_iso(new)}",
            details={"field": name, "from": _iso(old), "to": _iso(new)},
            now=now,
        )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def update_fields(
    session: Session,
    *,
    incident: Incident,
    actor: str,
    now: datetime,
    title: str | None = None,
    summary: str | None = None,
    severity: str | None = None,
    services: Sequence[str] | None = None,
    links: Mapping[str, str] | None = None,
    public_status: str | None = None,
) -> None:
    """Change title, summary, severity, affected services, links or public status."""
    _writable(incident)

    def entry(kind: str, message: str, details: dict[str, Any], key: bool = False) -> None:
        store.add_entry(
            session,
            incident_id=incident.id,
            kind=kind,
            at=now,
            actor=actor,
            message=message,
            details=details,
            now=now,
            key_moment=key,
        )

    if severity is not None:
        sev = severity_def(session, severity)
        if sev.name != incident.severity:
            entry(
                "severity",
                f"Severity {incident.severity} → {sev.name}",
                {"from": incident.severity, "to": sev.name},
                key=True,
            )
            incident.severity = sev.name
    if title is not None and title != incident.title:
        entry("title", f"Title changed to {title!r}", {"from": incident.title, "to": title})
        incident.title = title
    if summary is not None:
        incident.summary = summary
    if links is not None:
        incident.links = dict(links)
    if services is not None:
        added, removed = store.set_services(
            session, incident_id=incident.id, ids=_service_ids(session, services), now=now
        )
        if added or removed:
            names = alert_store.service_names(session)
            entry(
                "services",
                "Affected services: "
                + ", ".join([f"+{names[i]}" for i in added] + [f"-{names[i]}" for i in removed]),
                {"added": [names[i] for i in added], "removed": [names[i] for i in removed]},
            )
    if public_status is not None and public_status != incident.public_status:
        _set_public_status(session, incident, public_status, actor=actor, now=now)
    incident.updated_at = now
    sync_timeline(session, incident, now=now)


def _set_public_status(
    session: Session, incident: Incident, new: str, *, actor: str, now: datetime
) -> None:
    try:
        lifecycle.public_status_change(
            incident.public_status, new, resolved=incident.status == "resolved"
        )
    except LifecycleError as exc:
        raise _invalid(exc) from None
    if new == "resolved" and incident.status != "resolved":
        act(session, incident=incident, action="resolve", actor=actor, now=now)
        return
    old = incident.public_status
    incident.public_status = new
    _public_status_entry(session, incident, old, actor=actor, now=now)


# --- roles, responders, pages -----------------------------------------------------------------


def _values(session: Session, incident: Incident) -> dict[str, Any]:
    names = alert_store.service_names(session)
    return {
        "id": incident.id,
        "title": incident.title,
        "severity": incident.severity,
        "summary": incident.summary,
        "services": [names[i] for i in store.service_ids(session, incident_id=incident.id)],
    }


def _notification(
    session: Session, incident: Incident, kind: NotificationKind, template: str, **extra: Any
) -> Notification:
    values = {**_values(session, incident), **extra}
    title, body = render(template, values)
    rank = next((d.rank for d in severity_defs(session) if d.name == incident.severity), 2)
    return Notification(
        idempotency_key=f"incident-{incident.id}",
        kind=kind,
        title=title[:1024],
        summary=body,
        severity=notification_severity(rank),  # type: ignore[arg-type]
        service=", ".join(values["services"]) or "incident",
        occurred_at=extra.get("occurred_at") or incident.declared_at,
        labels={"incident": str(incident.id), "severity": incident.severity},
    )


def _page(
    session: Session,
    incident: Incident,
    *,
    user: str,
    note: Notification,
    why: str,
    actor: str,
    now: datetime,
) -> list[str]:
    from ninefold.oncall.flows import page_user

    prefix = f"incident-{incident.id}:{why}:{int(now.timestamp())}"
    channels = page_user(session, user=user, notification=note, key_prefix=prefix, now=now)
    store.add_entry(
        session,
        incident_id=incident.id,
        kind="page" if channels else "page_failed",
        at=now,
        actor=actor,
        message=f"Paged {user} via {', '.join(channels)}"
        if channels
        else f"Could not page {user}: no immediate notification rule with a known channel",
        details={"user": user, "channels": channels, "reason": why},
        now=now,
    )
    return channels


def _join(
    session: Session,
    incident: Incident,
    *,
    user: str,
    source: str,
    source_name: str | None,
    actor: str,
    now: datetime,
) -> IncidentResponder | None:
    uid = _user_id(session, user)
    if store.responder(session, incident_id=incident.id, user_id=uid) is not None:
        return None
    row = IncidentResponder(
        incident_id=incident.id,
        user_id=uid,
        source=source,
        source_name=source_name,
        added_at=now,
        added_by=actor,
    )
    session.add(row)
    session.flush()
    return row


def assign_role(
    session: Session, *, incident: Incident, role: str, user: str, actor: str, now: datetime
) -> list[str]:
    """Give ``role`` to ``user`` and page them through their rules; returns channels paged."""
    _writable(incident)
    defs = role_defs(session)
    if role not in {d.name for d in defs}:
        raise InvalidInput(f"role: unknown {role!r}; one of {', '.join(d.name for d in defs)}")
    uid = _user_id(session, user)
    current = store.role_of(session, incident_id=incident.id, role=role)
    if current is not None and current.user_id == uid:
        return []
    previous = current.user.name if current is not None else None
    if current is None:
        current = IncidentRoleAssignment(incident_id=incident.id, role=role)
        session.add(current)
    current.user_id, current.assigned_at, current.assigned_by = uid, now, actor
    session.flush()
    row = _join(session, incident, user=user, source="role", source_name=role, actor=actor, now=now)
    store.add_entry(
        session,
        incident_id=incident.id,
        kind="role",
        at=now,
        actor=actor,
        message=f"{user} is {role}" + (f" (was {previous})" if previous else ""),
        details={"role": role, "user": user, "previous": previous},
        now=now,
    )
    label = next(d.description.partition(":")[0] for d in defs if d.name == role) or role
    note = _notification(
        session,
        incident,
        NotificationKind.PAGE,
        "role_page",
        role_label=label.lower(),
        actor=actor,
        occurred_at=now,
    )
    channels = _page(
        session, incident, user=user, note=note, why=f"role-{role}", actor=actor, now=now
    )
    if row is not None and channels:
        row.paged_at = now
    incident.updated_at = now
    return channels


def unassign_role(
    session: Session, *, incident: Incident, role: str, actor: str, now: datetime
) -> None:
    """Nobody holds ``role`` any more."""
    _writable(incident)
    current = store.role_of(session, incident_id=incident.id, role=role)
    if current is None:
        raise NotFound(f"nobody holds role {role!r} on incident {incident.id}")
    user = current.user.name
    session.delete(current)
    incident.updated_at = now
    store.add_entry(
        session,
        incident_id=incident.id,
        kind="role",
        at=now,
        actor=actor,
        message=f"{user} is no longer {role}",
        details={"role": role, "user": None, "previous": user},
        now=now,
    )


def add_responders(
    session: Session,
    *,
    incident: Incident,
    actor: str,
    now: datetime,
    user: str | None = None,
    schedule: str | None = None,
    escalation_policy: str | None = None,
) -> list[str]:
    """Add and page people: one user, whoever ``schedule`` has on call now, or the first level
    of ``escalation_policy``. Returns the names added (already present ones are not paged)."""
    from ninefold.oncall import flows as oncall_flows
    from ninefold.oncall import store as oncall_store

    _writable(incident)
    options = (("user", user), ("schedule", schedule), ("escalation_policy", escalation_policy))
    given = [(k, v) for k, v in options if v is not None]
    if len(given) != 1:
        raise InvalidInput("give exactly one of user, schedule, escalation_policy")
    source, name = given[0]
    if source == "user":
        names = [name]
    elif source == "schedule":
        try:
            names = oncall_flows.on_call(session, schedule=name, at=now)
        except NotFound:
            raise InvalidInput(f"schedule: unknown schedule {name!r}") from None
    else:
        try:
            policy = oncall_flows.policy_of(oncall_store.get_policy(session, name=name))
        except NotFound:
            raise InvalidInput(f"escalation_policy: unknown policy {name!r}") from None
        names = oncall_flows.resolve_targets(session, policy.levels[0].targets, now)
    if not names:
        raise InvalidInput(f"{source}: {name!r} has nobody to page right now")
    added: list[str] = []
    for person in names:
        row = _join(
            session,
            incident,
            user=person,
            source=source,
            source_name=None if source == "user" else name,
            actor=actor,
            now=now,
        )
        if row is None:
            continue
        added.append(person)
        store.add_entry(
            session,
            incident_id=incident.id,
            kind="responder",
            at=now,
            actor=actor,
            message=f"{person} joined"
            + (f" (on call on {source} {name})" if source != "user" else ""),
            details={"user": person, "source": source, "source_name": name},
            now=now,
        )
        note = _notification(
            session,
            incident,
            NotificationKind.PAGE,
            "responder_page",
            actor=actor,
            source=source.replace("_", " "),
            source_name=None if source == "user" else name,
            occurred_at=now,
        )
        if _page(session, incident, user=person, note=note, why="responder", actor=actor, now=now):
            row.paged_at = now
    incident.updated_at = now
    return added


# --- timeline and stakeholder updates ---------------------------------------------------------


def add_note(
    session: Session,
    *,
    incident: Incident,
    message: str,
    actor: str,
    now: datetime,
    at: datetime | None = None,
    key_moment: bool = False,
) -> Any:
    """A manual note on the timeline (``at`` may lie in the past)."""
    _not_future(at, now, "at")
    entry = store.add_entry(
        session,
        incident_id=incident.id,
        kind="note",
        at=at or now,
        actor=actor,
        message=message,
        now=now,
        key_moment=key_moment,
    )
    incident.updated_at = now
    return entry


def post_update(
    session: Session,
    *,
    incident: Incident,
    public_status: str,
    message: str,
    channels: Sequence[str] | None,
    publish: bool,
    actor: str,
    now: datetime,
) -> IncidentUpdate:
    """A stakeholder update: set the public status and send the message to ``channels`` (or the
    severity's channels). ``resolved`` resolves the incident."""
    from ninefold.notification import store as outbox_store
    from ninefold.notification.flows import enqueue

    _writable(incident)
    targets = (
        list(channels)
        if channels is not None
        else list(severity_def(session, incident.severity).channels)
    )
    for name in targets:
        try:
            outbox_store.get_channel(session, name=name)
        except NotFound:
            raise InvalidInput(f"channels: unknown notification channel {name!r}") from None
    if public_status != incident.public_status:
        _set_public_status(session, incident, public_status, actor=actor, now=now)
    update = IncidentUpdate(
        incident_id=incident.id,
        public_status=incident.public_status,
        message=message,
        published=publish,
        channels=targets,
        created_by=actor,
        created_at=now,
    )
    session.add(update)
    session.flush()
    note = _notification(
        session,
        incident,
        NotificationKind.INCIDENT,
        "stakeholder_update",
        public_status=incident.public_status,
        message=message,
        occurred_at=now,
    )
    for name in targets:
        keyed = Notification(**{**_fields(note), "idempotency_key": f"incident-update-{update.id}"})
        enqueue(session, channel=name, notification=keyed, now=now)
    store.add_entry(
        session,
        incident_id=incident.id,
        kind="update",
        at=now,
        actor=actor,
        message=f"Stakeholder update ({incident.public_status}): {message}",
        details={"update_id": update.id, "channels": targets, "published": publish},
        now=now,
    )
    incident.updated_at = now
    return update


def _fields(note: Notification) -> dict[str, Any]:
    return {name: getattr(note, name) for name in Notification.__dataclass_fields__}


def sync_timeline(session: Session, incident: Incident, *, now: datetime) -> int:
    """Add the automatic entries the incident misses: deploys and SLO burn alerts on affected
    services during the incident, pages and acks of its attached alerts. Returns entries added."""
    from ninefold.deploy import store as deploy_store

    if incident.status == "merged":
        return 0
    start = incident.started_at - LOOKBACK
    end = incident.resolved_at or now
    services = store.service_ids(session, incident_id=incident.id)
    names = alert_store.service_names(session)
    added = 0

    def add(kind: str, at: datetime, message: str, ref: str, details: dict[str, Any]) -> None:
        nonlocal added
        entry = store.add_entry(
            session,
            incident_id=incident.id,
            kind=kind,
            at=at,
            message=message,
            details=details,
            ref=ref,
            now=now,
        )
        added += entry is not None

    for dep in deploy_store.between(session, service_ids=services, start=start, end=end):
        add(
            "deploy",
            dep.deployed_at,
            f"Deploy of {names.get(dep.service_id, '?')} {dep.version} ({dep.outcome})",
            f"deploy:{dep.id}",
            {"deployment_id": dep.id, "version": dep.version, "outcome": dep.outcome},
        )
    if services:
        slo_alerts = session.scalars(
            select(Alert)
            .where(Alert.source == "slo", Alert.service_id.in_(services))
            .where(Alert.starts_at >= start, Alert.starts_at <= end)
        )
        for alert in slo_alerts:
            add(
                "slo_burn",
                alert.starts_at,
                f"SLO burn alert #{alert.id} fired: {alert.summary}",
                f"slo:{alert.id}",
                {"alert_id": alert.id, "service": names.get(alert.service_id or 0)},
            )
    for link in store.alert_links(session, incident_id=incident.id):
        alert = link.alert
        if alert.acknowledged_at is not None:
            add(
                "ack",
                alert.acknowledged_at,
                f"Alert #{alert.id} acknowledged by {alert.acknowledged_by or 'someone'}",
                f"ack:{alert.id}",
                {"alert_id": alert.id, "by": alert.acknowledged_by},
            )
        for event in alert_store.alert_events(session, alert_id=alert.id):
            if event.kind == "paged":
                user = event.details.get("user")
                add(
                    "page",
                    event.at,
                    f"Alert #{alert.id} paged {user} via {event.details.get('channel')}",
                    f"alert-page:{event.id}",
                    {"alert_id": alert.id, **event.details},
                )
    return added


def sync_open(session: Session, *, now: datetime) -> int:
    """Sync the timeline of every active incident (the engine job)."""
    return sum(sync_timeline(session, i, now=now) for i in store.active_incidents(session))


def services_named(session: Session, ids: Sequence[int]) -> list[str]:
    """Service names for ids, sorted."""
    if not ids:
        return []
    return sorted(session.scalars(select(Service.name).where(Service.id.in_(list(ids)))))
