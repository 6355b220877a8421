"""Token expiry: set by the CLI (--expires-in) and the API (expires_at / expires_in); 401 once expired."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from ninefold.cli.main import app as cli
from ninefold.core.clock import FrozenClock
from ninefold.identity.models import ApiToken

runner = CliRunner()


def _who(client: TestClient, secret: str) -> tuple[int, str]:
    resp = client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {secret}"})
    return resp.status_code, resp.text


def test_cli_expires_in_sets_expiry_and_the_token_stops_working_then(
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    client: TestClient,
    clock: FrozenClock,
    session_factory: sessionmaker[Session],
) -> None:
    monkeypatch.setenv("NINEFOLD_DATABASE_URL", db_url)
    before = datetime.now(UTC)
    result = runner.invoke(cli, ["token", "create", "--name", "ci", "--expires-in", "30d"])
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    with session_factory() as s:
        token = s.scalars(select(ApiToken).where(ApiToken.name == "ci")).one()
    assert token.expires_at is not None
    expires = token.expires_at
    assert before + timedelta(days=30) <= expires <= datetime.now(UTC) + timedelta(days=30)

    clock.set(expires - timedelta(seconds=1))
    assert _who(client, secret)[0] == 200
    clock.set(expires)
    status, text = _who(client, secret)
    assert status == 401
    assert "expired at" in text
    assert "ci" in text

    bad = runner.invoke(cli, ["token", "create", "--name", "x", "--expires-in", "soon"])
    assert bad.exit_code != 0
    assert "--expires-in" in bad.output


def test_api_sets_expiry_by_time_or_duration(
    client: TestClient, admin_headers: dict[str, str], clock: FrozenClock
) -> None:
    now = clock.now()
    by_duration = client.post(
        "/api/v1/tokens",
        json={"name": "d", "role": "viewer", "expires_in": "1h"},
        headers=admin_headers,
    )
    assert by_duration.status_code == 201, by_duration.text
    assert datetime.fromisoformat(by_duration.json()["expires_at"]) == now + timedelta(hours=1)
    at = (now + timedelta(days=2)).isoformat()
    by_time = client.post(
        "/api/v1/tokens",
        json={"name": "t", "role": "viewer", "expires_at": at},
        headers=admin_headers,
    )
    assert by_time.status_code == 201, by_time.text
    for bad in (
        {"expires_in": "1h", "expires_at": at},
        {"expires_in": "nonsense"},
        {"expires_at": (now - timedelta(seconds=1)).isoformat()},
    ):
        resp = client.post(
            "/api/v1/tokens", json={"name": "b", "role": "viewer", **bad}, headers=admin_headers
        )
        assert resp.status_code == 422, bad

    assert _who(client, by_duration.json()["token"])[0] == 200
    clock.advance(timedelta(hours=1))
    status, text = _who(client, by_duration.json()["token"])
    assert status == 401
    assert "expired at" in text
    assert _who(client, by_time.json()["token"])[0] == 200  # the other one still works
    clock.advance(timedelta(days=2))
    assert _who(client, by_time.json()["token"])[0] == 401


def test_unknown_and_revoked_tokens_get_their_own_message(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    made = client.post(
        "/api/v1/tokens", json={"name": "r", "role": "viewer"}, headers=admin_headers
    )
    secret = made.json()["token"]
    assert client.delete(f"/api/v1/tokens/{made.json()['id']}", headers=admin_headers).is_success
    status, text = _who(client, secret)
    assert status == 401
    assert "revoked" in text
    status, text = _who(client, "nf_not-a-token")
    assert status == 401
    assert "invalid token" in text
