"""Single sign-on to the console against a real OpenID Connect provider on a loopback port.

The browser's part is played by hand: the console's redirect is followed to the provider with
httpx, the provider's redirect back is followed into the console, so every check (state, PKCE,
the id_token's signature, issuer, audience, expiry and nonce) runs as it does for a person.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from joserfc.jwk import RSAKey
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from ninefold.app import create_app
from ninefold.config import Settings
from ninefold.core.clock import FrozenClock
from ninefold.identity.models import Team, TeamMember, User
from ninefold.web import auth
from ninefold.web.models import WebIdentity, WebSession
from tests.live import serve
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider, running
from tests.test_outbox_delivery import closed_port

BASE = "http://testserver"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def provider(clock: FrozenClock) -> Iterator[Provider]:
    """The provider, issuing tokens at the console's (frozen) time."""
    with running(clock.now) as p:
        yield p


def oidc_settings(db_url: str, issuer: str, **extra: object) -> Settings:
    """Settings with single sign-on at ``issuer``."""
    values: dict[str, object] = {
        "database_url": db_url,
        "engine_enabled": False,
        "public_url": BASE,
        "oidc_issuer": issuer,
        "oidc_client_id": CLIENT_ID,
        "oidc_client_secret": CLIENT_SECRET,
        "oidc_provider_name": "Example ID",
        "oidc_role_groups": {"sre-admins": "admin", "sre": "responder"},
        "oidc_team_groups": {"sre-admins": "payments", "sre": "payments"},
    }
    values.update(extra)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def people(session_factory: sessionmaker[Session], clock: FrozenClock) -> None:
    """A team and a local user with a password (dave, responder)."""
    now = clock.now()
    with session_factory() as session, session.begin():
        session.add(Team(name="payments", contact={}, created_at=now, updated_at=now))
        session.add(User(name="dave", role="responder", created_at=now))
        session.flush()
        auth.set_password(session, user_name="dave", password="dave-password-1", now=now)


def console(settings: Settings, engine: Engine, clock: FrozenClock) -> TestClient:
    """A TestClient on a fresh app with ``settings`` (enter it with ``with``)."""
    app = create_app(settings, clock=clock, engine=engine, start_engine=False)
    return TestClient(app, base_url=BASE)


@pytest.fixture
def web(
    db_url: str, engine: Engine, clock: FrozenClock, provider: Provider, people: None
) -> Iterator[TestClient]:
    """The console with single sign-on at the test provider."""
    with console(oidc_settings(db_url, provider.issuer), engine, clock) as tc:
        yield tc


def to_provider(web: TestClient, next_: str = "/ui/alerts") -> str:
    """Press 'Sign in with …': the authorization URL the console sends the browser to."""
    r = web.get("/ui/login/oidc", params={"next": next_}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return r.headers["location"]


def at_provider(url: str) -> str:
    """The provider consents at once: the callback URL it sends the browser back to."""
    r = httpx.get(url, follow_redirects=False)
    assert r.status_code == 302, r.text
    back: str = r.headers["location"]
    assert back.startswith(f"{BASE}/ui/login/oidc/callback?")
    return back


def sign_in(web: TestClient, next_: str = "/ui/alerts") -> httpx.Response:
    """The whole round trip; the console's answer to the callback."""
    return web.get(at_provider(to_provider(web, next_)), follow_redirects=False)


def user(factory: sessionmaker[Session], name: str) -> User | None:
    with factory() as session:
        return session.scalar(select(User).where(User.name == name))


def teams_of(factory: sessionmaker[Session], name: str) -> set[str]:
    with factory() as session:
        rows = session.scalars(
            select(Team.name)
            .join(TeamMember, TeamMember.team_id == Team.id)
            .join(User, User.id == TeamMember.user_id)
            .where(User.name == name)
        )
        return set(rows)


def sessions(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(WebSession)) or 0)


def refused(r: httpx.Response, status: int, message: str) -> None:
    """The login page again, with the error, and no session cookie."""
    assert r.status_code == status, r.text
    assert "Log in to ninefold" in r.text
    assert "Single sign-on failed" in r.text
    assert message in html.unescape(r.text), r.text
    assert "nf_session=" not in r.headers.get("set-cookie", "")


