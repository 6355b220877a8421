"""Single sign-on routes: ``/ui/login/oidc`` sends the browser to the provider, the callback
checks state and the id_token, then starts the same session as a password login.

Both routes answer 404 when ``NINEFOLD_OIDC_ISSUER`` is unset. Failures come back as the login
page with a message (400 for a broken or stale request, 401 for a refused token, 403 for an
account that may not sign in, 502 when the provider is down or answers nonsense); never a 500.
"""

from __future__ import annotations

import hashlib
import hmac

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.exc import IntegrityError

from ninefold.alert.links import link_secret
from ninefold.deps import ClockDep
from ninefold.errors import NotFound
from ninefold.web import auth
from ninefold.web.login import login_page, safe_next, set_session_cookie
from ninefold.web.oidc import FLOW_TTL_SECONDS, OidcClient, OidcError, seal, unseal
from ninefold.web.oidc_users import SignInRefused, UserMapping, sign_in

router = APIRouter()
FLOW_COOKIE = "nf_oidc"
FLOW_PATH = "/ui/login/oidc"
_DENIED = {
    "access_denied": "you declined or were not allowed to sign in",
    "login_required": "you are not logged in there",
    "consent_required": "consent is required",
    "interaction_required": "it needs you to interact with it",
}


def _client(request: Request) -> OidcClient:
    client: OidcClient | None = getattr(request.app.state, "oidc", None)
    if client is None:
        raise NotFound("single sign-on is not configured (NINEFOLD_OIDC_ISSUER)")
    return client


def _flow_key(request: Request) -> bytes:
    """Signs the flow cookie: derived from the app's signing key, so every replica shares it."""
    secret = link_secret(request.app.state).encode("utf-8")
    return hmac.new(secret, b"ninefold oidc flow cookie", hashlib.sha256).digest()


def _failed(request: Request, message: str, status_code: int, next_: str = "/ui/") -> HTMLResponse:
    response = login_page(
        request, next_=next_, error=f"Single sign-on failed: {message}", status_code=status_code
    )
    response.delete_cookie(FLOW_COOKIE, path=FLOW_PATH)
    return response


@router.get("/login/oidc", response_model=None)
def oidc_start(request: Request, clock: ClockDep, next: str = "/ui/") -> Response:
    """Send the browser to the provider (authorization code, PKCE S256, state and nonce)."""
    client = _client(request)
    next_ = safe_next(next[:2000])
    try:
        url, flow = client.start(next_, now=clock.now())
    except OidcError as exc:
        return _failed(request, str(exc), 502, next_)
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        FLOW_COOKIE,
        seal(flow, _flow_key(request)),
        max_age=FLOW_TTL_SECONDS,
        httponly=True,
        samesite="lax",  # the provider's redirect back is a cross-site top-level GET
        secure=request.url.scheme == "https",
        path=FLOW_PATH,
    )
    return response


@router.get("/login/oidc/callback", response_model=None)
def oidc_callback(
    request: Request,
    clock: ClockDep,
    code: str = "",
    state: str = "",
    error: str = "",
) -> Response:
    """Check state, exchange the code, verify the id_token, map the user, start a session."""
    client = _client(request)
    now = clock.now()
    raw = request.cookies.get(FLOW_COOKIE, "")
    flow = unseal(raw, _flow_key(request), now=now) if raw else None
    if error:
        reason = _DENIED.get(error[:60], f"it answered {error[:60]!r}")
        return _failed(request, f"{client.provider_name} did not sign you in: {reason}.", 401)
    if flow is None:
        return _failed(
            request, "the sign-in expired or was started in another browser; try again.", 400
        )
    if not state or not auth.same_token(state, flow.state):
        return _failed(request, "the reply does not match this browser's sign-in (state).", 400)
    if not code:
        return _failed(request, f"{client.provider_name} sent no authorization code.", 400)
    try:
        claims = client.finish(flow, code=code[:2000], now=now)
    except OidcError as exc:
        return _failed(request, f"{exc}.", exc.status_code, flow.next)
    mapping = UserMapping.from_settings(request.app.state.settings)
    try:
        with request.app.state.session_factory() as session, session.begin():
            user = sign_in(session, issuer=client.issuer, claims=claims, mapping=mapping, now=now)
            secret = auth.start_session(session, user=user, now=now)
    except SignInRefused as exc:
        return _failed(request, f"{exc}.", 403, flow.next)
    except IntegrityError:  # the same person's first sign-in, twice at once
        return _failed(request, "a concurrent sign-in created the same user; try again.", 409)
    response = RedirectResponse(safe_next(flow.next), status_code=303)
    set_session_cookie(request, response, secret)
    response.delete_cookie(FLOW_COOKIE, path=FLOW_PATH)
    return response
