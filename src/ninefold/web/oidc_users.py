"""Who a verified OpenID Connect sign-in is: claims -> user, role and team memberships.

The pure helpers read claims; :func:`sign_in` does the queries (never commits: the caller owns
the transaction). A provider account is bound to a user by (issuer, ``sub``) on its first
sign-in (table ``web_identities``), so a later change of the username claim at the provider
neither locks the person out nor hands their account to someone else.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ninefold.config import Settings
from ninefold.identity.models import Team, TeamMember, User
from ninefold.identity.tokens import role_rank
from ninefold.web.models import WebIdentity

log = logging.getLogger(__name__)


class SignInRefused(Exception):
    """A verified provider account that may not use the console; the message is for the user."""


@dataclass(frozen=True)
class UserMapping:
    """How claims become a ninefold user (from the ``NINEFOLD_OIDC_*`` settings)."""

    username_claim: str = "preferred_username"
    groups_claim: str = "groups"
    role_groups: Mapping[str, str] = field(default_factory=dict)
    team_groups: Mapping[str, str] = field(default_factory=dict)
    default_role: str = "viewer"
    create_users: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> UserMapping:
        """The mapping configured by the settings."""
        return cls(
            username_claim=settings.oidc_username_claim,
            groups_claim=settings.oidc_groups_claim,
            role_groups=dict(settings.oidc_role_groups),
            team_groups=dict(settings.oidc_team_groups),
            default_role=settings.oidc_default_role,
            create_users=settings.oidc_create_users,
        )


def username_of(claims: Mapping[str, Any], claim: str) -> str | None:
    """The user name: ``claim``, else a verified ``email``; None when neither is usable."""
    for name in (claim, "email"):
        value = claims.get(name)
        if name == "email" and claims.get("email_verified") is False:
            continue
        if isinstance(value, str) and value.strip() and len(value.strip()) <= 100:
            return value.strip()
    return None


def groups_of(claims: Mapping[str, Any], claim: str) -> list[str]:
    """The groups claim as a list (a list of strings, or one string)."""
    value = claims.get(claim)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [g for g in value if isinstance(g, str)]
    return []


def role_for(groups: list[str], mapping: UserMapping) -> str:
    """The highest role any of ``groups`` maps to, else the default role."""
    roles = [mapping.role_groups[g] for g in groups if g in mapping.role_groups]
    return max(roles, key=role_rank) if roles else mapping.default_role


def sign_in(
    session: Session, *, issuer: str, claims: Mapping[str, Any], mapping: UserMapping, now: datetime
) -> User:
    """The user of a verified sign-in: linked, matched by name, or created; role and teams set."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise SignInRefused("the provider sent no subject ('sub') for the account")
    groups = groups_of(claims, mapping.groups_claim)
    identity = session.scalar(
        select(WebIdentity).where(WebIdentity.issuer == issuer, WebIdentity.subject == subject)
    )
    if identity is None:
        user = _match_or_create(session, issuer=issuer, claims=claims, mapping=mapping, now=now)
        identity = WebIdentity(
            issuer=issuer, subject=subject, user_id=user.id, created_at=now, last_login_at=now
        )
        session.add(identity)
    else:
        user = session.get_one(User, identity.user_id)  # the identity goes with its user
    identity.last_login_at = now
    if mapping.role_groups and not user.managed:
        user.role = role_for(groups, mapping)
    if mapping.team_groups:
        _sync_teams(session, user, groups, mapping)
    session.flush()
    log.info("console sign-in through %s: user %s (%s)", issuer, user.name, user.role)
    return user


def _match_or_create(
    session: Session, *, issuer: str, claims: Mapping[str, Any], mapping: UserMapping, now: datetime
) -> User:
    name = username_of(claims, mapping.username_claim)
    if name is None:
        raise SignInRefused(
            f"the provider sent neither a '{mapping.username_claim}' claim nor a verified email"
        )
    user = session.scalar(select(User).where(User.name == name))
    if user is not None:
        linked = session.scalar(
            select(WebIdentity.id).where(
                WebIdentity.user_id == user.id, WebIdentity.issuer == issuer
            )
        )
        if linked is not None:
            raise SignInRefused(
                f"the ninefold user {name!r} is linked to another account at the provider"
            )
        return user
    if not mapping.create_users:
        raise SignInRefused(f"there is no ninefold user {name!r}; ask an admin to add you")
    email = claims.get("email")
    display = claims.get("name")
    user = User(
        name=name,
        email=email if isinstance(email, str) and len(email) <= 320 else None,
        display_name=display if isinstance(display, str) and len(display) <= 200 else None,
        role=role_for(groups_of(claims, mapping.groups_claim), mapping),
        timezone="UTC",
        managed=False,
        created_at=now,
    )
    session.add(user)
    session.flush()
    return user


def _sync_teams(session: Session, user: User, groups: list[str], mapping: UserMapping) -> None:
    """Memberships of the mapped teams follow the groups: added when in one, else removed."""
    wanted = {mapping.team_groups[g] for g in groups if g in mapping.team_groups}
    teams = session.scalars(select(Team).where(Team.name.in_(set(mapping.team_groups.values()))))
    for team in teams:
        member = session.scalar(
            select(TeamMember).where(TeamMember.team_id == team.id, TeamMember.user_id == user.id)
        )
        if team.name in wanted and member is None:
            session.add(TeamMember(team_id=team.id, user_id=user.id, role="member"))
        elif team.name not in wanted and member is not None:
            session.delete(member)
