"""Team scoping in the web console: a non-admin user acts for the teams they are a member of.

On the acme catalog bob is a responder in payments (checkout); catalog and search-primary are
search's. The console shares the flows' guard with the API, so a refusal names both sides and
the page says it; nothing changes. alice (admin) may change everything.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ninefold.alert.models import Alert
from ninefold.app import create_app
from ninefold.config import Settings
from ninefold.core.clock import FrozenClock
from ninefold.incident.models import Incident
from ninefold.oncall.models import OverrideRow, ScheduleRow
from tests.conftest import make_token
from tests.web_seed import PASSWORDS, seed

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def web(
    settings: Settings, engine: Engine, session_factory: sessionmaker[Session], clock: FrozenClock
) -> Iterator[TestClient]:
    seed(session_factory, clock.now())
    app = create_app(settings, clock=clock, engine=engine, start_engine=False)
    with TestClient(app, base_url="http://testserver") as tc:
        yield tc


def login(client: TestClient, user: str) -> str:
    """Log in; returns the CSRF token."""
    client.cookies.clear()
    form = client.get("/ui/login")
    token = _CSRF.search(form.text)
    assert token is not None
    data = {"username": user, "password": PASSWORDS[user], "csrf_token": token.group(1)}
    r = client.post("/ui/login", data={**data, "next": "/ui/alerts"})
    assert r.status_code == 200, r.text
    found = _CSRF.search(r.text)
    assert found is not None
    return found.group(1)


def _admin(web: TestClient, sf: sessionmaker[Session]) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(sf, 'admin')}"}


def _alert(web: TestClient, headers: dict[str, str], service: str) -> int:
    body = {"summary": f"{service} down", "service": service, "severity": "critical"}
    r = web.post("/api/v1/alerts", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def test_console_user_changes_only_their_teams_alerts(
    web: TestClient, session_factory: sessionmaker[Session]
) -> None:
    admin = _admin(web, session_factory)
    theirs, ours = _alert(web, admin, "catalog"), _alert(web, admin, "checkout")
    token = login(web, "bob")
    refusal = (
        f"user 'bob' (member of team 'payments') cannot change alert '{theirs}' "
        "owned by team 'search'"
    )
    r = web.post(f"/ui/alerts/{theirs}/acknowledge", data={"csrf_token": token})
    assert r.status_code == 200  # back on the alert's page …
    assert refusal in html.unescape(r.text)  # … which says why
    hx = {"X-CSRF-Token": token, "HX-Request": "true"}
    for action in ("acknowledge", "resolve", "snooze", "silence"):
        r = web.post(f"/ui/alerts/{theirs}/{action}", headers=hx)
        assert r.status_code == 403
        assert r.json()["detail"] == refusal  # shown by the page's script
    with session_factory() as s:
        alert = s.get_one(Alert, theirs)
        assert (alert.status, alert.acknowledged_at, alert.snoozed_until) == ("firing", None, None)
    r = web.post(f"/ui/alerts/{ours}/acknowledge", headers=hx)
    assert r.status_code == 200
    assert "acked by bob" in r.text
    token = login(web, "alice")  # admin: everything
    r = web.post(f"/ui/alerts/{theirs}/acknowledge", data={"csrf_token": token})
    assert r.status_code == 200
    with session_factory() as s:
        assert s.get_one(Alert, theirs).acknowledged_by == "alice"


def test_console_overrides_and_incidents_are_team_scoped(
    web: TestClient, session_factory: sessionmaker[Session], clock: FrozenClock
) -> None:
    admin = _admin(web, session_factory)
    body = {"title": "Search is slow", "services": ["catalog"], "severity": "SEV2"}
    iid = web.post("/api/v1/incidents", json=body, headers=admin).json()["id"]
    token = login(web, "bob")
    now = clock.now()
    override = {
        "csrf_token": token,
        "user": "bob",
        "start": (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "end": (now + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"),
    }
    r = web.post("/ui/oncall/search-primary/overrides", data=override)
    assert (
        "user 'bob' (member of team 'payments') cannot change schedule 'search-primary' "
        "owned by team 'search'"
    ) in html.unescape(r.text)
    r = web.post(f"/ui/incidents/{iid}/action", data={"csrf_token": token, "action": "resolve"})
    assert f"cannot change incident '{iid}' owned by team 'search'" in html.unescape(r.text)
    r = web.post(f"/ui/incidents/{iid}/severity", data={"csrf_token": token, "severity": "SEV1"})
    assert "owned by team 'search'" in html.unescape(r.text)
    with session_factory() as s:
        search = s.query(ScheduleRow).filter_by(name="search-primary").one()
        assert s.query(OverrideRow).filter_by(schedule_id=search.id).count() == 0
        incident = s.get_one(Incident, iid)
        assert (incident.status, incident.severity) == ("open", "SEV2")
    r = web.post("/ui/oncall/payments-primary/overrides", data=override)
    assert "bob is on call for payments-primary" in r.text
    token = login(web, "alice")
    r = web.post(f"/ui/incidents/{iid}/action", data={"csrf_token": token, "action": "resolve"})
    assert "Incident resolved" in r.text
