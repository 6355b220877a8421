"""Catalog API: teams and services with pagination, filters and authentication."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from ninefold.catalog.flows import apply_directory

ACME = Path(__file__).parent.parent / "examples" / "acme"


@pytest.fixture
def loaded(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session, session.begin():
        apply_directory(session, ACME, dry_run=False, now=datetime(2026, 11, 1, tzinfo=UTC))


def test_reads_need_a_token(client: TestClient) -> None:
    for path in ("/teams", "/teams/payments", "/services", "/services/checkout"):
        response = client.get(f"/api/v1{path}")
        assert response.status_code == 401, path
        assert response.headers["WWW-Authenticate"] == "Bearer"
    bad = client.get("/api/v1/services", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401


@pytest.mark.usefixtures("loaded")
def test_teams_paginate_and_search(client: TestClient, viewer_headers: dict[str, str]) -> None:
    page = client.get("/api/v1/teams?limit=2", headers=viewer_headers).json()
    assert [t["name"] for t in page["items"]] == ["identity", "payments"]
    assert (page["total"], page["limit"], page["offset"]) == (4, 2, 0)
    page2 = client.get("/api/v1/teams?limit=2&offset=2", headers=viewer_headers).json()
    assert [t["name"] for t in page2["items"]] == ["platform", "search"]
    found = client.get("/api/v1/teams?q=DISCOVERY", headers=viewer_headers).json()
    assert [t["name"] for t in found["items"]] == ["search"]
    team = client.get("/api/v1/teams/payments", headers=viewer_headers).json()
    assert team["members"][0] == {"user": "alice", "display_name": "Alice Martin", "role": "lead"}
    assert team["contact"]["slack"] == "#team-payments"
    assert team["managed"] is True


@pytest.mark.usefixtures("loaded")
def test_services_filters(client: TestClient, viewer_headers: dict[str, str]) -> None:
    def names(query: str) -> list[str]:
        response = client.get(f"/api/v1/services{query}", headers=viewer_headers)
        assert response.status_code == 200, response.text
        return [s["name"] for s in response.json()["items"]]

    assert names("?team=payments") == ["checkout", "ledger", "payments-api"]
    assert names("?tier=0") == ["auth", "checkout", "edge-gateway"]
    assert names("?system=discovery&tier=2") == ["catalog", "search-api"]
    assert names("?q=money") == ["checkout"]
    assert names("?q=100%25") == []
    assert names("?team=nobody") == []
    everything = client.get("/api/v1/services?limit=3", headers=viewer_headers).json()
    assert everything["total"] == 9
    assert len(everything["items"]) == 3


@pytest.mark.usefixtures("loaded")
def test_service_detail(client: TestClient, viewer_headers: dict[str, str]) -> None:
    svc = client.get("/api/v1/services/catalog", headers=viewer_headers).json()
    assert svc["owner"] == "search"
    assert svc["dependents"] == ["checkout", "recommendations", "search-api"]
    checkout = client.get("/api/v1/services/checkout", headers=viewer_headers).json()
    assert checkout["depends_on"] == ["auth", "catalog", "payments-api"]
    assert checkout["links"]["runbook"] == "https://runbooks.acme.example/checkout"
    assert checkout["gate"] == {"min_budget_remaining": 0.1, "block_on_no_data": False}


def test_bad_input_is_4xx(client: TestClient, viewer_headers: dict[str, str]) -> None:
    assert client.get("/api/v1/services/nope", headers=viewer_headers).status_code == 404
    assert client.get("/api/v1/teams/nope", headers=viewer_headers).status_code == 404
    assert client.get("/api/v1/services?tier=9", headers=viewer_headers).status_code == 422
    assert client.get("/api/v1/services?limit=0", headers=viewer_headers).status_code == 422
    assert client.get("/api/v1/teams?offset=-1", headers=viewer_headers).status_code == 422
