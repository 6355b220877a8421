"""schemathesis against ninefold's own OpenAPI schema: no 5xx and no response that breaks the
schema, on every operation, with an admin token on SQLite (the engine off).

The database is seeded through the API (a team, service, SLO, users, an
integration, alerts, a silence, a schedule with an override, an escalation policy, a heartbeat,
a maintenance window), and about half of the generated requests have their path parameters
replaced by the names and ids of those objects, so the fuzzer gets past "404 not found".
Bounded: ``MAX_EXAMPLES`` per operation, no deadline; the module runs in about two minutes on
two cores.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from ninefold.alert.keys import create as create_integration
from ninefold.app import create_app
from ninefold.config import Settings
from ninefold.core.clock import FrozenClock
from ninefold.db.engine import make_engine, make_session_factory
from ninefold.identity.models import User
from tests import factories
from tests.conftest import T0, make_token

MAX_EXAMPLES = 25

#: Operations left out, each with the bug that keeps it out.
EXCLUDED: dict[str, str] = {}

#: Names of seeded objects, by the path segment before ``{name}``.
_NAMES = {
    "escalation-policies": "web",
    "heartbeats": "cron",
    "integrations": "am",
    "schedules": "primary",
    "services": "web-api",
    "slos": "web-availability",
    "teams": "web",
    "users": "alice",
}


@dataclass
class Seeded:
    """A seeded app: its schema, admin headers and the keys of seeded objects."""

    schema: Any
    headers: dict[str, str]
    keys: dict[str, str] = field(default_factory=dict)

    def known(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        """``params`` with every path parameter replaced by a seeded object's name or id."""
        out = dict(params)
        parts = path.strip("/").split("/")
        for i, part in enumerate(parts):
            if not part.startswith("{"):
                continue
            name = part[1:-1]
            before = parts[i - 1] if i else ""
            if name == "name":
                out[name] = _NAMES.get(before, "web")
            elif name == "key":
                out[name] = self.keys["heartbeat" if before == "heartbeats" else "integration"]
            elif name.endswith("_id"):
                out[name] = 1
        return out


