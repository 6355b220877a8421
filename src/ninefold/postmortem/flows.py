"""Postmortem use cases: the policy check when an incident resolves, generated drafts, states,
section edits with revisions, Markdown export, and repeat detection between incidents.

The only postmortem module (with ``action_flows``) that reads other domains: incidents, alerts,
SLOs (budget consumed during the incident), users.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ninefold.alert.models import Alert
from ninefold.catalog.models import Service
from ninefold.errors import Conflict, InvalidInput, NotFound
from ninefold.identity import guard
from ninefold.incident import store as incident_store
from ninefold.incident.models import Incident, IncidentAlert, IncidentService, TimelineEntry
from ninefold.postmortem import draft, similarity, states, store
from ninefold.postmortem.models import (
    ActionItem,
    IncidentRepeat,
    Postmortem,
    PostmortemCheck,
    PostmortemRevision,
)
from ninefold.postmortem.policy import PostmortemPolicy, required_reason
from ninefold.postmortem.wiring import session_policy, session_source
from ninefold.slo.impact import BudgetImpact, budget_consumed_between
from ninefold.slo.models import SLO

SYSTEM_ACTOR = "ninefold"
REPEAT_LOOKBACK = timedelta(days=180)
"""Past incidents declared this long before a new one are compared with it."""
ENSURE_LOOKBACK = timedelta(days=7)
"""``ensure_postmortems`` decides incidents resolved this recently."""


# --- facts the draft is generated from --------------------------------------------------------


def budget_impacts(session: Session, *, incident: Incident, end: datetime) -> list[BudgetImpact]:
    """Error budget consumed per SLO of the affected services over started → ``end``."""
    ids = incident_store.service_ids(session, incident_id=incident.id)
    if not ids:
        return []
    slos = session.scalars(select(SLO).where(SLO.service_id.in_(ids)).order_by(SLO.name))
    source = session_source(session)
    return [
        budget_consumed_between(
            session, slo=slo, start=incident.started_at, end=end, prometheus=source
        )
        for slo in slos
    ]


def _item_view(item: ActionItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "title": item.title,
        "owner": item.owner.name if item.owner is not None else None,
        "priority": item.priority,
        "status": item.status,
        "due_date": item.due_date.isoformat() if item.due_date else None,
        "incident_id": item.incident_id,
    }


def _items_of(session: Session, incident_id: int, *, open_only: bool = False) -> list[ActionItem]:
    statuses = list(states.OPEN_ITEM_STATUSES) if open_only else None
    rows, _ = store.list_items(session, status=statuses, incident_ids=[incident_id], limit=500)
    return rows


def incident_facts(
    session: Session, *, incident: Incident, now: datetime, reason: str | None
) -> dict[str, Any]:
    """Everything a draft shows, as plain values (datetimes stay datetimes)."""
    end = incident.resolved_at or now
    impacts = budget_impacts(session, incident=incident, end=end)
    names = sorted(
        session.scalars(
            select(Service.name)
            .join(IncidentService, IncidentService.service_id == Service.id)
            .where(IncidentService.incident_id == incident.id)
        )
    )
    pages = session.scalar(
        select(func.count())
        .select_from(TimelineEntry)
        .where(TimelineEntry.incident_id == incident.id, TimelineEntry.kind == "page")
    )
    repeats = []
    for link in store.repeats_of(session, incident_id=incident.id):
        earlier = session.get(Incident, link.earlier_id)
        if earlier is None:  # pragma: no cover - cascade removes the link
            continue
        repeats.append(
            {
                "incident_id": earlier.id,
                "title": earlier.title,
                "reason": link.reason,
                "score": link.score,
                "resolved_at": earlier.resolved_at.isoformat() if earlier.resolved_at else None,
                "open_items": [
                    _item_view(i) for i in _items_of(session, earlier.id, open_only=True)
                ],
            }
        )
    return {
        "incident": {
            "id": incident.id,
            "title": incident.title,
            "severity": incident.severity,
            "summary": incident.summary,
            "declared_by": incident.declared_by,
            "started_at": incident.started_at,
            "detected_at": incident.detected_at,
            "acknowledged_at": incident.acknowledged_at,
            "mitigated_at": incident.mitigated_at,
            "resolved_at": incident.resolved_at,
        },
        "services": names,
        "budgets": [
            {
                "slo": i.slo,
                "service": i.service,
                "objective": i.objective,
                "unit": i.unit,
                "bad": i.bad,
                "budget": i.budget,
                "consumed_fraction": i.consumed_fraction,
            }
            for i in impacts
        ],
        "alerts": len(incident_store.alert_links(session, incident_id=incident.id)),
        "pages": int(pages or 0),
        "key_moments": [
            {"at": e.at, "message": e.message, "actor": e.actor, "kind": e.kind}
            for e in incident_store.timeline(
                session, incident_id=incident.id, key_moments_only=True
            )
        ],
        "action_items": [_item_view(i) for i in _items_of(session, incident.id)],
        "repeats": repeats,
        "reason": reason,
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _template(policy: PostmortemPolicy) -> str:
    if policy.template_path is None:
        return draft.default_template()
    try:
        return policy.template_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(
            f"postmortem template {policy.template_path}: cannot read it ({exc.strerror})"
        ) from None


def _render(facts: dict[str, Any], policy: PostmortemPolicy) -> list[draft.Section]:
    values = draft.template_values(facts)
    try:
        return draft.split_sections(draft.render(_template(policy), values))
    except draft.TemplateProblem as exc:
        raise InvalidInput(str(exc)) from None


def _section_dicts(sections: Iterable[draft.Section]) -> list[dict[str, Any]]:
    return [{"key": s.key, "heading": s.heading, "body": s.body} for s in sections]


def sections_of(pm: Postmortem) -> list[draft.Section]:
    """The stored sections of a postmortem."""
    return [draft.Section(s["key"], s.get("heading", ""), s.get("body", "")) for s in pm.sections]


# --- creation and the policy ------------------------------------------------------------------


def create_postmortem(
    session: Session,
    *,
    incident: Incident,
    actor: str,
    now: datetime,
    reason: str = "requested",
    policy: PostmortemPolicy | None = None,
) -> Postmortem:
    """Generate a draft postmortem for ``incident``; Conflict if it already has one."""
    guard.check_incident(session, incident)
    if incident.status == "merged":
        raise Conflict(
            f"incident {incident.id} was merged into incident {incident.merged_into_id}; "
            "write the postmortem of that one"
        )
    existing = store.postmortem_of(session, incident_id=incident.id)
    if existing is not None:
        raise Conflict(f"incident {incident.id} already has postmortem {existing.id}")
    link_repeats(session, incident=incident, now=now)
    policy = policy or session_policy(session)
    facts = incident_facts(session, incident=incident, now=now, reason=reason)
    pm = Postmortem(
        incident_id=incident.id,
        title=incident.title,
        status="draft",
        reason=reason[:500],
        sections=_section_dicts(_render(facts, policy)),
        facts=_jsonable({k: v for k, v in facts.items() if k != "key_moments"})
        | {"timings": draft.timings(facts["incident"])},
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    session.add(pm)
    session.flush()
    session.execute(
        update(ActionItem)
        .where(ActionItem.incident_id == incident.id, ActionItem.postmortem_id.is_(None))
        .values(postmortem_id=pm.id)
    )
    incident_store.add_entry(
        session,
        incident_id=incident.id,
        kind="postmortem",
        at=now,
        actor=actor,
        message=f"Postmortem #{pm.id} drafted ({reason})",
        details={"postmortem_id": pm.id},
        ref=f"postmortem:{pm.id}",
        now=now,
    )
    return pm


def on_incident_resolved(
    session: Session, *, incident: Incident, now: datetime, policy: PostmortemPolicy | None = None
) -> Postmortem | None:
    """Link possible repeats, decide by policy, and draft the postmortem if one is required.

    Idempotent: the decision is recorded per resolution (``postmortem_checks``), and an incident
    that already has a postmortem keeps it.
    """
    if incident.status != "resolved" or incident.resolved_at is None:
        return None
    check = store.get_check(session, incident_id=incident.id)
    if check is not None and check.resolved_at == incident.resolved_at:
        return None
    from ninefold.incident.flows import severity_defs

    policy = policy or session_policy(session)
    link_repeats(session, incident=incident, now=now)
    impacts = budget_impacts(session, incident=incident, end=incident.resolved_at)
    consumed = {i.slo: i.consumed_fraction for i in impacts}
    rank = next((d.rank for d in severity_defs(session) if d.name == incident.severity), None)
    reason = required_reason(incident.severity, consumed, policy, rank=rank)
    if check is None:
        check = PostmortemCheck(incident_id=incident.id)
        session.add(check)
    check.resolved_at, check.required, check.reason = (
        incident.resolved_at,
        reason is not None,
        reason,
    )
    check.consumed, check.checked_at = dict(consumed), now
    session.flush()
    if reason is None or store.postmortem_of(session, incident_id=incident.id) is not None:
        return None
    return create_postmortem(
        session, incident=incident, actor=SYSTEM_ACTOR, now=now, reason=reason, policy=policy
    )


def ensure_postmortems(
    session: Session, now: datetime, *, policy: PostmortemPolicy | None = None
) -> int:
    """Engine job: decide every recently resolved incident not decided yet; returns drafts made."""
    made = 0
    for incident_id in store.resolved_unchecked(session, since=now - ENSURE_LOOKBACK):
        incident = incident_store.get_incident(session, incident_id=incident_id)
        made += on_incident_resolved(session, incident=incident, now=now, policy=policy) is not None
    return made


# --- states, edits, export --------------------------------------------------------------------


def _revision(
    session: Session,
    pm: Postmortem,
    section: str,
    before: str | None,
    after: str | None,
    *,
    actor: str,
    now: datetime,
) -> None:
    session.add(
        PostmortemRevision(
            postmortem_id=pm.id, section=section, actor=actor, at=now, before=before, after=after
        )
    )


def set_status(
    session: Session, *, pm: Postmortem, status: str, actor: str, now: datetime
) -> Postmortem:
    """Move a postmortem along draft → in_review → published (review may return it to draft)."""
    check_postmortem(session, pm)
    try:
        states.check_transition(pm.status, status)
    except states.StateError as exc:
        raise Conflict(str(exc)) from None
    _revision(session, pm, "status", pm.status, status, actor=actor, now=now)
    pm.status = status
    pm.updated_at = now
    if status == "published":
        pm.published_at = now
    session.flush()
    return pm


def check_postmortem(session: Session, pm: Postmortem) -> None:
    """Team guard: a postmortem belongs to the teams of its incident's services."""
    guard.check_of_incident(session, incident_id=pm.incident_id, kind="postmortem", name=str(pm.id))


