"""Web console without a browser: login, sessions, CSRF, roles, headers, and the main flows."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from ninefold.alert.models import Alert, SilenceRow
from ninefold.app import create_app
from ninefold.cli.main import app as cli_app
from ninefold.config import Settings
from ninefold.core.clock import FrozenClock
from ninefold.incident.models import Incident
from ninefold.postmortem.models import ActionItem, Postmortem
from ninefold.web import auth
from tests.conftest import T0, make_token
from tests.web_seed import BURNING_SLO, PASSWORDS, seed

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def web(
    settings: Settings,
    engine: Engine,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
) -> Iterator[TestClient]:
    """A console on a seeded database (acme, a burning SLO, users with passwords)."""
    seed(session_factory, clock.now())
    app = create_app(settings, clock=clock, engine=engine, start_engine=False)
    with TestClient(app, base_url="http://testserver") as tc:
        yield tc


def login(client: TestClient, user: str, password: str | None = None) -> str:
    """Log in; returns the page's CSRF token."""
    form = client.get("/ui/login")
    token = _CSRF.search(form.text)
    assert token is not None
    r = client.post(
        "/ui/login",
        data={
            "username": user,
            "password": password or PASSWORDS[user],
            "csrf_token": token.group(1),
            "next": "/ui/alerts",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/ui/alerts"
    page = client.get("/ui/")
    found = _CSRF.search(page.text)
    assert found is not None
    return found.group(1)


def firing_alert(factory: sessionmaker[Session]) -> int:
    """The burning SLO's page alert."""
    with factory() as session:
        rows = session.scalars(select(Alert).where(Alert.status == "firing")).all()
        ids = [a.id for a in rows if BURNING_SLO in a.summary or BURNING_SLO in str(a.labels)]
    assert ids, "the seed should fire an alert for the burning SLO"
    return ids[0]


def test_pages_need_login(web: TestClient) -> None:
    for path in ("/ui/", "/ui/alerts", "/ui/slos/checkout-success", "/ui/api/slos/x/series"):
        r = web.get(path, follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"].startswith("/ui/login?next=")


def _token(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None
    return found.group(1)


def test_login_sets_a_safe_cookie_and_rejects_bad_passwords(web: TestClient) -> None:
    token = _token(web.get("/ui/login").text)
    data = {"username": "bob", "password": "wrong-password", "csrf_token": token}
    r = web.post("/ui/login", data=data)
    assert r.status_code == 401
    assert "Wrong username or password" in r.text
    data.update(username="nobody", csrf_token=_token(r.text))
    r = web.post("/ui/login", data=data)
    assert r.status_code == 401
    # without the login CSRF cookie (a forged cross-site login form)
    fresh = TestClient(web.app, base_url="http://testserver")
    data.update(username="bob", password=PASSWORDS["bob"], csrf_token=_token(r.text))
    assert fresh.post("/ui/login", data=data).status_code == 403
    data["next"] = "https://evil.example/"
    r = web.post("/ui/login", data=data, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/ui/"  # never an open redirect
    cookie = r.headers["set-cookie"]
    assert "nf_session=" in cookie
    assert "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()


def test_pages_render_with_security_headers(web: TestClient) -> None:
    login(web, "bob")
    for path in (
        "/ui/",
        "/ui/?all=1",
        "/ui/services/checkout",
        "/ui/slos/checkout-success",
        "/ui/alerts?status=all&group=service",
        "/ui/alerts?label=slo%3Dcheckout-success",
        "/ui/incidents",
        "/ui/oncall",
        "/ui/postmortems",
    ):
        r = web.get(path)
        assert r.status_code == 200, path
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "same-origin"
        assert "<script>" not in r.text  # no inline scripts anywhere
    overview = web.get("/ui/").text
    assert "checkout-success" in overview
    assert "Burning SLOs" in overview
    assert "badge s-critical" in overview  # 2% bad for the last hour: 20× burn, budget left
    series = web.get("/ui/api/slos/checkout-success/series").json()
    assert series["objective"] == pytest.approx(0.999)
    assert len(series["t"]) == len(series["remaining"]) > 10
    assert any(a["kind"] == "deploy" for a in series["annotations"])
    static = web.get("/ui/static/vendor/uplot/uPlot.iife.min.js")
    assert static.status_code == 200
    assert web.get("/ui/static/vendor/htmx/LICENSE").status_code == 200


def test_csrf_is_checked_on_every_post(
    web: TestClient, session_factory: sessionmaker[Session]
) -> None:
    token = login(web, "bob")
    alert_id = firing_alert(session_factory)
    url = f"/ui/alerts/{alert_id}/acknowledge"
    assert web.post(url).status_code == 403
    assert web.post(url, data={"csrf_token": "forged"}).status_code == 403
    assert web.post(url, headers={"X-CSRF-Token": "forged"}).status_code == 403
    cross = web.post(url, data={"csrf_token": token}, headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403
    assert web.post("/ui/logout").status_code == 403
    with session_factory() as session:
        alert = session.get(Alert, alert_id)
        assert alert is not None
        assert alert.acknowledged_at is None
    # htmx sends the token as a header and swaps the returned row
    r = web.post(url, headers={"X-CSRF-Token": token, "HX-Request": "true"})
    assert r.status_code == 200
    assert f'id="alert-{alert_id}"' in r.text
    assert "acked by bob" in r.text
    r = web.post(f"/ui/alerts/{alert_id}/snooze", data={"csrf_token": token, "minutes": "30"})
    assert r.status_code == 200  # redirected back to the list
    r = web.post(f"/ui/alerts/{alert_id}/silence", data={"csrf_token": token, "hours": "4"})
    assert r.status_code == 200
    with session_factory() as session:
        alert = session.get(Alert, alert_id)
        assert alert is not None
        assert alert.acknowledged_by == "bob"
        assert alert.snoozed_until is not None
        silence = session.scalars(select(SilenceRow)).one()
        assert {m["name"]: m["value"] for m in silence.matchers}["slo"] == BURNING_SLO
        assert silence.created_by == "bob"


def test_viewer_reads_but_cannot_act(
    web: TestClient, session_factory: sessionmaker[Session]
) -> None:
    token = login(web, "frank")
    alert_id = firing_alert(session_factory)
    page = web.get("/ui/alerts").text
    assert "Acknowledge alert" not in page
    assert "Declare an incident" not in web.get("/ui/incidents").text
    r = web.post(f"/ui/alerts/{alert_id}/acknowledge", data={"csrf_token": token})
    assert r.status_code == 403
    r = web.post("/ui/incidents/declare", data={"csrf_token": token, "title": "x"})
    assert r.status_code == 403
    # logging out needs only the token
    assert web.post("/ui/logout", data={"csrf_token": token}).status_code == 200
    assert web.get("/ui/", follow_redirects=False).status_code == 303


def test_incident_console_flow(web: TestClient, session_factory: sessionmaker[Session]) -> None:
    token = login(web, "bob")
    alert_id = firing_alert(session_factory)
    r = web.post("/ui/incidents/declare", data={"csrf_token": token, "alert_id": str(alert_id)})
    assert r.status_code == 200
    with session_factory() as session:
        incident = session.scalars(select(Incident)).one()
        iid = incident.id
    assert f"#{iid}" in r.text
    preview = web.post(
        f"/ui/incidents/{iid}/preview",
        data={"csrf_token": token, "public_status": "identified", "message": "Card <b>fix</b>"},
    )
    assert "Identified" in preview.text
    assert "&lt;b&gt;" in preview.text  # escaped
    r = web.post(
        f"/ui/incidents/{iid}/update",
        data={
            "csrf_token": token,
            "public_status": "identified",
            "message": "Checkout errors: fix rolling out",
            "publish": "on",
        },
    )
    assert "Update posted" in r.text
    assert "Checkout errors: fix rolling out" in web.get("/status").text
    r = web.post(f"/ui/incidents/{iid}/severity", data={"csrf_token": token, "severity": "SEV1"})
    assert "Severity set to SEV1" in r.text
    r = web.post(f"/ui/incidents/{iid}/action", data={"csrf_token": token, "action": "bogus"})
    assert "action: one of" in r.text
    r = web.post(f"/ui/incidents/{iid}/note", data={"csrf_token": token, "message": "rolled back"})
    assert "rolled back" in r.text
    r = web.post(f"/ui/incidents/{iid}/action", data={"csrf_token": token, "action": "resolve"})
    assert "Incident resolved" in r.text
    with session_factory() as session:
        pm = session.scalars(select(Postmortem).where(Postmortem.incident_id == iid)).first()
    if pm is None:  # SEV1 resolves draft one by policy; otherwise ask for it
        web.post(f"/ui/incidents/{iid}/postmortem", data={"csrf_token": token})
        with session_factory() as session:
            pm = session.scalars(select(Postmortem).where(Postmortem.incident_id == iid)).one()
    key = pm.sections[0]["key"]
    r = web.post(
        f"/ui/postmortems/{pm.id}/section",
        data={"csrf_token": token, "key": key, "body": "Edited in the console."},
    )
    assert "Section saved" in r.text
    assert "Edited in the console." in r.text
    r = web.post(
        f"/ui/postmortems/{pm.id}/item",
        data={"csrf_token": token, "title": "Alert on card declines", "owner": "bob"},
    )
    assert "Action item added" in r.text
    r = web.post(
        f"/ui/postmortems/{pm.id}/status", data={"csrf_token": token, "status": "in_review"}
    )
    assert "in review" in r.text
    with session_factory() as session:
        item = session.scalars(select(ActionItem)).one()
        assert item.postmortem_id == pm.id


def test_override_from_the_oncall_page(web: TestClient) -> None:
    token = login(web, "bob")
    page = web.get("/ui/oncall").text
    # bob is in payments: he may override his team's schedule (team scoping, test_authz_*)
    schedule = re.search(r'action="/ui/oncall/(payments-[^/"]+)/overrides"', page)
    assert schedule is not None
    r = web.post(
        f"/ui/oncall/{schedule.group(1)}/overrides",
        data={
            "csrf_token": token,
            "user": "grace",
            "start": "2026-11-01T02:00",
            "end": "2026-11-01T06:00",
        },
    )
    assert r.status_code == 200
    assert "grace is on call" in r.text
    r = web.post(
        f"/ui/oncall/{schedule.group(1)}/overrides",
        data={"csrf_token": token, "user": "grace", "start": "later", "end": "x"},
    )
    assert "start:" in r.text


def test_password_api_and_cli(
    web: TestClient,
    session_factory: sessionmaker[Session],
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    login(web, "bob")
    admin = {"Authorization": f"Bearer {make_token(session_factory, 'admin')}"}
    responder = {"Authorization": f"Bearer {make_token(session_factory, 'responder')}"}
    body = {"password": "a-new-password-for-bob"}
    assert web.put("/api/v1/users/bob/password", json=body, headers=responder).status_code == 403
    assert (
        web.put("/api/v1/users/bob/password", json={"password": "short"}, headers=admin).status_code
        == 422
    )
    assert web.put("/api/v1/users/bob/password", json=body, headers=admin).status_code == 204
    # a new password ends the open sessions
    assert web.get("/ui/", follow_redirects=False).status_code == 303
    login(web, "bob", "a-new-password-for-bob")
    monkeypatch.setenv("NINEFOLD_DATABASE_URL", db_url)
    result = CliRunner().invoke(
        cli_app, ["user", "set-password", "carol", "--password-stdin"], input="carol-password-1\n"
    )
    assert result.exit_code == 0, result.output
    with session_factory() as session:
        assert auth.check_password(session, user_name="carol", password="carol-password-1")
        assert auth.check_password(session, user_name="carol", password="nope") is None


def test_sessions_expire(web: TestClient, clock: FrozenClock) -> None:
    login(web, "bob")
    clock.advance(auth.SESSION_TTL)
    assert web.get("/ui/", follow_redirects=False).status_code == 303
    assert clock.now() > T0
