"""FastAPI dependencies shared by every router: session, clock, settings, principal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from ninefold.config import Settings
from ninefold.core.clock import Clock
from ninefold.db.engine import read_only
from ninefold.errors import Forbidden, Unauthorized
from ninefold.identity import authz
from ninefold.identity import store as identity_store
from ninefold.identity.guard import act_as
from ninefold.identity.tokens import role_allows


def _factory(request: Request) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = request.app.state.session_factory
    return factory


def get_session(request: Request) -> Iterator[Session]:
    """A session whose transaction commits when the endpoint returns without error, *before*
    the answer is sent (``SessionDep``'s scope ``function``): with FastAPI's default scope the
    commit ran after the response, so a 2xx could be followed by a failed commit or a crash.

    A console page (``GET``/``HEAD`` under ``/ui/``) on PostgreSQL reads without a
    transaction: each statement sees the data committed when it runs, and the ``BEGIN`` and
    ``COMMIT`` round trips of a page (two of its six to twelve) are saved. Such a session
    refuses to write (:func:`ninefold.db.engine.read_only`).
    """
    factory = _factory(request)
    with factory() as session, session.begin():
        if request.method in _READ_METHODS and request.url.path.startswith("/ui/"):
            read_only(session)
        yield session


_READ_METHODS = frozenset({"GET", "HEAD"})


def get_clock(request: Request) -> Clock:
    """The application's clock."""
    clock: Clock = request.app.state.clock
    return clock


def get_settings(request: Request) -> Settings:
    """The application's settings."""
    settings: Settings = request.app.state.settings
    return settings


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
ClockDep = Annotated[Clock, Depends(get_clock)]
SettingsDep = Annotated[Settings, Depends(get_settings)]

_bearer = HTTPBearer(auto_error=False, description="API token from `ninefold token create`")


@dataclass(frozen=True)
class Principal:
    """Who is calling: a token's id, name, role and optional team scope."""

    token_id: int
    name: str
    role: str
    team_id: int | None


def require(role: str, *, org_wide: bool = False) -> Callable[..., Principal]:
    """Dependency factory: the caller must present a live token with at least ``role``;
    ``org_wide``: a token scoped to a team is refused (operations no team owns)."""

    def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise Unauthorized("missing bearer token: send 'Authorization: Bearer <token>'")
        clock = get_clock(request)
        with _factory(request)() as session, session.begin():
            token = identity_store.authenticate_token(
                session, secret=credentials.credentials, now=clock.now()
            )
            token.last_used_at = clock.now()
            principal = Principal(token.id, token.name, token.role, token.team_id)
        # the actor of this request's audited changes, and the principal the flows' team
        # guard (ninefold.identity.guard) checks
        p = principal
        act_as(authz.Principal("token", p.name, p.role, token_id=p.token_id, team_id=p.team_id))
        if not role_allows(principal.role, role):
            raise Forbidden(f"this needs the {role} role; the token has {principal.role}")
        if org_wide and principal.team_id is not None:
            raise Forbidden(
                f"this needs an org-wide {role} token; token {principal.name!r} is scoped to a team"
            )
        return principal

    return dependency


Viewer = Annotated[Principal, Depends(require("viewer"))]
Responder = Annotated[Principal, Depends(require("responder"))]
Admin = Annotated[Principal, Depends(require("admin", org_wide=True))]
TeamAdmin = Annotated[Principal, Depends(require("admin"))]
"""An admin token, possibly team-scoped: the flow's team guard limits it to its team's objects."""
