"""Test data built through the ORM (the catalog apply flow has its own tests)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ninefold.catalog.models import Service
from ninefold.catalog.spec import SLOSpec
from ninefold.identity.models import Team
from ninefold.slo.models import SLO


def team(session: Session, name: str, now: datetime) -> Team:
    """A team."""
    row = Team(name=name, contact={}, created_at=now, updated_at=now)
    session.add(row)
    session.flush()
    return row


def service(
    session: Session, name: str, owner: Team, now: datetime, tier: int = 1, **kw: Any
) -> Service:
    """A service owned by ``owner``."""
    row = Service(
        name=name,
        tier=tier,
        owner_team_id=owner.id,
        labels={},
        created_at=now,
        updated_at=now,
        **kw,
    )
    session.add(row)
    session.flush()
    return row


def slo(session: Session, svc: Service, now: datetime, **spec: Any) -> SLO:
    """An SLO on ``svc`` from keyword spec fields (name, objective, sli … default to a push ratio)."""
    spec.setdefault("sli", {"ratio": {}})
    spec.setdefault("objective", 0.99)
    parsed = SLOSpec.model_validate({"service": svc.name, **spec})
    row = SLO(
        name=parsed.name,
        service_id=svc.id,
        objective=parsed.objective,
        sli_kind=parsed.sli.kind,
        source=parsed.source,
        budgeting=parsed.budgeting,
        spec=parsed.model_dump(mode="json"),
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    return row