def _editable(pm: Postmortem) -> None:
    if pm.status not in states.EDITABLE:
        raise Conflict(f"postmortem {pm.id} is {pm.status}; published postmortems do not change")


def edit_section(
    session: Session,
    *,
    pm: Postmortem,
    key: str,
    body: str,
    actor: str,
    now: datetime,
    heading: str | None = None,
) -> Postmortem:
    """Replace one section's body (a new key adds a section at the end); records a revision."""
    check_postmortem(session, pm)
    _editable(pm)
    sections = [dict(s) for s in pm.sections]
    found = next((s for s in sections if s["key"] == key), None)
    if found is None:
        if heading is None:
            known = ", ".join(s["key"] for s in sections)
            raise NotFound(f"postmortem {pm.id} has no section {key!r} ({known}); give a heading")
        found = {"key": key, "heading": heading, "body": ""}
        sections.append(found)
    if found["body"] == body and (heading is None or heading == found["heading"]):
        return pm
    _revision(session, pm, key, found["body"], body, actor=actor, now=now)
    found["body"] = body
    found["edited"] = True
    if heading is not None:
        found["heading"] = heading
    pm.sections = sections
    pm.updated_at = now
    session.flush()
    return pm


def refresh(session: Session, *, pm: Postmortem, actor: str, now: datetime) -> list[str]:
    """Re-generate the sections nobody has edited by hand (new key moments, action items …);
    returns the keys that changed. Each change is recorded as a revision."""
    if actor != SYSTEM_ACTOR:  # the system refreshes it when an action item changes
        check_postmortem(session, pm)
    _editable(pm)
    incident = incident_store.get_incident(session, incident_id=pm.incident_id)
    facts = incident_facts(session, incident=incident, now=now, reason=pm.reason)
    fresh = {s.key: s for s in _render(facts, session_policy(session))}
    changed = []
    sections = [dict(s) for s in pm.sections]
    for s in sections:
        new = fresh.get(s["key"])
        if new is None or s.get("edited") or new.body == s["body"]:
            continue
        _revision(session, pm, s["key"], s["body"], new.body, actor=actor, now=now)
        s["body"] = new.body
        changed.append(s["key"])
    present = {s["key"] for s in sections}
    for key, new in fresh.items():
        if key not in present:
            _revision(session, pm, key, None, new.body, actor=actor, now=now)
            sections.append({"key": key, "heading": new.heading, "body": new.body})
            changed.append(key)
    if changed:
        pm.sections, pm.updated_at = sections, now
        session.flush()
    return changed


