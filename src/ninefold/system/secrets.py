"""Named secrets shared by replicas through the database, created on first use."""

from __future__ import annotations

import secrets as _secrets
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ninefold.system.models import AppSecret


def get_or_create(factory: sessionmaker[Session], *, name: str, now: datetime) -> str:
    """Return the secret called ``name``, creating a random one (committed) if there is none.

    Two replicas creating it at once both end with the row that won the insert.
    """
    with factory() as session:
        row = session.get(AppSecret, name)
        if row is not None:
            return row.value
        session.add(AppSecret(name=name, value=_secrets.token_urlsafe(48), created_at=now))
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
    with factory() as session:
        row = session.get(AppSecret, name)
        assert row is not None
        return row.value
