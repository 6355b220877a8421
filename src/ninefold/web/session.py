"""FastAPI dependencies of the console: the logged-in user, role checks and CSRF checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, HTTPException, Request

from ninefold.core.clock import Clock
from ninefold.deps import SessionDep
from ninefold.errors import Forbidden
from ninefold.identity.authz import Principal
from ninefold.identity.guard import act_as
from ninefold.identity.tokens import role_allows
from ninefold.web import auth

COOKIE = "nf_session"
LOGIN_CSRF_COOKIE = "nf_login_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


def _login_redirect(request: Request) -> HTTPException:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return HTTPException(303, headers={"Location": f"/ui/login?next={quote(target)}"})


def current_user(request: Request, session: SessionDep) -> auth.WebUser:
    """The logged-in user, or a redirect to the login page.

    Looked up in the request's own database session (the one the page then reads with), so a
    page costs one connection checkout and one transaction, not two.
    """
    secret = request.cookies.get(COOKIE)
    if not secret:
        raise _login_redirect(request)
    clock: Clock = request.app.state.clock
    user = auth.find_session(session, secret=secret, now=clock.now())
    if user is None:
        raise _login_redirect(request)
    # the audit actor, and the principal the flows' team guard checks (ninefold.identity.guard)
    act_as(Principal("user", user.name, user.role, user_id=user.user_id))
    return user


WebUserDep = Annotated[auth.WebUser, Depends(current_user)]


def same_origin(request: Request) -> bool:
    """False when the browser says the request came from another site (Origin/Referer)."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source or source == "null":
        return source != "null"
    parts = urlsplit(source)
    return parts.netloc == request.headers.get("host", request.url.netloc)


@dataclass(frozen=True)
class Act:
    """A checked state-changing request: who, and the submitted form fields."""

    user: auth.WebUser
    form: dict[str, str]

    def get(self, key: str, default: str = "") -> str:
        """A trimmed form field."""
        return self.form.get(key, default).strip()


def acting(role: str) -> Callable[[Request, auth.WebUser], Awaitable[Act]]:
    """Dependency factory for POSTs: same origin, valid CSRF token, at least ``role``."""

    async def dependency(request: Request, user: WebUserDep) -> Act:
        form = await request.form()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        token = request.headers.get(CSRF_HEADER) or fields.get(CSRF_FIELD, "")
        if not same_origin(request) or not token or not auth.same_token(token, user.csrf):
            raise Forbidden("CSRF check failed: reload the page and try again")
        if not role_allows(user.role, role):
            raise Forbidden(f"this needs the {role} role; you have {user.role}")
        return Act(user, fields)

    return dependency


ResponderAct = Annotated[Act, Depends(acting("responder"))]
AdminAct = Annotated[Act, Depends(acting("admin"))]