def test_sign_in_creates_the_user_with_mapped_role_and_team(
    web: TestClient, provider: Provider, session_factory: sessionmaker[Session]
) -> None:
    page = web.get("/ui/login")
    assert 'href="/ui/login/oidc?next=/ui/"' in page.text
    assert "Sign in with Example ID" in page.text
    assert 'name="password"' in page.text  # password login stays on by default

    url = to_provider(web)
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{provider.issuer}/authorize"
    asked = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert asked["client_id"] == CLIENT_ID
    assert asked["response_type"] == "code"
    assert asked["redirect_uri"] == f"{BASE}/ui/login/oidc/callback"
    assert asked["scope"] == "openid email profile"
    assert asked["code_challenge_method"] == "S256"
    assert len(asked["code_challenge"]) == 43
    assert len(asked["state"]) >= 32
    assert len(asked["nonce"]) >= 32
    flow_cookie = web.cookies.get("nf_oidc")
    assert flow_cookie
    assert asked["state"] not in flow_cookie
    r = web.get(at_provider(url), follow_redirects=False)

    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/ui/alerts"
    cookie = r.headers["set-cookie"]
    assert "nf_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    (token_request,) = provider.token_requests
    assert token_request["grant_type"] == "authorization_code"
    assert len(token_request["code_verifier"]) >= 43
    assert web.cookies.get("nf_oidc") is None  # the flow is used up

    overview = web.get("/ui/", follow_redirects=False)
    assert overview.status_code == 200
    assert "Carol Ops" in overview.text
    assert '<span class="badge role">admin</span>' in overview.text
    carol = user(session_factory, "carol")
    assert carol is not None
    assert (carol.role, carol.email, carol.managed) == ("admin", "carol@example.com", False)
    assert teams_of(session_factory, "carol") == {"payments"}
    with session_factory() as session:
        identity = session.scalars(select(WebIdentity)).one()
    assert (identity.issuer, identity.subject, identity.user_id) == (
        provider.issuer,
        "u-1001",
        carol.id,
    )
    # An admin page action works with the session's CSRF token: the session is a normal one.
    token = _CSRF.search(overview.text)
    assert token is not None
    out = web.post("/ui/logout", data={"csrf_token": token.group(1)}, follow_redirects=False)
    assert out.status_code == 303
    assert web.get("/ui/", follow_redirects=False).status_code == 303


def test_the_provider_account_stays_bound_and_groups_follow(
    web: TestClient, provider: Provider, session_factory: sessionmaker[Session]
) -> None:
    assert sign_in(web).status_code == 303
    # At the provider carol is renamed and leaves the admin group for plain sre.
    provider.claims.update(preferred_username="carol.new", groups=["sre"])
    web.cookies.clear()
    assert sign_in(web).status_code == 303
    assert user(session_factory, "carol.new") is None
    carol = user(session_factory, "carol")
    assert carol is not None
    assert carol.role == "responder"
    assert teams_of(session_factory, "carol") == {"payments"}
    # No mapped group at all: the default role, and out of the mapped team.
    provider.claims["groups"] = ["marketing"]
    web.cookies.clear()
    assert sign_in(web).status_code == 303
    carol = user(session_factory, "carol")
    assert carol is not None
    assert carol.role == "viewer"
    assert teams_of(session_factory, "carol") == set()
    assert '<span class="badge role">viewer</span>' in web.get("/ui/").text


def test_an_existing_user_is_linked_and_unknown_users_can_be_refused(
    db_url: str,
    engine: Engine,
    clock: FrozenClock,
    provider: Provider,
    people: None,
    session_factory: sessionmaker[Session],
) -> None:
    settings = oidc_settings(
        db_url, provider.issuer, oidc_create_users=False, oidc_role_groups={}, oidc_team_groups={}
    )
    provider.claims.update(sub="u-2002", preferred_username="dave", groups=["sre-admins"])
    with console(settings, engine, clock) as web:
        assert sign_in(web).status_code == 303
        dave = user(session_factory, "dave")
        assert dave is not None
        assert dave.role == "responder"
        assert '<span class="badge role">responder</span>' in web.get("/ui/").text
        # Another provider account claiming the name dave does not get dave's account.
        provider.claims.update(sub="u-6666")
        web.cookies.clear()
        refused(sign_in(web), 403, "linked to another account at the provider")
        # Nobody called erin: not created when creation is off.
        provider.claims.update(sub="u-3003", preferred_username="erin")
        refused(sign_in(web), 403, "there is no ninefold user")
    assert user(session_factory, "erin") is None


