"""Queries for users, teams and tokens. Never commits; the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ninefold.errors import InvalidInput, NotFound, Unauthorized
from ninefold.identity.models import ApiToken, Team, User
from ninefold.identity.tokens import ROLES, hash_token, new_token


def get_team(session: Session, *, name: str) -> Team:
    """The team called ``name``."""
    team = session.scalar(select(Team).where(Team.name == name))
    if team is None:
        raise NotFound(f"team {name!r} not found")
    return team


def list_teams(
    session: Session, *, limit: int, offset: int, q: str | None = None
) -> tuple[Sequence[Team], int]:
    """A page of teams ordered by name, and the total count."""
    stmt = select(Team)
    if q:
        stmt = stmt.where(Team.name.contains(q))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(Team.name).limit(limit).offset(offset)).all()
    return rows, total


def get_user(session: Session, *, name: str) -> User:
    """The user called ``name``."""
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise NotFound(f"user {name!r} not found")
    return user


def create_token(
    session: Session,
    *,
    name: str,
    role: str,
    now: datetime,
    expires_at: datetime | None = None,
    team: Team | None = None,
    user: User | None = None,
) -> tuple[ApiToken, str]:
    """Create a token; returns the row and the secret, which is not stored and shown once."""
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if expires_at is not None and expires_at <= now:
        raise InvalidInput("expires_at must be in the future")
    secret, prefix, digest = new_token()
    token = ApiToken(
        name=name,
        prefix=prefix,
        token_hash=digest,
        role=role,
        team_id=team.id if team else None,
        user_id=user.id if user else None,
        created_at=now,
        expires_at=expires_at,
    )
    session.add(token)
    session.flush()
    return token, secret


def find_active_token(session: Session, *, secret: str, now: datetime) -> ApiToken | None:
    """The token for ``secret`` if it exists, is not revoked and has not expired."""
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(secret)))
    if token is None or token.revoked_at is not None:
        return None
    if token.expires_at is not None and token.expires_at <= now:
        return None
    return token


def authenticate_token(session: Session, *, secret: str, now: datetime) -> ApiToken:
    """The live token for ``secret``; raise Unauthorized saying whether it is unknown, revoked or expired."""
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(secret)))
    if token is None:
        raise Unauthorized("invalid token")
    if token.revoked_at is not None:
        raise Unauthorized(f"token {token.id} ({token.name}) was revoked")
    if token.expires_at is not None and token.expires_at <= now:
        raise Unauthorized(
            f"token {token.id} ({token.name}) expired at {token.expires_at.isoformat()}; "
            "create a new one (ninefold token create --expires-in …)"
        )
    return token


def list_tokens(session: Session) -> Sequence[ApiToken]:
    """All tokens, newest first (hashes only, never secrets)."""
    return session.scalars(select(ApiToken).order_by(ApiToken.id.desc())).all()


def revoke_token(session: Session, *, token_id: int, now: datetime) -> ApiToken:
    """Revoke a token by id."""
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"token {token_id} not found")
    if token.revoked_at is None:
        token.revoked_at = now
    return token


def count_tokens(session: Session) -> int:
    """How many tokens exist (to tell a new installation apart)."""
    return session.scalar(select(func.count()).select_from(ApiToken)) or 0