def _seed(client: TestClient, admin: dict[str, str]) -> dict[str, str]:
    """Objects of every kind through the API; returns the integration and heartbeat keys."""

    def ok(resp: Any) -> Any:
        assert resp.is_success, resp.text
        return resp.json() if resp.content else None

    made = ok(
        client.post("/api/v1/integrations", json={"name": "pd", "kind": "pagerduty"}, headers=admin)
    )
    body = [{"labels": {"alertname": "DiskFull"}, "annotations": {"summary": "disk"}}]
    ok(client.post("/api/v1/alerts", json={"summary": "by hand"}, headers=admin))
    ok(client.post(f"/integrations/{made['key']}/api/v2/alerts", json=body))
    ok(
        client.post(
            "/api/v1/notification-channels",
            json={"name": "room", "kind": "webhook", "target": "http://127.0.0.1:9/x"},
            headers=admin,
        )
    )
    ok(
        client.put(
            "/api/v1/users/alice/notification-rules",
            json=[{"after": "0m", "channel": "room"}],
            headers=admin,
        )
    )
    layer = {
        "name": "w",
        "rotation": "weekly",
        "start": (T0 - timedelta(days=1)).isoformat(),
        "participants": ["alice", "bob"],
    }
    ok(
        client.put(
            "/api/v1/schedules/primary",
            json={"time_zone": "UTC", "team": "web", "layers": [layer]},
            headers=admin,
        )
    )
    ok(
        client.post(
            "/api/v1/schedules/primary/overrides",
            json={
                "user": "bob",
                "start": T0.isoformat(),
                "end": (T0 + timedelta(hours=4)).isoformat(),
            },
            headers=admin,
        )
    )
    ok(
        client.put(
            "/api/v1/escalation-policies/web",
            json={"team": "web", "levels": [{"delay": "5m", "targets": [{"schedule": "primary"}]}]},
            headers=admin,
        )
    )
    silence = {
        "matchers": [{"name": "alertname", "value": "Disk"}],
        "startsAt": T0.isoformat(),
        "endsAt": (T0 + timedelta(hours=1)).isoformat(),
        "createdBy": "alice",
        "comment": "fuzz",
    }
    ok(client.post("/api/v1/silences", json=silence, headers=admin))
    beat = ok(
        client.post("/api/v1/heartbeats", json={"name": "cron", "interval": "5m"}, headers=admin)
    )
    ok(
        client.post(
            "/api/v1/services/web-api/maintenance",
            json={
                "start": T0.isoformat(),
                "end": (T0 + timedelta(hours=2)).isoformat(),
                "reason": "fuzz",
            },
            headers=admin,
        )
    )
    return {"integration": made["key"], "heartbeat": beat["key"]}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, _sqlite_template: Path) -> Iterator[Seeded]:
    """A seeded app on SQLite and the schema schemathesis reads from it (one per module: the
    operations run in schema order, so a DELETE may remove what later operations look up)."""
    path = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    shutil.copy(_sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    factory = make_session_factory(engine)
    with factory() as s, s.begin():
        team = factories.team(s, "web", T0)
        svc = factories.service(s, "web-api", team, T0)
        factories.slo(s, svc, T0, name="web-availability")
        for name in ("alice", "bob"):
            s.add(User(name=name, created_at=T0))
        create_integration(
            s,
            name="am",
            kind="alertmanager",
            service_id=svc.id,
            rate_limit_per_minute=10**6,
            now=T0,
        )
    admin = {"Authorization": f"Bearer {make_token(factory, 'admin', T0 - timedelta(days=1))}"}
    cfg = Settings(database_url=f"sqlite:///{path}", engine_enabled=False)
    app = create_app(cfg, clock=FrozenClock(T0), engine=engine, start_engine=False)
    with TestClient(app) as client:  # the lifespan runs once (signing key for action links)
        keys = _seed(client, admin)
    yield Seeded(schemathesis.openapi.from_asgi("/openapi.json", app), admin, keys)
    engine.dispose()


def _operations() -> list[Any]:
    """(method, path) of every operation in the schema, read from an app that touches no DB."""
    cfg = Settings(database_url="sqlite://", engine_enabled=False)
    spec = create_app(cfg, start_engine=False).openapi()
    params = []
    for path, ops in spec["paths"].items():
        for method in ops:
            label = f"{method.upper()} {path}"
            marks = [pytest.mark.skip(reason=EXCLUDED[label])] if label in EXCLUDED else []
            params.append(pytest.param(method.upper(), path, id=label, marks=marks))
    return params


@pytest.mark.parametrize(("method", "path"), _operations())
def test_api_fuzz(seeded: Seeded, method: str, path: str) -> None:
    """Every operation answers without a 5xx and as its schema says, valid input or not."""
    operation = seeded.schema[path][method]
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @given(case=cases, known=st.booleans())
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: report the first failure fast
    )
    def check(case: Any, known: bool) -> None:
        if known and case.path_parameters:
            case.path_parameters = seeded.known(path, case.path_parameters)
        case.call_and_validate(
            headers=seeded.headers, checks=[not_a_server_error, response_schema_conformance]
        )

    check()


# --- what the fuzzer found, pinned down on both databases ----------------------------------------


def test_ids_beyond_the_database_range_are_a_client_error(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    huge = 2**70
    for method, path in (
        ("GET", f"/api/v1/alerts/{huge}"),
        ("POST", f"/api/v1/alerts/{huge}/acknowledge"),
        ("DELETE", f"/api/v1/silences/{huge}"),
        ("DELETE", f"/api/v1/tokens/{huge}"),
    ):
        resp = client.request(method, path, headers=admin_headers)
        assert resp.status_code in (404, 422), (path, resp.status_code, resp.text)
        assert resp.json()["detail"]


def test_schema_documents_ninefold_422_and_has_unique_operation_ids(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    spec = client.get("/openapi.json").json()
    error = spec["components"]["schemas"]["HTTPValidationError"]
    assert error["properties"]["detail"]["type"] == "string"
    resp = client.post("/api/v1/tokens", json={"name": ""}, headers=admin_headers)
    assert resp.status_code == 422
    assert isinstance(resp.json()["detail"], str)
    assert resp.json()["errors"][0]["loc"] == ["body", "name"]
    ids = [op["operationId"] for ops in spec["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    assert client.head("/a/not-a-token").status_code == client.get("/a/not-a-token").status_code