def test_email_is_the_fallback_username_only_when_verified(
    web: TestClient, provider: Provider, session_factory: sessionmaker[Session]
) -> None:
    del provider.claims["preferred_username"]
    provider.claims["email_verified"] = False
    refused(sign_in(web), 403, "nor a verified email")
    provider.claims["email_verified"] = True
    assert sign_in(web).status_code == 303
    assert user(session_factory, "carol@example.com") is not None


def test_a_reply_with_the_wrong_state_is_refused(
    web: TestClient, session_factory: sessionmaker[Session]
) -> None:
    back = at_provider(to_provider(web))
    forged = re.sub(r"state=[^&]+", "state=attacker-state", back)
    refused(web.get(forged, follow_redirects=False), 400, "(state)")
    # Without the flow cookie (another browser, or a replay after it was used up).
    web.cookies.clear()
    refused(web.get(back, follow_redirects=False), 400, "started in another browser")
    assert sessions(session_factory) == 0


def test_a_stale_sign_in_is_refused(web: TestClient, clock: FrozenClock) -> None:
    url = to_provider(web)
    clock.advance(timedelta(minutes=11))
    refused(web.get(at_provider(url), follow_redirects=False), 400, "expired")


def test_a_replayed_code_is_refused(web: TestClient, provider: Provider) -> None:
    url = to_provider(web)
    back = at_provider(url)
    flow = web.cookies.get("nf_oidc")
    assert web.get(back, follow_redirects=False).status_code == 303
    web.cookies.clear()
    web.cookies.set("nf_oidc", flow or "", path="/ui/login/oidc")
    refused(web.get(back, follow_redirects=False), 401, "refused the sign-in: invalid_grant")


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        ("signature", "signature is not valid"),
        ("unknown-key", "signature is not valid"),
        ("audience", "'aud'"),
        ("expired", "expired"),
        ("nonce", "'nonce'"),
    ],
)
def test_bad_id_tokens_are_refused(
    web: TestClient,
    provider: Provider,
    session_factory: sessionmaker[Session],
    tamper: str,
    message: str,
) -> None:
    provider.tamper = tamper
    r = sign_in(web)
    refused(r, 401, message)
    assert user(session_factory, "carol") is None
    assert sessions(session_factory) == 0
    provider.tamper = ""  # the same console then signs in fine
    assert sign_in(web).status_code == 303


def test_a_rotated_provider_key_is_fetched(
    web: TestClient, provider: Provider, session_factory: sessionmaker[Session]
) -> None:
    assert sign_in(web).status_code == 303  # the console now holds the JWKS with k1
    provider.key = RSAKey.generate_key(2048, {"kid": "k2"})
    web.cookies.clear()
    assert sign_in(web).status_code == 303
    assert sessions(session_factory) == 2


def test_denied_consent_is_a_clear_error(web: TestClient, provider: Provider) -> None:
    provider.deny = True
    refused(sign_in(web), 401, "Example ID did not sign you in: you declined")


def test_an_unreachable_provider_is_a_clear_error(
    db_url: str, engine: Engine, clock: FrozenClock
) -> None:
    settings = oidc_settings(db_url, f"http://127.0.0.1:{closed_port()}")
    with console(settings, engine, clock) as web:
        r = web.get("/ui/login/oidc", follow_redirects=False)
        refused(r, 502, "Example ID is unreachable (discovery document)")
        assert "nf_oidc=" not in r.headers.get("set-cookie", "").replace('nf_oidc=""', "")


def test_the_provider_going_down_mid_sign_in_is_a_clear_error(
    db_url: str, engine: Engine, clock: FrozenClock
) -> None:
    with running(clock.now) as provider:
        settings = oidc_settings(db_url, provider.issuer)
        web = console(settings, engine, clock)
        web.__enter__()
        back = at_provider(to_provider(web))
    try:
        refused(web.get(back, follow_redirects=False), 502, "Example ID is unreachable (token)")
    finally:
        web.__exit__(None, None, None)


