"""Queries for the catalog: teams and services, and the configured objects catalog-as-code syncs.

Never commits; the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, selectinload

from ninefold.catalog.models import Service, ServiceDependency
from ninefold.errors import NotFound
from ninefold.identity.models import Team, TeamMember, User
from ninefold.slo.models import SLO


def _team_query() -> Select[Team]:
    return select(Team).options(selectinload(Team.members).selectinload(TeamMember.user))


def _service_query() -> Select[Service]:
    return select(Service).options(
        selectinload(Service.owner),
        selectinload(Service.dependencies).selectinload(ServiceDependency.depends_on),
    )


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def list_teams(
    session: Session, *, limit: int, offset: int, q: str | None = None
) -> tuple[Sequence[Team], int]:
    """A page of teams ordered by name (``q`` matches name or display name), and the total."""
    stmt = _team_query()
    if q:
        pattern = _like(q)
        stmt = stmt.where(
            or_(
                func.lower(Team.name).like(pattern, escape="\\"),
                func.lower(func.coalesce(Team.display_name, "")).like(pattern, escape="\\"),
            )
        )
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(Team.name).limit(limit).offset(offset)).all()
    return rows, total


def get_team(session: Session, *, name: str) -> Team:
    """The team called ``name``, with its members."""
    team = session.scalar(_team_query().where(Team.name == name))
    if team is None:
        raise NotFound(f"team {name!r} not found")
    return team


def list_services(
    session: Session,
    *,
    limit: int,
    offset: int,
    team: str | None = None,
    tier: int | None = None,
    system: str | None = None,
    q: str | None = None,
) -> tuple[Sequence[Service], int]:
    """A page of services ordered by tier then name, filtered, and the total count."""
    stmt = _service_query()
    if team is not None:
        stmt = stmt.join(Team, Service.owner_team_id == Team.id).where(Team.name == team)
    if tier is not None:
        stmt = stmt.where(Service.tier == tier)
    if system is not None:
        stmt = stmt.where(Service.system == system)
    if q:
        pattern = _like(q)
        stmt = stmt.where(
            or_(
                func.lower(Service.name).like(pattern, escape="\\"),
                func.lower(func.coalesce(Service.display_name, "")).like(pattern, escape="\\"),
                func.lower(func.coalesce(Service.description, "")).like(pattern, escape="\\"),
            )
        )
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(Service.tier, Service.name).limit(limit).offset(offset)
    ).all()
    return rows, total


def get_service(session: Session, *, name: str) -> Service:
    """The service called ``name``, with owner and dependencies."""
    svc = session.scalar(_service_query().where(Service.name == name))
    if svc is None:
        raise NotFound(f"service {name!r} not found")
    return svc


def dependents(session: Session, *, service_id: int) -> Sequence[str]:
    """Names of the services that depend on ``service_id``."""
    stmt = (
        select(Service.name)
        .join(ServiceDependency, ServiceDependency.service_id == Service.id)
        .where(ServiceDependency.depends_on_id == service_id)
        .order_by(Service.name)
    )
    return session.scalars(stmt).all()


def all_users(session: Session) -> Sequence[User]:
    """Every user, ordered by name."""
    return session.scalars(select(User).order_by(User.name)).all()


def all_teams(session: Session) -> Sequence[Team]:
    """Every team with members, ordered by name."""
    return session.scalars(_team_query().order_by(Team.name)).all()


class ServiceHead(NamedTuple):
    """What lists of services show: name, display name, tier and owning team's name."""

    name: str
    display_name: str | None
    tier: int
    owner: str


def service_heads(session: Session) -> list[ServiceHead]:
    """Every service's :class:`ServiceHead`, by name (one query, no ORM objects)."""
    rows = session.execute(
        select(Service.name, Service.display_name, Service.tier, Team.name)
        .join(Team, Team.id == Service.owner_team_id)
        .order_by(Service.name)
    )
    return [ServiceHead(*row) for row in rows]


def all_services(session: Session) -> Sequence[Service]:
    """Every service with owner and dependencies, ordered by name."""
    return session.scalars(_service_query().order_by(Service.name)).all()


def all_slos(session: Session) -> Sequence[SLO]:
    """Every SLO with its service, ordered by name (for catalog sync and export)."""
    return session.scalars(select(SLO).options(selectinload(SLO.service)).order_by(SLO.name)).all()
