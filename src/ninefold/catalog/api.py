"""Catalog endpoints: list and read teams and services (reads need a viewer token)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ninefold.catalog import store
from ninefold.catalog.schemas import ServiceDetail, ServicePage, ServiceRead, TeamPage, TeamRead
from ninefold.core.pagination import PageDep
from ninefold.deps import SessionDep, Viewer

router = APIRouter(tags=["catalog"])


@router.get("/teams")
def list_teams(
    _: Viewer,
    session: SessionDep,
    page: PageDep,
    q: Annotated[
        str | None, Query(max_length=200, description="matches name or display name")
    ] = None,
) -> TeamPage:
    """Teams ordered by name."""
    rows, total = store.list_teams(session, limit=page.limit, offset=page.offset, q=q)
    return TeamPage(
        items=[TeamRead.of(t) for t in rows], total=total, limit=page.limit, offset=page.offset
    )


@router.get("/teams/{name}")
def get_team(name: str, _: Viewer, session: SessionDep) -> TeamRead:
    """One team with its members."""
    return TeamRead.of(store.get_team(session, name=name))


@router.get("/services")
def list_services(
    _: Viewer,
    session: SessionDep,
    page: PageDep,
    team: Annotated[str | None, Query(max_length=100, description="owner team name")] = None,
    tier: Annotated[int | None, Query(ge=0, le=3)] = None,
    system: Annotated[str | None, Query(max_length=100)] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="matches name, display name, description")
    ] = None,
) -> ServicePage:
    """Services ordered by tier then name, optionally filtered."""
    rows, total = store.list_services(
        session,
        limit=page.limit,
        offset=page.offset,
        team=team,
        tier=tier,
        system=system,
        q=q,
    )
    return ServicePage(
        items=[ServiceRead.of(s) for s in rows], total=total, limit=page.limit, offset=page.offset
    )


@router.get("/services/{name}")
def get_service(name: str, _: Viewer, session: SessionDep) -> ServiceDetail:
    """One service with owner, dependencies and dependents."""
    svc = store.get_service(session, name=name)
    return ServiceDetail(
        **ServiceRead.of(svc).model_dump(),
        dependents=list(store.dependents(session, service_id=svc.id)),
    )
