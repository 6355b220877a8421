"""Console passwords (argon2) and browser sessions (server-side rows, hashed cookie values).

Queries only; never commits: the caller owns the transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ninefold.errors import InvalidInput, NotFound
from ninefold.identity.models import User
from ninefold.web.models import WebPassword, WebSession

SESSION_TTL = timedelta(hours=12)
MIN_PASSWORD = 10
_hasher = PasswordHasher()
# Verified against when the user is unknown, so that both cases take the same time.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


@dataclass(frozen=True)
class WebUser:
    """Who is logged in: user name, console role and the session's CSRF token."""

    user_id: int
    name: str
    display_name: str
    role: str
    csrf: str


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def set_password(session: Session, *, user_name: str, password: str, now: datetime) -> None:
    """Store the argon2 hash of ``password`` for the user; ends the user's sessions."""
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"password: at least {MIN_PASSWORD} characters")
    user = session.scalar(select(User).where(User.name == user_name))
    if user is None:
        raise NotFound(f"user {user_name!r} not found")
    row = session.get(WebPassword, user.id)
    digest = _hasher.hash(password)
    if row is None:
        session.add(WebPassword(user_id=user.id, password_hash=digest, updated_at=now))
    else:
        row.password_hash = digest
        row.updated_at = now
    session.execute(delete(WebSession).where(WebSession.user_id == user.id))


def check_password(session: Session, *, user_name: str, password: str) -> User | None:
    """The user when ``password`` is theirs, else None (same work for unknown users)."""
    user = session.scalar(select(User).where(User.name == user_name))
    row = session.get(WebPassword, user.id) if user is not None else None
    digest = row.password_hash if row is not None else _DUMMY_HASH
    try:
        _hasher.verify(digest, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or row is None:
        return None
    if _hasher.check_needs_rehash(digest):
        row.password_hash = _hasher.hash(password)
    return user


def start_session(session: Session, *, user: User, now: datetime) -> str:
    """Create a session for ``user``; returns the cookie value (only its hash is stored)."""
    secret = secrets.token_urlsafe(32)
    session.execute(delete(WebSession).where(WebSession.expires_at <= now))
    session.add(
        WebSession(
            token_hash=_digest(secret),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + SESSION_TTL,
            last_seen_at=now,
        )
    )
    session.flush()
    return secret


def find_session(session: Session, *, secret: str, now: datetime) -> WebUser | None:
    """The logged-in user of a cookie value, or None when unknown or expired."""
    found = session.execute(
        select(WebSession, User)
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.token_hash == _digest(secret))
    ).first()
    if found is None:
        return None
    row, user = found
    if row.expires_at <= now:
        return None
    return WebUser(user.id, user.name, user.display_name or user.name, user.role, row.csrf_token)


def end_session(session: Session, *, secret: str) -> None:
    """Log a cookie out."""
    session.execute(delete(WebSession).where(WebSession.token_hash == _digest(secret)))


def same_token(a: str, b: str) -> bool:
    """Constant-time comparison of two CSRF tokens."""
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
