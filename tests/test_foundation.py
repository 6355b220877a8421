"""Foundation: migrations up/down/up, health endpoints, auth, settings."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, inspect

from ninefold.config import load_settings
from ninefold.db import migrate
from ninefold.errors import ConfigError


def test_migrations_upgrade_downgrade_upgrade(engine: Engine) -> None:
    assert migrate.current_revision(engine) == migrate.head_revision()
    migrate.downgrade(engine, "base")
    tables = set(inspect(engine).get_table_names()) - {"alembic_version"}
    assert tables == set()
    migrate.upgrade(engine)
    assert {"users", "teams", "services", "slos", "slo_buckets"} <= set(
        inspect(engine).get_table_names()
    )
    assert migrate.current_revision(engine) == migrate.head_revision()


def test_health_ready_metrics(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["revision"] == migrate.head_revision()
    body = client.get("/metrics").text
    assert "ninefold_http_requests_total" in body
    assert 'route="/readyz"' in body


def test_readyz_not_ready_before_migration(engine: Engine, client: TestClient) -> None:
    migrate.downgrade(engine, "base")
    resp = client.get("/readyz")
    assert resp.status_code == 503
    assert "needs" in resp.json()["reason"]


def test_auth_roles(
    client: TestClient, viewer_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    assert client.get("/api/v1/whoami").status_code == 401
    assert (
        client.get("/api/v1/whoami", headers={"Authorization": "Bearer nf_nope"}).status_code == 401
    )
    assert client.get("/api/v1/whoami", headers=viewer_headers).json()["role"] == "viewer"
    forbidden = client.post(
        "/api/v1/tokens", json={"name": "x", "role": "viewer"}, headers=viewer_headers
    )
    assert forbidden.status_code == 403
    assert "admin" in forbidden.json()["detail"]
    created = client.post(
        "/api/v1/tokens", json={"name": "ci", "role": "responder"}, headers=admin_headers
    )
    assert created.status_code == 201
    secret = created.json()["token"]
    assert (
        client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {secret}"}).json()["name"]
        == "ci"
    )
    listed = client.get("/api/v1/tokens", headers=admin_headers).json()
    assert all("token" not in t and "token_hash" not in t for t in listed)
    revoked = client.delete(f"/api/v1/tokens/{created.json()['id']}", headers=admin_headers)
    assert revoked.status_code == 200
    assert (
        client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {secret}"}).status_code
        == 401
    )


def test_bad_token_request_is_4xx(client: TestClient, admin_headers: dict[str, str]) -> None:
    resp = client.post("/api/v1/tokens", json={"name": "x", "role": "root"}, headers=admin_headers)
    assert resp.status_code == 422
    assert "role" in resp.json()["detail"]


def test_settings_errors_are_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NINEFOLD_PORT", "99999")
    monkeypatch.setenv("NINEFOLD_DATABASE_URL", "mysql://x")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "NINEFOLD_PORT" in info.value.message
    assert "NINEFOLD_DATABASE_URL" in info.value.message


def test_settings_from_file_and_env(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    import pathlib

    path = pathlib.Path(str(tmp_path)) / "ninefold.yaml"
    path.write_text("port: 9000\nprometheus_url: http://prom:9090\n")
    monkeypatch.setenv("NINEFOLD_CONFIG_FILE", str(path))
    monkeypatch.setenv("NINEFOLD_PORT", "9100")
    cfg = load_settings()
    assert cfg.port == 9100  # environment beats file
    assert cfg.prometheus_url == "http://prom:9090"
