"""The one team-scope guard the domain flows call with the object they are about to change.

The edges say who is acting: the API token dependency (``deps.require``) and the console's
session dependency call :func:`act_as`, which names the audit actor and puts the
:class:`~ninefold.identity.authz.Principal` in the same per-request box
(:mod:`ninefold.audit.context`). Domain flows (alert, oncall, incident, postmortem, deploy,
heartbeat, SLO ingestion, status page) then call a ``check_*`` function here before they change
anything; it looks up the owning team(s) and asks the pure policy
(:func:`ninefold.identity.authz.decide`), raising :class:`~ninefold.errors.Forbidden` (HTTP 403)
with a message naming both teams. Without a principal — CLI commands, engine modules, signed
action links, tests calling flows directly — nothing is checked: those are operator or system
actions.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ninefold.audit.context import ActorBox, actor_scope, current, set_actor
from ninefold.catalog.models import Service
from ninefold.errors import Forbidden
from ninefold.identity.authz import (
    WRITE_ROLE,
    Actor,
    Principal,
    decide,
    token_label,
    user_label,
)
from ninefold.identity.models import Team, TeamMember

_KEY = "principal"


def actor_name(principal: Principal) -> str:
    """The audit actor of a principal: ``token:<name>`` or ``user:<name>``."""
    return f"{principal.kind}:{principal.name}"


def act_as(principal: Principal) -> None:
    """Name the current request's actor and principal (called by the auth dependencies)."""
    set_actor(actor_name(principal))
    current().extra[_KEY] = principal


@contextmanager
def acting_as(principal: Principal, *, clock: Any = None) -> Iterator[ActorBox]:
    """Run a block as ``principal`` outside a request (scripts, tests of the flows)."""
    with actor_scope(actor_name(principal), clock=clock) as box:
        box.extra[_KEY] = principal
        yield box


def current_principal() -> Principal | None:
    """Who is acting in this request, or None for CLI, engine and system changes."""
    found = current().extra.get(_KEY)
    return found if isinstance(found, Principal) else None


def _team_names(session: Session, ids: Iterable[int]) -> dict[int, str]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = session.execute(select(Team.id, Team.name).where(Team.id.in_(wanted))).all()
    return {int(i): str(n) for i, n in rows}


def resolve(session: Session, principal: Principal) -> Actor:
    """The role, teams acted for, and label of ``principal``."""
    if principal.kind == "token":
        if principal.team_id is None:
            return Actor(principal.role, None, token_label(principal.name, None))
        names = _team_names(session, [principal.team_id])
        team = names.get(principal.team_id, f"#{principal.team_id}")
        return Actor(principal.role, frozenset([principal.team_id]), token_label("", team))
    if principal.role == "admin":
        return Actor(principal.role, None, f"admin {principal.name!r}")
    rows = session.execute(
        select(Team.id, Team.name)
        .join(TeamMember, TeamMember.team_id == Team.id)
        .where(TeamMember.user_id == principal.user_id)
    ).all()
    teams = {int(i): str(n) for i, n in rows}
    return Actor(principal.role, frozenset(teams), user_label(principal.name, list(teams.values())))


def ensure(
    session: Session,
    *,
    kind: str,
    name: str,
    team_ids: Iterable[int | None],
    needed: str = WRITE_ROLE,
) -> None:
    """Raise Forbidden unless the current principal may change this object (owned by
    ``team_ids``; None entries are ignored). No principal: allowed."""
    principal = current_principal()
    if principal is None:
        return
    owners: Mapping[int, str] = _team_names(session, [t for t in team_ids if t is not None])
    actor = resolve(session, principal)
    decision = decide(actor, kind=kind, name=name, owners=owners, needed=needed)
    if not decision.allowed:
        raise Forbidden(decision.reason)


def service_owners(session: Session, service_ids: Iterable[int | None]) -> list[int]:
    """The owning teams of some services."""
    ids = sorted({s for s in service_ids if s is not None})
    if not ids:
        return []
    return list(session.scalars(select(Service.owner_team_id).where(Service.id.in_(ids))))


def check_team(
    session: Session, *, kind: str, name: str, team_id: int | None, needed: str = WRITE_ROLE
) -> None:
    """Guard a change of an object owned by one team (or by none)."""
    ensure(session, kind=kind, name=name, team_ids=[team_id], needed=needed)


def check_service(session: Session, *, kind: str, name: str, service_id: int | None) -> None:
    """Guard a change of an object belonging to a service (owned by the service's team)."""
    ensure(session, kind=kind, name=name, team_ids=service_owners(session, [service_id]))


def check_alert(session: Session, alert: Any) -> None:
    """Guard a change of an alert (acknowledge, resolve, snooze, reassign, silence from it)."""
    check_service(session, kind="alert", name=str(alert.id), service_id=alert.service_id)


def incident_owners(session: Session, incident_id: int) -> list[int]:
    """The teams owning an incident's affected services."""
    from ninefold.incident.models import IncidentService

    rows = session.execute(
        select(Service.owner_team_id)
        .join(IncidentService, IncidentService.service_id == Service.id)
        .where(IncidentService.incident_id == incident_id)
    ).scalars()
    return list(rows)


def check_incident(session: Session, incident: Any) -> None:
    """Guard a change of an incident: any team owning one of its services may change it; an
    incident without services is everyone's (anyone may declare one, on any service)."""
    check_of_incident(session, incident_id=incident.id, kind="incident", name=str(incident.id))


def check_of_incident(session: Session, *, incident_id: int, kind: str, name: str) -> None:
    """Guard a change of something belonging to an incident (its postmortem, an action item)."""
    if current_principal() is None:
        return
    owners = incident_owners(session, incident_id)
    ensure(session, kind=kind, name=name, team_ids=owners)


def check_silence(session: Session, *, name: str, matchers: Sequence[Mapping[str, Any]]) -> None:
    """Guard creating or expiring a silence. Silences match labels, not services: a team-scoped
    principal's silence must hold an exact ``service="…"`` matcher, and every service it names
    must be its team's (or unknown to the catalog)."""
    principal = current_principal()
    if principal is None:
        return
    services = [
        str(m.get("value"))
        for m in matchers
        if m.get("name") == "service" and not m.get("isRegex") and m.get("isEqual", True)
    ]
    actor = resolve(session, principal)
    if actor.teams is not None and not services:
        raise Forbidden(
            f'{actor.label} cannot change silence {name!r}: it has no exact service="…" '
            "matcher, so it could mute any team's alerts (only org-wide principals may)"
        )
    owners = session.scalars(select(Service.owner_team_id).where(Service.name.in_(services)))
    ensure(session, kind="silence", name=name, team_ids=list(owners))
