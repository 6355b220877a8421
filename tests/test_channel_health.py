"""A notification channel that keeps failing raises its own alert, routed to another channel,
and resolves it once the channel delivers again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ninefold.alert.keys import create
from ninefold.app import create_app
from ninefold.config import Settings
from ninefold.core.clock import FrozenClock
from ninefold.notification.jobs import health_with_state
from ninefold.notification.jobs import run_with_state as deliver
from tests.conftest import T0, make_token
from tests.receiver import WebhookReceiver

ROUTING = """
route:
  receiver: team
  group_wait: 0s
  group_by: ['...']
  routes:
    - matchers: ['alertname="NotificationChannelFailing"']
      receiver: backup
receivers:
  - name: team
    channels: [team-hook]
  - name: backup
    channels: [backup-hook]
"""


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    r = WebhookReceiver().start()
    yield r
    r.stop()


def test_failing_channel_alerts_through_another_channel_then_resolves(
    engine: Engine,
    session_factory: sessionmaker[Session],
    settings: Settings,
    tmp_path: Path,
    clock: FrozenClock,
    receiver: WebhookReceiver,
) -> None:
    routing = tmp_path / "routing.yml"
    routing.write_text(ROUTING, encoding="utf-8")
    with session_factory() as s, s.begin():
        _, key = create(
            s, name="am", kind="alertmanager", service_id=None, rate_limit_per_minute=6000, now=T0
        )
    cfg = settings.model_copy(update={"routing_file": routing, "engine_enabled": False})
    admin = {"Authorization": f"Bearer {make_token(session_factory, 'admin')}"}
    app = create_app(cfg, engine=engine, clock=clock)
    receiver.script["/team"] = [400]  # a permanent failure: dead at once
    with TestClient(app) as client:
        for name, path in (("team-hook", "/team"), ("backup-hook", "/backup")):
            resp = client.post(
                "/api/v1/notification-channels",
                json={"name": name, "kind": "webhook", "target": receiver.url(path)},
                headers=admin,
            )
            assert resp.status_code == 201, resp.text
        client.post(f"/integrations/{key}/api/v2/alerts", json=[{"labels": {"alertname": "A"}}])
        deliver(app.state)
        assert health_with_state(app.state) == 1  # raised
        assert health_with_state(app.state) == 0  # once
        deliver(app.state)
        backup = [h for h in receiver.hits if h.path == "/backup"]
        assert len(backup) == 1
        assert b"team-hook keeps failing" in backup[0].body
        alerts = client.get("/api/v1/alerts", headers=admin).json()["items"]
        meta = next(a for a in alerts if a["labels"]["alertname"] == "NotificationChannelFailing")
        assert (meta["status"], meta["labels"]["channel"]) == ("firing", "team-hook")

        # the channel is repaired; the dead letter is retried and delivered
        dead = client.get("/api/v1/notifications", params={"status": "dead"}, headers=admin).json()[
            "items"
        ]
        assert [d["channel"] for d in dead] == ["team-hook"]
        assert client.post(f"/api/v1/notifications/{dead[0]['id']}/retry", headers=admin).is_success
        deliver(app.state)
        assert health_with_state(app.state) == 1  # resolved
        meta = client.get(f"/api/v1/alerts/{meta['id']}", headers=admin).json()
        assert meta["status"] == "resolved"