def markdown(session: Session, *, pm: Postmortem) -> str:
    """The postmortem as one Markdown document."""
    incident = incident_store.get_incident(session, incident_id=pm.incident_id)
    meta = [
        ("Incident", f"#{incident.id} ({incident.severity}) {incident.title}"),
        ("Created", f"{pm.created_at.isoformat()} by {pm.created_by}"),
        ("Why", pm.reason),
    ]
    if pm.published_at is not None:
        meta.append(("Published", pm.published_at.isoformat()))
    return draft.to_markdown(title=pm.title, status=pm.status, meta=meta, sections=sections_of(pm))


# --- repeat detection -------------------------------------------------------------------------


def _shape(session: Session, incident: Incident) -> similarity.IncidentShape:
    fingerprints = session.scalars(
        select(Alert.fingerprint)
        .join(IncidentAlert, IncidentAlert.alert_id == Alert.id)
        .where(IncidentAlert.incident_id == incident.id)
    )
    return similarity.IncidentShape(
        title=incident.title,
        services=frozenset(incident_store.service_ids(session, incident_id=incident.id)),
        fingerprints=frozenset(fingerprints),
    )


def link_repeats(session: Session, *, incident: Incident, now: datetime) -> list[IncidentRepeat]:
    """Link earlier incidents on the same services that this one may repeat (see similarity.py)."""
    if incident.status == "merged":
        return []
    shape = _shape(session, incident)
    if not shape.services:
        return []
    candidates = session.scalars(
        select(Incident)
        .where(
            Incident.id.in_(
                select(IncidentService.incident_id).where(
                    IncidentService.service_id.in_(list(shape.services))
                )
            )
        )
        .where(Incident.id != incident.id, Incident.status != "merged")
        .where(Incident.declared_at <= incident.declared_at)
        .where(Incident.declared_at >= incident.declared_at - REPEAT_LOOKBACK)
        .order_by(Incident.id)
    )
    linked = []
    for past in list(candidates):
        if past.declared_at == incident.declared_at and past.id > incident.id:
            continue
        if store.repeat(session, incident_id=incident.id, earlier_id=past.id) is not None:
            continue  # already linked: no need to load its shape again
        found = similarity.match(shape, _shape(session, past))
        if found is None:
            continue
        row = IncidentRepeat(
            incident_id=incident.id,
            earlier_id=past.id,
            reason=found.reason,
            score=found.score,
            detected_at=now,
        )
        session.add(row)
        linked.append(row)
        incident_store.add_entry(
            session,
            incident_id=incident.id,
            kind="repeat",
            at=now,
            actor=SYSTEM_ACTOR,
            message=f"Possible repeat of incident #{past.id} ({past.title}): "
            + ("same alert fingerprint" if found.reason == "fingerprint" else "similar title"),
            details={"earlier": past.id, "reason": found.reason, "score": found.score},
            ref=f"repeat:{past.id}",
            now=now,
        )
    session.flush()
    return linked


def link_repeats_open(session: Session, *, now: datetime) -> int:
    """Engine job: link possible repeats of every active incident; returns links added."""
    return sum(
        len(link_repeats(session, incident=i, now=now))
        for i in incident_store.active_incidents(session)
    )
