"""Public status page on SQLite and PostgreSQL: catalog YAML, component states, Statuspage-shaped
JSON, Atom feed, HTML, manual overrides, uptime from incidents, and that nothing private leaks.

Incidents are driven through the incidents API with a frozen clock; the public endpoints are read
through the same TestClient without any token.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ninefold.app import create_app
from ninefold.catalog.flows import apply_directory, export_catalog
from ninefold.catalog.loader import CatalogError
from ninefold.catalog.validate import validate_directory
from ninefold.config import Settings
from ninefold.core.clock import FrozenClock
from tests.conftest import T0, make_token

ATOM = "{http://www.w3.org/2005/Atom}"
APPLIED = T0 - timedelta(days=30)
BASE_YAML = """\
users:
  - name: alice
    display_name: Alice Marker-Responder
  - name: bob
teams:
  - name: web
    members:
      - user: alice
      - user: bob
services:
  - name: api
    owner: web
  - name: db
    owner: web
  - name: billing
    owner: web
"""
PAGE_YAML = """\
status_page:
  title: Acme status
  description: Live status of Acme's services.
  components:
    - name: API
      description: The public REST API
      services: [api, db]
      group: Platform
    - name: Database
      services: [db]
      group: Platform
    - name: Billing
      services: [billing]
"""


def write_config(directory: Path, page: str = PAGE_YAML) -> Path:
    directory.mkdir(exist_ok=True)
    (directory / "base.yaml").write_text(BASE_YAML)
    (directory / "status.yaml").write_text(page)
    return directory


class Env:
    """An app with a frozen clock, the catalog applied 30 days before T0."""

    def __init__(self, client: TestClient, clock: FrozenClock, headers: Any, sf: Any) -> None:
        self.client, self.clock, self.h, self.sf = client, clock, headers, sf

    def call(self, method: str, path: str, role: str = "responder", **kw: Any) -> Any:
        resp = self.client.request(method, f"/api/v1{path}", headers=self.h[role], **kw)
        assert resp.status_code < 300, resp.text
        return resp.json()

    def public(self, path: str) -> Any:
        resp = self.client.get(f"/status/api/v2/{path}")
        assert resp.status_code == 200, resp.text
        assert resp.headers["access-control-allow-origin"] == "*"
        return resp.json()

    def declare(
        self, title: str, severity: str = "SEV1", services: tuple[str, ...] = ("api",)
    ) -> int:
        body = {"title": title, "severity": severity, "services": list(services)}
        return int(self.call("POST", "/incidents", json=body)["id"])

    def update(self, iid: int, status: str, message: str, publish: bool = True) -> None:
        body = {"public_status": status, "message": message, "publish": publish}
        self.call("POST", f"/incidents/{iid}/updates", json=body)

    def states(self) -> dict[str, str]:
        return {c["name"]: c["status"] for c in self.public("components.json")["components"]}


@pytest.fixture
def env(
    engine: Engine,
    session_factory: sessionmaker[Session],
    settings: Settings,
    tmp_path: Path,
) -> Iterator[Env]:
    config = write_config(tmp_path / "config")
    with session_factory() as s, s.begin():
        apply_directory(s, config, dry_run=False, now=APPLIED)
    headers = {
        role: {"Authorization": f"Bearer {make_token(session_factory, role)}"}
        for role in ("admin", "responder", "viewer")
    }
    clock = FrozenClock(T0)
    app = create_app(
        settings.model_copy(update={"engine_enabled": False, "public_url": "https://x.test"}),
        engine=engine,
        clock=clock,
    )
    with TestClient(app) as client:
        yield Env(client, clock, headers, session_factory)


# --- catalog YAML ------------------------------------------------------------------------------


def test_yaml_errors_name_file_and_line(tmp_path: Path) -> None:
    bad = PAGE_YAML.replace("[billing]", "[billing, bilings]").replace(
        "services: [db]\n", "services: [db, db]\n"
    )
    directory = write_config(tmp_path / "bad", bad)
    (directory / "more.yaml").write_text("status_page:\n  title: Second\n  colour: red\n")
    with pytest.raises(CatalogError) as info:
        validate_directory(directory)
    text = str(info.value)
    status_file = directory / "status.yaml"
    assert f"{status_file}:13:27: service 'bilings' is not defined" in text
    assert "service 'bilings' is not defined (did you mean 'billing'?)" in text
    assert "service 'db' is listed twice" in text
    assert f"{directory / 'more.yaml'}:3:3: status page: unknown key 'colour'" in text
    assert "status_page is already defined at" in text

    dup = PAGE_YAML.replace("name: Database", "name: API")
    with pytest.raises(CatalogError, match=r"status.yaml:\d+:\d+: .*duplicate component 'API'"):
        validate_directory(write_config(tmp_path / "dup", dup))
    with pytest.raises(CatalogError, match="status_page must be a mapping"):
        validate_directory(write_config(tmp_path / "list", "status_page:\n  - title: x\n"))


def test_apply_diff_and_export(session_factory: sessionmaker[Session], tmp_path: Path) -> None:
    config = write_config(tmp_path / "c")

    def apply(dry_run: bool = False) -> list[tuple[str, str, str]]:
        with session_factory() as s, s.begin():
            diff = apply_directory(s, config, dry_run=dry_run, now=T0)
        return [(c.op, c.kind, c.name) for c in diff.changes if c.kind.startswith("status")]

    assert apply() == [
        ("create", "status_page", "page"),
        ("create", "status_group", "Platform"),
        ("create", "status_component", "API"),
        ("create", "status_component", "Database"),
        ("create", "status_component", "Billing"),
    ]
    assert apply() == []
    changed = PAGE_YAML.replace("services: [api, db]", "services: [api]").replace(
        "    - name: Billing\n      services: [billing]\n", ""
    )
    (config / "status.yaml").write_text(changed)
    assert apply(dry_run=True) == [
        ("update", "status_component", "API"),
        ("delete", "status_component", "Billing"),
    ]
    assert apply() == [
        ("update", "status_component", "API"),
        ("delete", "status_component", "Billing"),
    ]
    with session_factory() as s:
        exported = export_catalog(s)
    assert exported["status_page"] == {
        "title": "Acme status",
        "description": "Live status of Acme's services.",
        "components": [
            {
                "name": "API",
                "description": "The public REST API",
                "services": ["api"],
                "group": "Platform",
            },
            {"name": "Database", "services": ["db"], "group": "Platform"},
        ],
    }
    (config / "status.yaml").write_text("{}\n")
    assert apply() == [
        ("delete", "status_component", "API"),
        ("delete", "status_component", "Database"),
        ("delete", "status_group", "Platform"),
        ("delete", "status_page", "page"),
    ]


# --- JSON shapes -------------------------------------------------------------------------------

COMPONENT_KEYS = {
    "id",
    "name",
    "status",
    "created_at",
    "updated_at",
    "position",
    "description",
    "showcase",
    "start_date",
    "group_id",
    "page_id",
    "group",
    "only_show_if_degraded",
    "components",
}
INCIDENT_KEYS = {
    "id",
    "name",
    "status",
    "created_at",
    "updated_at",
    "monitoring_at",
    "resolved_at",
    "impact",
    "shortlink",
    "started_at",
    "page_id",
    "incident_updates",
    "components",
}


def test_all_operational_shapes(env: Env) -> None:
    summary = env.public("summary.json")
    assert set(summary) == {"page", "components", "incidents", "scheduled_maintenances", "status"}
    assert summary["page"] == {
        "id": "ninefold",
        "name": "Acme status",
        "url": "https://x.test/status",
        "time_zone": "Etc/UTC",
        "updated_at": "2026-10-02T00:00:00Z",
    }
    assert summary["status"] == {"indicator": "none", "description": "All Systems Operational"}
    comps = summary["components"]
    assert all(set(c) == COMPONENT_KEYS for c in comps)
    group, api, database, billing = comps
    assert group["group"] is True
    assert group["name"] == "Platform"
    assert group["components"] == [api["id"], database["id"]]
    assert api["group_id"] == database["group_id"] == group["id"]
    assert billing["group_id"] is None
    assert [c["position"] for c in comps] == [1, 2, 3, 4]
    assert api["description"] == "The public REST API"
    assert database["description"] is None
    assert all(c["status"] == "operational" for c in comps)
    assert summary["incidents"] == []
    assert summary["scheduled_maintenances"] == []
    assert env.public("status.json") == {"page": summary["page"], "status": summary["status"]}
    assert env.public("components.json")["components"] == comps
    assert env.public("incidents.json")["incidents"] == []


def test_incident_drives_states_and_lists(env: Env) -> None:
    iid = env.declare("API errors", "SEV1", ("db",))
    # declared but not published: not on the page at all
    assert set(env.states().values()) == {"operational"}
    assert env.public("incidents.json")["incidents"] == []

    env.clock.advance(timedelta(minutes=10))
    env.update(iid, "investigating", "We are looking into errors.")
    states = env.states()
    assert states == {
        "Platform": "major_outage",
        "API": "major_outage",
        "Database": "major_outage",
        "Billing": "operational",
    }
    summary = env.public("summary.json")
    assert summary["status"] == {"indicator": "critical", "description": "Major System Outage"}
    (inc,) = summary["incidents"]
    assert set(inc) == INCIDENT_KEYS
    assert inc["name"] == "API errors"
    assert inc["status"] == "investigating"
    assert inc["impact"] == "critical"
    assert inc["shortlink"] == f"https://x.test/status#incident-{iid}"
    assert [c["name"] for c in inc["components"]] == ["API", "Database"]
    assert inc["incident_updates"][0]["body"] == "We are looking into errors."
    assert set(inc["incident_updates"][0]) >= {"id", "status", "body", "created_at", "display_at"}

    env.clock.advance(timedelta(minutes=20))
    env.call("POST", f"/incidents/{iid}/mitigate")
    assert env.states()["API"] == "degraded_performance"
    env.update(iid, "monitoring", "A fix is in place.")
    inc = env.public("incidents/unresolved.json")["incidents"][0]
    assert inc["status"] == "monitoring"
    assert inc["monitoring_at"] == "2026-11-01T00:30:00Z"
    assert [u["status"] for u in inc["incident_updates"]] == ["monitoring", "investigating"]

    env.clock.advance(timedelta(minutes=30))
    env.call("POST", f"/incidents/{iid}/resolve")
    assert set(env.states().values()) == {"operational"}
    assert env.public("incidents/unresolved.json")["incidents"] == []
    (done,) = env.public("incidents.json")["incidents"]
    assert done["status"] == "resolved"
    assert done["resolved_at"] == "2026-11-01T01:00:00Z"

    # uptime of the day: 30 min major outage (started 00:00, mitigated 00:30) then 30 min degraded
    env.clock.set(T0 + timedelta(hours=12))
    up = {c["name"]: c for c in env.public("uptime.json")["components"]}
    today = up["Database"]["days"][-1]
    assert today["date"] == "2026-11-01"
    assert today["major_outage_seconds"] == 1800
    assert today["degraded_performance_seconds"] == 1800
    assert today["uptime"] == pytest.approx(100 * (12 * 60 - 30) / (12 * 60))
    assert up["Billing"]["days"][-1]["uptime"] == 100
    # the component was created 30 days before T0: older days have no data
    assert up["Database"]["days"][-32]["uptime"] is None
    assert up["Database"]["days"][-31]["uptime"] == 100


def test_severity_maps_to_state_and_worst_wins(env: Env) -> None:
    a = env.declare("Slow billing", "SEV3", ("billing",))
    env.update(a, "identified", "Billing is slow.")
    assert env.states()["Billing"] == "degraded_performance"
    assert env.public("status.json")["status"]["indicator"] == "minor"
    b = env.declare("Billing half down", "SEV2", ("billing",))
    env.update(b, "investigating", "Some payments fail.")
    assert env.states()["Billing"] == "partial_outage"
    assert env.public("status.json")["status"] == {
        "indicator": "major",
        "description": "Partial System Outage",
    }


def test_maintenance_windows(env: Env) -> None:
    start = T0 + timedelta(hours=2)
    body = {
        "start": start.isoformat(),
        "end": (start + timedelta(hours=1)).isoformat(),
        "reason": "MARKER-MAINT-REASON call bob",
    }
    env.call("POST", "/services/billing/maintenance", json=body)
    upcoming = env.public("scheduled-maintenances/upcoming.json")["scheduled_maintenances"]
    (m,) = upcoming
    assert m["status"] == "scheduled"
    assert m["impact"] == "maintenance"
    assert m["scheduled_for"] == "2026-11-01T02:00:00Z"
    assert m["name"] == "Scheduled maintenance: Billing"
    assert "MARKER-MAINT-REASON" not in json.dumps(upcoming)
    assert env.public("summary.json")["scheduled_maintenances"] == upcoming
    assert env.states()["Billing"] == "operational"

    env.clock.set(start + timedelta(minutes=5))
    assert env.states()["Billing"] == "under_maintenance"
    assert env.public("status.json")["status"]["description"] == "Service Under Maintenance"
    assert (
        env.public("scheduled-maintenances/active.json")["scheduled_maintenances"][0]["id"]
        == m["id"]
    )
    assert "Maintenance in progress" in env.client.get("/status").text

    env.clock.set(start + timedelta(hours=2))
    assert env.states()["Billing"] == "operational"
    (done,) = env.public("scheduled-maintenances.json")["scheduled_maintenances"]
    assert done["status"] == "completed"


def test_manual_override(env: Env) -> None:
    comps = env.call("GET", "/status-page/components", "admin")
    billing = next(c for c in comps if c["name"] == "Billing")
    path = f"/api/v1/status-page/components/{billing['id']}/override"
    resp = env.client.put(path, json={"status": "partial_outage"}, headers=env.h["responder"])
    assert resp.status_code == 403
    resp = env.client.put(path, json={"status": "exploded"}, headers=env.h["admin"])
    assert resp.status_code == 422
    row = env.call(
        "PUT",
        f"/status-page/components/{billing['id']}/override",
        "admin",
        json={"status": "partial_outage"},
    )
    assert row["status"] == "partial_outage"
    assert row["derived_status"] == "operational"
    assert env.states()["Billing"] == "partial_outage"
    assert env.public("status.json")["status"]["indicator"] == "major"
    env.call(
        "PUT", f"/status-page/components/{billing['id']}/override", "admin", json={"status": None}
    )
    assert env.states()["Billing"] == "operational"


# --- feed and HTML -----------------------------------------------------------------------------


def test_atom_feed(env: Env) -> None:
    iid = env.declare("Login fails", "SEV2", ("api",))
    env.update(iid, "identified", "Logins <fail> & retry.")
    resp = env.client.get("/status/history.atom")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/atom+xml")
    root = ET.fromstring(resp.content)  # noqa: S314 (our own feed)
    assert root.tag == f"{ATOM}feed"
    for tag in ("id", "title", "updated", "author"):
        assert root.find(f"{ATOM}{tag}") is not None, tag
    assert root.find(f"{ATOM}link[@rel='self']") is not None
    (entry,) = root.findall(f"{ATOM}entry")
    for tag in ("id", "title", "updated", "content", "link"):
        assert entry.find(f"{ATOM}{tag}") is not None, tag
    assert entry.findtext(f"{ATOM}title") == "Login fails"
    assert entry.findtext(f"{ATOM}updated") == "2026-11-01T00:00:00Z"
    content = entry.find(f"{ATOM}content")
    assert content is not None
    assert content.get("type") == "html"
    assert "Logins &lt;fail&gt; &amp; retry." in (content.text or "")


def test_html_page(env: Env) -> None:
    iid = env.declare("Checkout <b>broken</b>", "SEV1", ("billing",))
    env.update(iid, "investigating", "Payments fail.")
    env.clock.advance(timedelta(hours=1))
    env.call("POST", f"/incidents/{iid}/resolve")
    other = env.declare("API slow", "SEV3", ("api",))
    env.update(other, "identified", "Slow responses.")
    resp = env.client.get("/status")
    assert resp.status_code == 200
    html = resp.text
    assert resp.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in resp.headers["content-security-policy"]
    assert '<meta name="viewport"' in html
    assert "<script" not in html
    assert not re.search(r"""(src|href)=["']https?://(?!x\.test)""", html)  # no CDN
    assert "Minor Service Outage" in html
    assert "Current incidents" in html
    assert "API slow" in html
    assert "Past incidents (last 14 days)" in html
    assert "Checkout &lt;b&gt;broken&lt;/b&gt;" in html  # escaped
    assert html.count("<svg") == 3
    assert html.count("<rect") == 3 * 90
    assert "Degraded performance" in html
    assert "Operational" in html
    assert "No maintenance is scheduled." in html


