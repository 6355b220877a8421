"""A 2xx is sent only after the request's transaction committed: a commit that fails (or a
process killed between the answer and the commit) must never leave an acknowledged write
missing. Shown with incident notes and stakeholder updates, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from ninefold.app import create_app
from ninefold.config import Settings
from ninefold.core.clock import FrozenClock
from ninefold.incident.models import IncidentUpdate, TimelineEntry


@pytest.fixture
def failing_commit() -> Iterator[list[bool]]:
    """Set ``[0] = True`` to make the next commit that writes a timeline entry or a stakeholder
    update fail like a lost database connection (after the endpoint returned)."""
    armed = [False]

    def wrote(session: Session, _context: object, _instances: object) -> None:
        if any(isinstance(o, (TimelineEntry, IncidentUpdate)) for o in session.new):
            session.info["wrote_incident"] = True

    def fail(session: Session) -> None:
        if armed[0] and session.info.pop("wrote_incident", False):
            armed[0] = False
            raise OperationalError("COMMIT", {}, ConnectionResetError("connection reset"))

    event.listen(Session, "before_flush", wrote)
    event.listen(Session, "before_commit", fail)
    try:
        yield armed
    finally:
        event.remove(Session, "before_commit", fail)
        event.remove(Session, "before_flush", wrote)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("timeline", {"message": "rolled back the deploy"}),
        ("updates", {"public_status": "identified", "message": "bad config", "channels": []}),
    ],
)
def test_a_failed_commit_is_never_acknowledged(
    settings: Settings,
    engine: Engine,
    clock: FrozenClock,
    responder_headers: dict[str, str],
    failing_commit: list[bool],
    path: str,
    body: dict[str, Any],
) -> None:
    app = create_app(settings, engine=engine, clock=clock, start_engine=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        resp = client.post(
            "/api/v1/incidents",
            json={"title": "Checkout errors", "severity": "SEV2"},
            headers=responder_headers,
        )
        assert resp.status_code == 201, resp.text
        incident = resp.json()["id"]
        failing_commit[0] = True
        resp = client.post(
            f"/api/v1/incidents/{incident}/{path}", json=body, headers=responder_headers
        )
        assert resp.status_code == 503, resp.text
        assert resp.json() == {"detail": "database unavailable, retry later"}
        timeline = client.get(f"/api/v1/incidents/{incident}/timeline", headers=responder_headers)
        updates = client.get(f"/api/v1/incidents/{incident}/updates", headers=responder_headers)
    assert body["message"] not in [e["message"] for e in timeline.json()]
    assert updates.json() == []
    # the same request again is stored once and answered 201
    with TestClient(app) as client:
        resp = client.post(
            f"/api/v1/incidents/{incident}/{path}", json=body, headers=responder_headers
        )
        assert resp.status_code == 201, resp.text
        timeline = client.get(f"/api/v1/incidents/{incident}/timeline", headers=responder_headers)
    assert sum(body["message"] in e["message"] for e in timeline.json()) == 1
