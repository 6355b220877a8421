"""Pydantic I/O for the catalog API: teams and services as read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from ninefold.catalog.models import Service
from ninefold.core.pagination import Page
from ninefold.identity.models import Team


class MemberRead(BaseModel):
    """A team member."""

    user: str
    display_name: str | None
    role: str


class TeamRead(BaseModel):
    """A team with its members."""

    name: str
    display_name: str | None
    description: str | None
    contact: dict[str, Any]
    members: list[MemberRead]
    managed: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, team: Team) -> TeamRead:
        """Build from a row (members and their users loaded)."""
        return cls(
            name=team.name,
            display_name=team.display_name,
            description=team.description,
            contact=dict(team.contact or {}),
            members=[
                MemberRead(user=m.user.name, display_name=m.user.display_name, role=m.role)
                for m in team.members
            ],
            managed=team.managed,
            created_at=team.created_at,
            updated_at=team.updated_at,
        )


class LinksRead(BaseModel):
    """Where to find more about a service."""

    runbook: str | None
    dashboard: str | None
    repository: str | None


class GateRead(BaseModel):
    """A service's error-budget release gate policy."""

    min_budget_remaining: float | None
    block_on_no_data: bool


class ServiceRead(BaseModel):
    """A service with its owner's name and its dependencies' names."""

    name: str
    display_name: str | None
    tier: int
    owner: str
    description: str | None
    lifecycle: str | None
    system: str | None
    depends_on: list[str]
    links: LinksRead
    labels: dict[str, Any]
    gate: GateRead
    managed: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, svc: Service) -> ServiceRead:
        """Build from a row (owner and dependencies loaded)."""
        return cls(
            name=svc.name,
            display_name=svc.display_name,
            tier=svc.tier,
            owner=svc.owner.name,
            description=svc.description,
            lifecycle=svc.lifecycle,
            system=svc.system,
            depends_on=sorted(d.depends_on.name for d in svc.dependencies),
            links=LinksRead(
                runbook=svc.runbook_url,
                dashboard=svc.dashboard_url,
                repository=svc.repository_url,
            ),
            labels=dict(svc.labels or {}),
            gate=GateRead(
                min_budget_remaining=svc.gate_min_budget,
                block_on_no_data=svc.gate_block_on_no_data,
            ),
            managed=svc.managed,
            created_at=svc.created_at,
            updated_at=svc.updated_at,
        )


class ServiceDetail(ServiceRead):
    """A service with the names of the services that depend on it."""

    dependents: list[str]


TeamPage = Page[TeamRead]
ServicePage = Page[ServiceRead]