# --- nothing private leaks ---------------------------------------------------------------------


def test_nothing_private_leaks(env: Env) -> None:
    markers = {
        "MARKER-NOTE",
        "MARKER-UNPUBLISHED",
        "MARKER-LABEL",
        "MARKER-ALERT-SUMMARY",
        "MARKER-SUMMARY",
        "MARKER-LINK",
        "Marker-Responder",
        "alice",
        "bob",
        "commander",
    }
    alert = env.call(
        "POST",
        "/alerts",
        json={
            "summary": "MARKER-ALERT-SUMMARY",
            "service": "api",
            "severity": "critical",
            "labels": {"secret_label": "MARKER-LABEL"},
        },
    )
    iid = int(
        env.call(
            "POST",
            "/incidents",
            json={
                "title": "Public title",
                "severity": "SEV1",
                "services": ["api"],
                "summary": "MARKER-SUMMARY",
                "alert_ids": [alert["id"]],
                "links": {"chat": "https://chat.example/MARKER-LINK"},
            },
        )["id"]
    )
    env.call("PUT", f"/incidents/{iid}/roles/commander", json={"user": "alice"})
    env.call("POST", f"/incidents/{iid}/responders", json={"user": "bob"})
    env.call("POST", f"/incidents/{iid}/timeline", json={"message": "MARKER-NOTE db creds"})
    env.update(iid, "identified", "MARKER-UNPUBLISHED internal", publish=False)
    env.update(iid, "investigating", "We are investigating.")
    env.call("POST", f"/incidents/{iid}/mitigate")
    # the internal detail is really there for responders
    internal = json.dumps(env.call("GET", f"/incidents/{iid}", "viewer"))
    assert "MARKER-UNPUBLISHED" in internal
    assert "alice" in internal

    paths = [
        "/status",
        "/status/history.atom",
        *(
            f"/status/api/v2/{p}"
            for p in (
                "summary.json",
                "status.json",
                "components.json",
                "incidents.json",
                "incidents/unresolved.json",
                "scheduled-maintenances.json",
                "scheduled-maintenances/upcoming.json",
                "scheduled-maintenances/active.json",
                "uptime.json",
            )
        ),
    ]
    seen_title = False
    for path in paths:
        resp = env.client.get(path)
        assert resp.status_code == 200, path
        body = resp.text
        seen_title |= "Public title" in body
        for marker in markers:
            assert marker.lower() not in body.lower(), (path, marker)
    assert seen_title
    # an incident with only unpublished updates is not public at all
    hidden = env.declare("MARKER-HIDDEN-TITLE", "SEV1", ("billing",))
    env.update(hidden, "investigating", "MARKER-UNPUBLISHED 2", publish=False)
    for path in paths:
        assert "MARKER-HIDDEN-TITLE" not in env.client.get(path).text, path
    assert env.states()["Billing"] == "operational"
