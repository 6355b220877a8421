"""The incident console's view of an incident is shared for a second by the requests of one
process: an action on the incident (from any process) shows at once, this process's own changes
show at once, and any other change within the second."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from ninefold.app import create_app
from ninefold.config import Settings
from ninefold.core.clock import FrozenClock
from ninefold.incident import flows
from ninefold.incident.models import Incident, TimelineEntry
from ninefold.web.viewcache import LIVE_TTL
from tests.test_web_console import login
from tests.web_seed import seed


@pytest.fixture
def web(
    settings: Settings,
    engine: Engine,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
) -> Iterator[TestClient]:
    """The seeded console."""
    seed(session_factory, clock.now())
    app = create_app(settings, clock=clock, engine=engine, start_engine=False)
    with TestClient(app, base_url="http://testserver") as tc:
        yield tc


def _declare(factory: sessionmaker[Session], clock: FrozenClock) -> int:
    with factory() as session, session.begin():
        row = flows.declare(
            session,
            title="Checkout errors",
            severity="SEV2",
            services=[],
            summary="",
            alert_ids=[],
            actor="bob",
            now=clock.now(),
        )
        return row.id


def test_an_action_from_another_process_shows_at_once(
    web: TestClient, session_factory: sessionmaker[Session], clock: FrozenClock
) -> None:
    token = login(web, "bob")
    incident_id = _declare(session_factory, clock)
    assert "first note" not in web.get(f"/ui/incidents/{incident_id}").text
    clock.advance(timedelta(milliseconds=10))
    # another worker or replica adds a note: the incident's updated_at moves
    with session_factory() as session, session.begin():
        row = session.get(Incident, incident_id)
        assert row is not None
        flows.add_note(session, incident=row, message="first note", actor="eve", now=clock.now())
    assert "first note" in web.get(f"/ui/incidents/{incident_id}").text
    # this process's own form: at once as well
    r = web.post(
        f"/ui/incidents/{incident_id}/note",
        data={"csrf_token": token, "message": "second note"},
        follow_redirects=True,
    )
    assert r.status_code == 200, r.text
    assert "second note" in r.text


def test_other_changes_show_within_a_second(
    web: TestClient, session_factory: sessionmaker[Session], clock: FrozenClock
) -> None:
    login(web, "bob")
    incident_id = _declare(session_factory, clock)
    page = web.get(f"/ui/incidents/{incident_id}").text
    assert '<li class="key">' in page  # the declaration is one
    with session_factory() as session, session.begin():  # a change that leaves updated_at
        for entry in session.scalars(
            select(TimelineEntry).where(TimelineEntry.incident_id == incident_id)
        ):
            entry.key_moment = False
    assert '<li class="key">' in web.get(f"/ui/incidents/{incident_id}").text  # cached
    clock.advance(LIVE_TTL)
    assert '<li class="key">' not in web.get(f"/ui/incidents/{incident_id}").text
