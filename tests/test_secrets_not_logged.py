"""Secrets never reach the logs: a realistic sequence with every logger captured at DEBUG."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import aiosmtpd.controller as aiosmtpd_controller
import pytest
from aiosmtpd.smtp import AuthResult
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from ninefold.alert.models import Alert
from ninefold.app import create_app
from ninefold.config import Settings
from ninefold.core.clock import FrozenClock
from ninefold.integrations.notify.signing import make_action_token, signature_header
from ninefold.notification import flows, jobs
from ninefold.system import logsafe
from tests.receiver import WebhookReceiver
from tests.test_outbox import note
from tests.test_outbox_delivery import Mailbox, closed_port

LINK_KEY = "link-signing-key-5b0c6a1e9f"
SMTP_PASSWORD = "smtp-password-7d2e41c0"
CHANNEL_SECRET = "channel-secret-3f9a8b7c"
SIGNING_SECRET = "inbound-signing-secret-e4d1c2b3"
SLACK_PATH_SECRET = "slackpathsecret0a1b2c3d"
# Peers, not ninefold: the test's SMTP server, and the TestClient (httpx2) standing in for senders.
PEER_LOGGERS = ("mail.log", "httpx2")


def _deny(*_args: Any) -> AuthResult:
    return AuthResult(success=False, handled=False)


@pytest.fixture
def smtp_port() -> Iterator[int]:
    port = closed_port()
    controller = aiosmtpd_controller.Controller(
        Mailbox(), hostname="127.0.0.1", port=port, authenticator=_deny, auth_require_tls=False
    )
    controller.start()
    yield port
    controller.stop()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    r = WebhookReceiver().start()
    yield r
    r.stop()


def _text(record: logging.LogRecord) -> str:
    parts = [record.getMessage(), repr(record.args), repr(record.msg)]
    if record.exc_info:
        parts.append(logging.Formatter().formatException(record.exc_info))
    if record.exc_text:
        parts.append(record.exc_text)
    return "\n".join(parts)


def test_no_secret_in_any_log_record(
    db_url: str,
    engine: Engine,
    clock: FrozenClock,
    session_factory: sessionmaker[Session],
    admin_headers: dict[str, str],
    smtp_port: int,
    receiver: WebhookReceiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for name in (None, "sqlalchemy", "httpx", "httpcore", "uvicorn", "ninefold"):
        caplog.set_level(logging.DEBUG, logger=name)
    settings = Settings(
        database_url=db_url,
        engine_enabled=False,
        secret_key=LINK_KEY,
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        smtp_username="ninefold",
        smtp_password=SMTP_PASSWORD,
    )
    app = create_app(settings, clock=clock, engine=engine, start_engine=False)
    secrets: dict[str, str] = {
        "admin token": admin_headers["Authorization"].removeprefix("Bearer "),
        "link key": LINK_KEY,
        "smtp password": SMTP_PASSWORD,
        "channel secret": CHANNEL_SECRET,
        "signing secret": SIGNING_SECRET,
        "slack url path": SLACK_PATH_SECRET,
    }
    with TestClient(app) as client:
        made = client.post(
            "/api/v1/tokens", json={"name": "ci", "role": "responder"}, headers=admin_headers
        )
        assert made.status_code == 201, made.text
        secrets["new token"] = made.json()["token"]
        am = client.post(
            "/api/v1/integrations",
            json={"name": "prom", "kind": "alertmanager"},
            headers=admin_headers,
        )
        secrets["alertmanager key"] = am.json()["key"]
        hook = client.post(
            "/api/v1/integrations",
            json={
                "name": "hook",
                "kind": "webhook",
                "require_signature": True,
                "signing_secret": SIGNING_SECRET,
            },
            headers=admin_headers,
        )
        secrets["webhook key"] = hook.json()["key"]
        rotated = client.post("/api/v1/integrations/prom/rotate", json={}, headers=admin_headers)
        secrets["rotated key"] = rotated.json()["key"]
        for name, kind, target, secret in (
            ("ops-hook", "webhook", receiver.url("/hook"), CHANNEL_SECRET),
            ("chat", "slack", receiver.url(f"/services/T0/B0/{SLACK_PATH_SECRET}"), None),
            ("mail", "email", "ops@example.com", None),
        ):
            resp = client.post(
                "/api/v1/notification-channels",
                json={"name": name, "kind": kind, "target": target, "secret": secret},
                headers=admin_headers,
            )
            assert resp.status_code == 201, resp.text
        assert client.get("/api/v1/whoami", headers=admin_headers).status_code == 200

        # Alerts with the key as bearer, as basic-auth password, in the path; old key during grace.
        alerts = [{"labels": {"alertname": "DiskFull", "service": "db"}}]
        for key in (secrets["rotated key"], secrets["alertmanager key"]):
            bearer = {"Authorization": f"Bearer {key}"}
            assert client.post("/api/v2/alerts", json=alerts, headers=bearer).status_code == 200
            assert client.post(f"/integrations/{key}/api/v2/alerts", json=alerts).status_code == 200
        assert client.post("/api/v2/alerts", json=alerts, auth=("x", "wrong")).status_code == 401
        # A signed generic webhook, and a badly signed one.
        body = b'{"dedup_key": "x1", "summary": "queue stuck", "severity": "warning"}'
        now = int(clock.now().timestamp())
        for header, expected in (
            (signature_header(SIGNING_SECRET, body, now), 200),
            ("t=1,v1=00", 401),
        ):
            resp = client.post(
                f"/integrations/{secrets['webhook key']}/webhook",
                content=body,
                headers={"X-Ninefold-Signature": header, "Content-Type": "application/json"},
            )
            assert resp.status_code == expected, resp.text
        # A signed action link, followed.
        with session_factory() as s:
            alert_id = s.scalars(select(Alert.id)).first()
        link = make_action_token(
            LINK_KEY, str(alert_id), "acknowledge", clock.now() + timedelta(hours=1)
        )
        secrets["action link"] = link
        assert client.get(f"/a/{link}").status_code == 200

        # Deliveries: the webhook gets a 400 (dead at once, logged), chat is sent, SMTP login fails.
        receiver.script["/hook"] = [400]
        with session_factory() as session, session.begin():
            for channel in ("ops-hook", "chat", "mail"):
                flows.enqueue(
                    session, channel=channel, notification=note(f"n-{channel}"), now=clock.now()
                )
        report = jobs.run_with_state(client.app.state)
        assert report.sent == 1
        assert report.dead == 2

    records = [r for r in caplog.records if not r.name.startswith(PEER_LOGGERS)]
    logged = "\n".join(_text(r) for r in records)
    # The sequence really was logged: outbound URLs, the failures, SQL.
    assert "dead-lettered" in logged
    assert "SMTP 535" in logged
    assert any(r.name == "httpx" for r in records)
    assert any(r.name.startswith("sqlalchemy") for r in records)
    for what, secret in secrets.items():
        assert secret not in logged, f"the {what} was logged"


def test_mask_path_and_url() -> None:
    assert logsafe.mask_path("/integrations/nf_abc/webhook") == "/integrations/***/webhook"
    assert logsafe.mask_path("/heartbeats/hb_key") == "/heartbeats/***"
    assert logsafe.mask_path("/a/tok.en?x=1") == "/a/***?x=1"
    assert logsafe.mask_path("/api/v1/heartbeats/db-backup") == "/api/v1/heartbeats/db-backup"
    assert (
        logsafe.mask_path("/ui/login/oidc/callback?code=abc&state=def")
        == "/ui/login/oidc/callback?***"
    )
    assert (
        logsafe.mask_url("https://hooks.slack.com/services/T/B/X?y=1")
        == "https://hooks.slack.com/…"
    )
    assert logsafe.mask_url("http://h:8080") == "http://h:8080"


def test_uvicorn_access_log_masks_keys_in_paths(caplog: pytest.LogCaptureFixture) -> None:
    logsafe.install()
    caplog.set_level(logging.INFO, logger="uvicorn.access")
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d',
        "127.0.0.1:5000",
        "POST",
        "/integrations/nf_secretkey/webhook",
        "1.1",
        200,
    )
    (record,) = [r for r in caplog.records if r.name == "uvicorn.access"]
    assert "nf_secretkey" not in record.getMessage()
    assert "/integrations/***/webhook" in record.getMessage()