def test_without_oidc_there_is_no_button_and_no_route(client: TestClient) -> None:
    page = client.get("/ui/login")
    assert page.status_code == 200
    assert "Sign in with" not in page.text
    assert 'name="password"' in page.text
    assert client.get("/ui/login/oidc", follow_redirects=False).status_code == 404
    assert client.get("/ui/login/oidc/callback?code=x&state=y").status_code == 404


def test_password_login_can_be_turned_off(
    db_url: str, engine: Engine, clock: FrozenClock, provider: Provider, people: None
) -> None:
    settings = oidc_settings(db_url, provider.issuer, password_login=False)
    with console(settings, engine, clock) as web:
        page = web.get("/ui/login")
        assert "Sign in with Example ID" in page.text
        assert 'name="password"' not in page.text
        # A hand-made POST with a valid login CSRF pair and dave's right password.
        token = web.cookies.get("nf_login_csrf")
        assert token
        r = web.post(
            "/ui/login",
            data={"username": "dave", "password": "dave-password-1", "csrf_token": token},
            follow_redirects=False,
        )
        assert r.status_code == 403
        assert "Password login is turned off" in r.text
        assert "nf_session=" not in r.headers.get("set-cookie", "")
        assert sign_in(web).status_code == 303


def test_settings_need_a_client_id_and_a_way_to_log_in() -> None:
    from ninefold.config import load_settings
    from ninefold.errors import ConfigError

    with pytest.raises(ConfigError, match="oidc_client_id is needed"):
        load_settings(oidc_issuer="https://id.example.com")
    with pytest.raises(ConfigError, match="password_login can only be off"):
        load_settings(password_login=False)
    with pytest.raises(ConfigError, match="NINEFOLD_OIDC_ROLE_GROUPS"):
        load_settings(
            oidc_issuer="https://id.example.com", oidc_client_id="c", oidc_role_groups={"x": "god"}
        )
    secret = load_settings(
        oidc_issuer="https://id.example.com", oidc_client_id="c", oidc_client_secret="s3cr3t-val"
    )
    assert "s3cr3t-val" not in repr(secret)


def test_a_real_server_signs_in_and_logs_no_secret(
    db_url: str,
    engine: Engine,
    clock: FrozenClock,
    provider: Provider,
    people: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for name in (None, "sqlalchemy", "httpx", "httpcore", "uvicorn", "ninefold"):
        caplog.set_level(logging.DEBUG, logger=name)
    app = create_app(
        oidc_settings(db_url, provider.issuer), clock=clock, engine=engine, start_engine=False
    )
    access = logging.getLogger("uvicorn.access")  # uvicorn's own config: no propagation
    with serve(app) as base, httpx.Client(base_url=base) as browser:
        access.setLevel(logging.INFO)
        access.addHandler(caplog.handler)
        app.state.oidc.redirect_uri = f"{base}/ui/login/oidc/callback"
        r = browser.get("/ui/login/oidc", params={"next": "/ui/oncall"})
        assert r.status_code == 303
        back = httpx.get(r.headers["location"]).headers["location"]
        assert back.startswith(f"{base}/ui/login/oidc/callback?")
        done = browser.get(back)
        assert done.status_code == 303
        assert done.headers["location"] == "/ui/oncall"
        assert "Carol Ops" in browser.get("/ui/oncall").text
        session_cookie = browser.cookies.get("nf_session")
    access.removeHandler(caplog.handler)
    assert session_cookie
    code = parse_qs(urlsplit(back).query)["code"][0]
    # The servers' threads only: the test's own "browser" (MainThread) is not ninefold.
    logged = "\n".join(
        f"{r.getMessage()} {r.args!r}" for r in caplog.records if r.threadName != "MainThread"
    )
    assert "sign-in through" in logged  # the sequence was logged
    assert "/ui/login/oidc/callback?***" in logged
    for what, secret in (
        ("client secret", CLIENT_SECRET),
        ("authorization code", code),
        ("session cookie", session_cookie),
    ):
        assert secret not in logged, f"the {what} was logged"
