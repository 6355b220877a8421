"""Login and logout pages: username + password, HttpOnly SameSite=Lax session cookie.

Single sign-on (OpenID Connect) lives in ``web/oidc_login.py`` and ends in the same cookie.
"""

from __future__ import annotations

import secrets
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ninefold.deps import ClockDep, SessionDep
from ninefold.errors import Forbidden
from ninefold.web import auth
from ninefold.web.render import page
from ninefold.web.session import COOKIE, LOGIN_CSRF_COOKIE, Act, acting, same_origin

router = APIRouter()
LOGINS_PER_MINUTE = 10


def safe_next(target: str) -> str:
    """Only local console paths: never an open redirect."""
    if target.startswith("/ui") and not target.startswith("//") and "\\" not in target:
        return target
    return "/ui/"


def login_page(
    request: Request, *, next_: str, username: str = "", error: str = "", status_code: int = 200
) -> HTMLResponse:
    """The login form (password and/or the single sign-on button), optionally with an error."""
    token = secrets.token_urlsafe(24)
    oidc = getattr(request.app.state, "oidc", None)
    response = page(
        request,
        "login.html",
        None,
        csrf=token,
        next=next_,
        username=username,
        error=error,
        status_code=status_code,
        sso=oidc.provider_name if oidc is not None else "",
        password_login=request.app.state.settings.password_login,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/ui/login",
    )
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/ui/") -> HTMLResponse:
    """The login page."""
    return login_page(request, next_=safe_next(next))


@router.post("/login", response_model=None)
def login(
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=1000)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/ui/",
) -> Response:
    """Check the password; on success set the session cookie and go where the user was going."""
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not same_origin(request) or not cookie or not auth.same_token(cookie, csrf_token):
        raise Forbidden("CSRF check failed: reload the login page and try again")
    if not request.app.state.settings.password_login:
        return login_page(
            request,
            next_=safe_next(next),
            error="Password login is turned off; use single sign-on.",
            status_code=403,
        )
    client = request.client.host if request.client else "?"
    limiter = request.app.state.rate_limiter
    if limiter.check(f"web-login:{client}", LOGINS_PER_MINUTE, time.monotonic()) > 0:
        return login_page(
            request,
            next_=safe_next(next),
            username=username,
            error="Too many attempts; wait a minute.",
            status_code=429,
        )
    user = auth.check_password(session, user_name=username.strip(), password=password)
    if user is None:
        return login_page(
            request,
            next_=safe_next(next),
            username=username,
            error="Wrong username or password.",
            status_code=401,
        )
    secret = auth.start_session(session, user=user, now=clock.now())
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookie(request, response, secret)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/ui/login")
    return response


def set_session_cookie(request: Request, response: Response, secret: str) -> None:
    """The console's session cookie (HttpOnly, SameSite=Lax, Secure over HTTPS)."""
    response.set_cookie(
        COOKIE,
        secret,
        max_age=int(auth.SESSION_TTL.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


@router.post("/logout")
def logout(request: Request, _: Annotated[Act, Depends(acting("viewer"))]) -> RedirectResponse:
    """End the session."""
    secret = request.cookies.get(COOKIE, "")
    with request.app.state.session_factory() as session, session.begin():
        auth.end_session(session, secret=secret)
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
