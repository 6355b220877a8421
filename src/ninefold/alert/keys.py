"""Creating integrations and their keys (shared by the API and the CLI)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ninefold.alert.models import Integration
from ninefold.errors import Conflict
from ninefold.identity.tokens import new_token


def create(
    session: Session,
    *,
    name: str,
    kind: str,
    service_id: int | None,
    rate_limit_per_minute: int,
    now: datetime,
) -> tuple[Integration, str]:
    """Create an integration; returns it and its key (only the hash is stored)."""
    if session.scalar(select(Integration.id).where(Integration.name == name)) is not None:
        raise Conflict(f"integration {name!r} already exists")
    key, prefix, digest = new_token()
    row = Integration(
        name=name,
        kind=kind,
        service_id=service_id,
        key_prefix=prefix,
        key_hash=digest,
        rate_limit_per_minute=rate_limit_per_minute,
        config={},
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row, key
