"""Postmortems and action items through the HTTP API with a frozen clock, on SQLite and
PostgreSQL: the resolve policy (error budget burn computed by hand, SEV1 always, SEV4 not),
generated drafts, states, revisions, Markdown export, action items, overdue reminders, the
on-time closure rate and repeat detection.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from ninefold.app import create_app
from ninefold.config import Settings
from ninefold.core.clock import FrozenClock
from ninefold.identity.models import TeamMember, User
from ninefold.oncall.models import NotificationRuleRow
from ninefold.postmortem import jobs
from tests import factories
from tests.conftest import T0, make_token

H = timedelta(hours=1)
M = timedelta(minutes=1)


def iso(at: Any) -> str:
    return str(at.isoformat().replace("+00:00", "Z"))


class Env:
    """A running app with a frozen clock."""

    def __init__(self, client: TestClient, clock: FrozenClock, headers: Any, sf: Any) -> None:
        self.client, self.clock, self.h, self.sf = client, clock, headers, sf

    def call(self, method: str, path: str, role: str = "responder", **kw: Any) -> Any:
        resp = self.client.request(method, f"/api/v1{path}", headers=self.h[role], **kw)
        assert resp.status_code < 300, resp.text
        return resp.json() if resp.content and resp.status_code != 204 else None

    def fail(self, method: str, path: str, status: int, role: str = "responder", **kw: Any) -> str:
        resp = self.client.request(method, f"/api/v1{path}", headers=self.h[role], **kw)
        assert resp.status_code == status, resp.text
        return str(resp.json()["detail"])

    def at(self, when: Any) -> None:
        self.clock.set(when)

    def declare(self, title: str, severity: str, services: list[str], started: Any) -> int:
        body = {"title": title, "severity": severity, "services": services}
        body["started_at"] = iso(started)
        return int(self.call("POST", "/incidents", json=body)["id"])

    def push(self, slo: str, batch: str, events: list[tuple[Any, int, int]]) -> None:
        body = {
            "batch_id": batch,
            "events": [
                {"timestamp": iso(t), "total": total, "bad": bad} for t, total, bad in events
            ],
        }
        self.call("POST", f"/slos/{slo}/events", json=body)

    def postmortem(self, incident: int) -> dict[str, Any] | None:
        resp = self.client.get(f"/api/v1/incidents/{incident}/postmortem", headers=self.h["viewer"])
        if resp.status_code == 404:
            return None
        assert resp.status_code == 200, resp.text
        return dict(resp.json())

    def section(self, pm: dict[str, Any], key: str) -> str:
        return str(next(s["body"] for s in pm["sections"] if s["key"] == key))

    def outbox(self) -> list[tuple[str, str]]:
        items = self.call("GET", "/notifications", "admin", params={"limit": 200})["items"]
        return sorted((i["channel"], i["notification"]["idempotency_key"]) for i in items)


def _env(
    engine: Engine, sf: sessionmaker[Session], settings: Settings, clock: FrozenClock, **extra: Any
) -> Iterator[Env]:
    with sf() as s, s.begin():
        web = factories.team(s, "web", T0)
        data = factories.team(s, "data", T0)
        api = factories.service(s, "api", web, T0)
        factories.service(s, "db", data, T0)
        factories.slo(s, api, T0, name="api-availability", objective=0.99)
        factories.slo(s, api, T0, name="api-latency", objective=0.95)
        for name, team in (("alice", web), ("bob", data)):
            user = User(name=name, email=f"{name}@example.com", created_at=T0)
            s.add(user)
            s.flush()
            s.add(TeamMember(team_id=team.id, user_id=user.id))
    headers = {
        r: {"Authorization": f"Bearer {make_token(sf, r)}"}
        for r in ("admin", "responder", "viewer")
    }
    app = create_app(
        settings.model_copy(update={"engine_enabled": False, **extra}), engine=engine, clock=clock
    )
    with TestClient(app) as client:
        e = Env(client, clock, headers, sf)
        for ch in ("alice-app", "pm-room"):
            body = {"name": ch, "kind": "webhook", "target": f"http://127.0.0.1:9/{ch}"}
            e.call("POST", "/notification-channels", "admin", json=body)
        e.call(
            "PUT",
            "/users/alice/notification-rules",
            "admin",
            json=[{"after": "0m", "channel": "alice-app"}],
        )
        yield e


@pytest.fixture
def env(
    engine: Engine, session_factory: sessionmaker[Session], settings: Settings, clock: FrozenClock
) -> Iterator[Env]:
    yield from _env(engine, session_factory, settings, clock)


def _burn_scenario(env: Env) -> int:
    """A SEV3 incident on api from T0+1h to T0+1h30 while api-availability burns.

    api-availability (99 %, rolling 30 days): 100,000 good events five days before, 10,000 with
    50 bad the day before (outside the incident), and 2 × 5,000 with 150 + 100 bad during it.
    Window at resolve (30 days up to T0+1h30): 120,000 events, budget 1 % = 1,200; the incident
    burned 250 / 1,200 = 20.83 % ≥ 20 %.
    """
    env.at(T0 + H + 10 * M)
    iid = env.declare("Checkout API returns 500 errors", "SEV3", ["api"], T0 + H)
    env.at(T0 + H + 15 * M)
    env.call("POST", f"/incidents/{iid}/acknowledge")
    env.call(
        "POST",
        f"/incidents/{iid}/timeline",
        json={"message": "Bad config found", "key_moment": True},
    )
    env.at(T0 + H + 25 * M)
    env.push(
        "api-availability",
        "b1",
        [
            (T0 - timedelta(days=5), 100_000, 0),
            (T0 - timedelta(days=1), 10_000, 50),
            (T0 + H + 5 * M, 5_000, 150),
            (T0 + H + 20 * M, 5_000, 100),
        ],
    )
    env.call("POST", f"/incidents/{iid}/mitigate")
    env.at(T0 + H + 30 * M)
    env.call("POST", f"/incidents/{iid}/resolve")
    return iid


def test_burn_over_threshold_drafts_a_postmortem_with_the_numbers(env: Env) -> None:
    iid = _burn_scenario(env)
    pm = env.postmortem(iid)
    assert pm is not None
    assert pm["status"] == "draft"
    assert pm["created_by"] == "ninefold"
    assert (
        pm["reason"] == "consumed 20.8% of the error budget of SLO api-availability (threshold 20%)"
    )
    budgets = {b["slo"]: b for b in pm["facts"]["budgets"]}
    assert budgets["api-availability"]["bad"] == 250
    assert budgets["api-availability"]["budget"] == pytest.approx(1_200)
    assert budgets["api-availability"]["consumed_fraction"] == pytest.approx(250 / 1_200)
    assert budgets["api-latency"]["consumed_fraction"] is None  # no data
    timings = {t["label"]: t["seconds"] for t in pm["facts"]["timings"]}
    assert timings == {
        "Time to detect": 600,
        "Time to acknowledge": 300,
        "Time to mitigate": 900,
        "Time to resolve": 1200,
        "Impact duration": 1800,
    }
    impact = env.section(pm, "impact")
    assert "Duration of impact (started → resolved): 30m" in impact
    assert "Affected services: api" in impact
    assert (
        "api-availability (api, objective 99%): 20.8% of the error budget (250 bad events of a 1,200 budget)"
        in impact
    )
    assert "api-latency (api, objective 95%): no data" in impact
    assert "Alerts attached: 0; pages sent: 0" in impact
    timeline = env.section(pm, "timeline")
    assert (
        "2026-11-01T01:10:00Z — Incident declared (SEV3): Checkout API returns 500 errors"
        in timeline
    )
    assert "Bad config found" in timeline
    assert "2026-11-01T01:30:00Z — Incident resolved" in timeline
    response = env.section(pm, "detection_and_response")
    assert "| Time to detect | started → detected | 10m |" in response
    assert "| Time to acknowledge | detected → acknowledged | 5m |" in response
    assert "| Time to resolve | detected → resolved | 20m |" in response
    keys = [s["key"] for s in pm["sections"]]
    for key in (
        "contributing_factors",
        "what_went_well",
        "what_went_poorly",
        "where_we_got_lucky",
        "action_items",
    ):
        assert key in keys
    assert pm["blame_warnings"] == []
    # the incident timeline says so, and the engine job adds nothing more
    kinds = [e["kind"] for e in env.call("GET", f"/incidents/{iid}/timeline", "viewer")]
    assert kinds.count("postmortem") == 1
    with env.sf() as s, s.begin():
        assert jobs.run(s, env.clock.now()) == {"postmortems": 0, "repeats": 0, "reminders": 0}


def test_sev1_always_sev4_with_little_burn_not_and_on_demand(env: Env) -> None:
    env.at(T0 + H)
    sev1 = env.declare("Database unreachable", "SEV1", ["db"], T0 + 50 * M)
    env.call("POST", f"/incidents/{sev1}/resolve")
    pm = env.postmortem(sev1)
    assert pm is not None
    assert pm["reason"] == "severity SEV1 always gets a postmortem"
    assert "no SLO on the affected services" in env.section(pm, "impact")

    env.at(T0 + 3 * H)
    env.push(
        "api-availability",
        "bg",
        [(T0 - timedelta(days=2), 100_000, 0), (T0 + 2 * H + 30 * M, 1_000, 10)],
    )
    sev4 = env.declare("Slow admin page", "SEV4", ["api"], T0 + 2 * H)
    env.call("POST", f"/incidents/{sev4}/resolve")
    assert env.postmortem(sev4) is None  # 10 / 1,010 = 1 % of the budget
    with env.sf() as s, s.begin():
        assert jobs.run(s, env.clock.now())["postmortems"] == 0  # decided once, not again

    made = env.call("POST", f"/incidents/{sev4}/postmortem")
    assert made["reason"] == "requested by test-responder"
    budget = made["facts"]["budgets"][0]
    assert budget["consumed_fraction"] == pytest.approx(10 / 1_010)
    assert "409" not in env.fail("POST", f"/incidents/{sev4}/postmortem", 409)
    assert env.fail("POST", "/incidents/999/postmortem", 404) == "incident 999 does not exist"
    listed = env.call("GET", "/postmortems", "viewer")
    assert listed["total"] == 2


def test_states_revisions_and_markdown(env: Env) -> None:
    env.at(T0 + H)
    iid = env.declare("Queue backlog", "SEV2", ["api"], T0 + 30 * M)
    env.call("POST", f"/incidents/{iid}/resolve")
    pm = env.postmortem(iid)
    assert pm is not None
    pid = pm["id"]
    # illegal moves are 409 and say where one can go
    assert "from draft only to in_review" in env.fail(
        "POST", f"/postmortems/{pid}/status", 409, json={"status": "published"}
    )
    env.fail("POST", f"/postmortems/{pid}/status", 422, json={"status": "archived"})

    env.at(T0 + 2 * H)
    body = "A config change reached every region at once; the canary did not cover the queue."
    pm = env.call("PUT", f"/postmortems/{pid}/sections/contributing_factors", json={"body": body})
    assert env.section(pm, "contributing_factors") == body
    pm = env.call(
        "PUT", f"/postmortems/{pid}/sections/contributing_factors", json={"body": body}
    )  # unchanged
    env.call(
        "PUT", f"/postmortems/{pid}/sections/what_went_poorly", json={"body": "Alice was careless."}
    )
    pm = env.call("GET", f"/postmortems/{pid}", "viewer")
    assert pm["blame_warnings"] == ['what_went_poorly: "careless"']
    env.fail("PUT", f"/postmortems/{pid}/sections/nope", 404, json={"body": "x"})
    pm = env.call(
        "PUT",
        f"/postmortems/{pid}/sections/customer_comms",
        json={"body": "Emailed", "heading": "Customer communication"},
    )
    assert pm["sections"][-1] == {
        "key": "customer_comms",
        "heading": "Customer communication",
        "body": "Emailed",
        "edited": True,
    }

    env.call("POST", f"/postmortems/{pid}/status", json={"status": "in_review"})
    env.call("POST", f"/postmortems/{pid}/status", json={"status": "draft"})
    env.call("POST", f"/postmortems/{pid}/status", json={"status": "in_review"})
    env.at(T0 + 3 * H)
    pm = env.call("POST", f"/postmortems/{pid}/status", json={"status": "published"})
    assert (pm["status"], pm["published_at"]) == ("published", iso(T0 + 3 * H))
    env.fail("POST", f"/postmortems/{pid}/status", 409, json={"status": "draft"})
    assert "published postmortems do not change" in env.fail(
        "PUT", f"/postmortems/{pid}/sections/summary", 409, json={"body": "late"}
    )

    revs = env.call("GET", f"/postmortems/{pid}/revisions", "viewer")
    first = revs[0]
    assert (first["section"], first["before"], first["after"]) == (
        "contributing_factors",
        "_What conditions in our systems and processes allowed this to happen? Look for several "
        "factors, not one root cause; describe systems and decisions, not people._",
        body,
    )
    assert [r["section"] for r in revs] == [
        "contributing_factors", "what_went_poorly", "customer_comms", "status", "status", "status", "status",
    ]  # fmt: skip
    assert [(r["before"], r["after"]) for r in revs if r["section"] == "status"] == [
        ("draft", "in_review"), ("in_review", "draft"), ("draft", "in_review"), ("in_review", "published"),
    ]  # fmt: skip
    assert {r["actor"] for r in revs} == {"test-responder"}
    assert revs[0]["at"] == iso(T0 + 2 * H)

    resp = env.client.get(f"/api/v1/postmortems/{pid}/markdown", headers=env.h["viewer"])
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/markdown")
    text = resp.text
    assert text.startswith(
        "# Postmortem: Queue backlog\n\n- **Status:** published\n- **Incident:** #"
    )
    assert f"## Contributing factors\n\n{body}\n" in text
    assert "## Customer communication\n\nEmailed" in text
    assert text.index("## Summary") < text.index("## Impact") < text.index("## Action items")


def test_action_items_crud_and_postmortem_section(env: Env) -> None:
    env.at(T0 + H)
    iid = env.declare("Queue backlog", "SEV2", ["api"], T0 + 30 * M)
    env.call("POST", f"/incidents/{iid}/resolve")
    pm = env.postmortem(iid)
    assert pm is not None
    item = env.call(
        "POST",
        "/action-items",
        json={
            "title": "Canary the queue config",
            "owner": "alice",
            "due_date": "2026-11-08",
            "priority": "high",
            "postmortem_id": pm["id"],
        },
    )
    assert (
        item["priority"],
        item["status"],
        item["incident_id"],
        item["team"],
        item["overdue"],
    ) == ("P2", "open", iid, "web", False)
    pm = env.call("GET", f"/postmortems/{pm['id']}", "viewer")
    assert (
        f"- [ ] #{item['id']} Canary the queue config — alice, P2, due 2026-11-08 (open)"
        in env.section(pm, "action_items")
    )

    other = env.call(
        "POST",
        "/action-items",
        json={
            "title": "Runbook",
            "owner": "bob",
            "incident_id": iid,
            "priority": "P4",
            "team": "data",
        },
    )
    assert (other["postmortem_id"], other["team"]) == (pm["id"], "data")
    assert env.fail("POST", "/action-items", 422, json={"title": "x", "owner": "zed"}).startswith(
        "owner:"
    )
    assert env.fail("POST", "/action-items", 422, json={"title": "x", "priority": "P9"}).startswith(
        "priority:"
    )
    assert env.fail(
        "POST", "/action-items", 422, json={"title": "x", "incident_id": 999}
    ).startswith("incident_id:")

    env.at(T0 + 2 * H)
    done = env.call("PATCH", f"/action-items/{item['id']}", json={"status": "done"})
    assert done["closed_at"] == iso(T0 + 2 * H)
    reopened = env.call(
        "PATCH", f"/action-items/{item['id']}", json={"status": "in_progress", "due_date": None}
    )
    assert (reopened["closed_at"], reopened["due_date"]) == (None, None)
    pm = env.call("GET", f"/postmortems/{pm['id']}", "viewer")
    assert f"#{item['id']} Canary the queue config — alice, P2, due — (in_progress)" in env.section(
        pm, "action_items"
    )

    assert env.call("GET", "/action-items", "viewer", params={"owner": "alice"})["total"] == 1
    assert env.call("GET", "/action-items", "viewer", params={"status": ["open"]})["total"] == 1
    assert (
        env.call("GET", "/action-items", "viewer", params={"team": "data"})["items"][0]["title"]
        == "Runbook"
    )
    env.call("DELETE", f"/action-items/{other['id']}")
    env.fail("GET", f"/action-items/{other['id']}", 404, "viewer")


def test_overdue_reminders_once_a_day(env: Env) -> None:
    env.at(T0)
    a = env.call(
        "POST", "/action-items", json={"title": "A", "owner": "alice", "due_date": "2026-11-02"}
    )["id"]
    b = env.call(
        "POST", "/action-items", json={"title": "B", "owner": "bob", "due_date": "2026-11-02"}
    )["id"]
    c = env.call(
        "POST", "/action-items", json={"title": "C", "owner": "alice", "due_date": "2026-11-02"}
    )["id"]
    env.call(
        "POST", "/action-items", json={"title": "D", "owner": "alice", "due_date": "2026-11-30"}
    )
    env.call("PATCH", f"/action-items/{c}", json={"status": "done"})

    env.at(T0 + timedelta(days=1, hours=12))  # due today: not overdue yet
    with env.sf() as s, s.begin():
        assert jobs.run(s, env.clock.now(), reminder_channel="pm-room")["reminders"] == 0

    env.at(T0 + timedelta(days=3, hours=9))
    for _ in range(2):  # the second pass the same day changes nothing
        with env.sf() as s, s.begin():
            jobs.run(s, env.clock.now(), reminder_channel="pm-room")
    with env.sf() as s:
        rid = s.scalar(select(NotificationRuleRow.id).join(User).where(User.name == "alice"))
    assert [k for k in env.outbox() if "action-item" in k[1]] == [
        ("alice-app", f"action-item-{a}:overdue:2026-11-04:alice:{rid}"),
        ("pm-room", f"action-item-{b}:overdue:2026-11-04:pm-room"),  # bob has no rules
    ]
    assert env.call("GET", "/action-items", "viewer", params={"overdue": True})["total"] == 2

    with env.sf() as s, s.begin():  # a reminder with the same key is never queued twice
        from ninefold.postmortem.action_flows import send_overdue_reminders
        from ninefold.postmortem.models import ActionItem

        for row in s.query(ActionItem):
            row.last_reminded_on = None
        s.flush()
        send_overdue_reminders(s, env.clock.now(), channel="pm-room")
    assert len([k for k in env.outbox() if "action-item" in k[1]]) == 2

    env.at(T0 + timedelta(days=4, hours=9))
    with env.sf() as s, s.begin():
        assert jobs.run(s, env.clock.now(), reminder_channel="pm-room")["reminders"] == 2
    sent = [k for k in env.outbox() if "action-item" in k[1]]
    assert len(sent) == 4
    assert sum("2026-11-05" in k[1] for k in sent) == 2
    notes = env.call("GET", "/notifications", "admin", params={"limit": 200})["items"]
    text = next(n["notification"] for n in notes if n["channel"] == "pm-room")
    assert text["title"] == f"Overdue action item #{b}: B"
    assert "was due 2026-11-02" in text["summary"]


def test_closure_rate_per_team(env: Env) -> None:
    env.at(T0)
    ids = [
        env.call(
            "POST", "/action-items", json={"title": t, "owner": o, "due_date": d, "team": team}
        )["id"]
        for t, o, d, team in (
            ("on time", "alice", "2026-11-03", "web"),
            ("late", "alice", "2026-11-03", "web"),
            ("open", "alice", "2026-11-05", "web"),
            ("other team", "bob", "2026-11-03", "data"),
        )
    ]
    env.at(T0 + timedelta(days=2))
    env.call("PATCH", f"/action-items/{ids[0]}", json={"status": "done"})
    env.call("PATCH", f"/action-items/{ids[3]}", json={"status": "wont_do"})
    env.at(T0 + timedelta(days=4))
    env.call("PATCH", f"/action-items/{ids[1]}", json={"status": "done"})
    env.at(T0 + timedelta(days=10))
    web = env.call(
        "GET",
        "/action-items/stats",
        "viewer",
        params={"team": "web", "start": "2026-11-01", "end": "2026-11-30"},
    )
    assert (web["due"], web["closed_on_time"], web["closed_late"], web["still_open"]) == (
        3,
        1,
        1,
        1,
    )
    assert web["rate"] == pytest.approx(1 / 3)
    data = env.call("GET", "/action-items/stats", "viewer", params={"team": "data"})
    assert (data["due"], data["rate"], data["start"], data["end"]) == (
        1,
        1.0,
        "2026-08-14",
        "2026-11-11",
    )
    none = env.call(
        "GET", "/action-items/stats", "viewer", params={"start": "2027-01-01", "end": "2027-01-31"}
    )
    assert (none["due"], none["rate"]) == (0, None)
    env.fail("GET", "/action-items/stats", 422, "viewer", params={"team": "nope"})


def test_repeat_lists_the_earlier_open_action_items(env: Env) -> None:
    env.at(T0 + H)
    first = env.declare("Checkout API returns 500 errors", "SEV3", ["api"], T0 + 30 * M)
    env.call("POST", f"/incidents/{first}/resolve")
    open_item = env.call(
        "POST",
        "/action-items",
        json={
            "title": "Add a canary",
            "owner": "alice",
            "incident_id": first,
            "due_date": "2026-11-20",
        },
    )
    closed = env.call(
        "POST", "/action-items", json={"title": "Fix the config", "incident_id": first}
    )
    env.call("PATCH", f"/action-items/{closed['id']}", json={"status": "done"})
    unrelated = env.declare(
        "Checkout API returns 500 errors", "SEV3", ["db"], T0 + 30 * M
    )  # other service

    env.at(T0 + timedelta(days=3))
    second = env.declare(
        "checkout api 500 errors", "SEV1", ["api"], T0 + timedelta(days=3) - 10 * M
    )
    repeats = env.call("GET", f"/incidents/{second}/repeats")
    assert [(r["incident_id"], r["reason"], r["score"]) for r in repeats] == [(first, "title", 0.8)]
    assert [i["title"] for i in repeats[0]["open_action_items"]] == ["Add a canary"]
    env.call("POST", f"/incidents/{second}/resolve")
    pm = env.postmortem(second)
    assert pm is not None
    text = env.section(pm, "possible_repeat")
    assert f'Incident #{first} "Checkout API returns 500 errors" (title, similarity 0.8)' in text
    assert (
        f"open action item #{open_item['id']} Add a canary — alice, due 2026-11-20 (open)" in text
    )
    assert "Fix the config" not in text
    assert f"#{unrelated}" not in text
    timeline = env.call("GET", f"/incidents/{second}/timeline", "viewer")
    assert [e["details"]["earlier"] for e in timeline if e["kind"] == "repeat"] == [first]


@pytest.fixture
def custom_env(
    engine: Engine,
    session_factory: sessionmaker[Session],
    settings: Settings,
    clock: FrozenClock,
    tmp_path: Path,
) -> Iterator[Env]:
    template = tmp_path / "pm.md.j2"
    template.write_text(
        "## What happened\n\n{{ incident.title }} for {{ duration }}\n\n## Follow-ups\n\nTBD\n"
    )
    yield from _env(
        engine,
        session_factory,
        settings,
        clock,
        postmortem_severities=["SEV1", "SEV2", "SEV3"],
        postmortem_budget_threshold=0.5,
        postmortem_template=template,
    )


def test_policy_and_template_from_settings(custom_env: Env) -> None:
    env = custom_env
    iid = _burn_scenario(env)  # SEV3 is now in the list
    pm = env.postmortem(iid)
    assert pm is not None
    assert pm["reason"] == "severity SEV3 always gets a postmortem"
    assert [(s["key"], s["body"]) for s in pm["sections"]] == [
        ("what_happened", "Checkout API returns 500 errors for 30m"),
        ("follow_ups", "TBD"),
    ]
    env.at(T0 + 2 * H)
    sev4 = env.declare("Same burn, SEV4", "SEV4", ["api"], T0 + H)
    env.call("POST", f"/incidents/{sev4}/resolve")
    assert env.postmortem(sev4) is None  # 250 / 1,200 is under the 50 % threshold
