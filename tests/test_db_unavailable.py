"""A database that is away answers 503 with Retry-After and a plain message, never a 500."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.exc import InterfaceError, OperationalError

from ninefold.app import create_app
from ninefold.config import Settings
from ninefold.core.clock import FrozenClock


@pytest.mark.parametrize("error", [OperationalError, InterfaceError])
def test_database_errors_answer_503(
    settings: Settings, engine: Engine, clock: FrozenClock, error: type[Exception]
) -> None:
    app = create_app(settings, engine=engine, clock=clock, start_engine=False)

    def away() -> None:
        raise error("SELECT 1", {}, ConnectionRefusedError("connection refused"))

    app.add_api_route("/test-away", away)
    with TestClient(app, raise_server_exceptions=False) as client:
        resp = client.get("/test-away")
    assert resp.status_code == 503
    assert resp.headers["Retry-After"] == "5"
    assert resp.json() == {"detail": "database unavailable, retry later"}
