"""Signed acknowledge/resolve links: GET confirms without acting, POST acts once, bad links do nothing."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from ninefold.alert import flows
from ninefold.alert.fingerprint import fingerprint_hex
from ninefold.alert.links import (
    DEFAULT_TTL,
    LINK_ACTOR,
    SECRET_NAME,
    action_links,
    link_secret,
)
from ninefold.alert.models import Alert, AlertEvent
from ninefold.alert.normalize import Incoming
from ninefold.app import create_app
from ninefold.config import Settings, load_settings
from ninefold.core.clock import FrozenClock
from ninefold.errors import ConfigError
from ninefold.integrations.notify.signing import AlertAction, make_action_token, verify_action_token
from ninefold.system.models import AppSecret
from tests import factories
from tests.conftest import T0

BASE = "http://testserver"


@pytest.fixture
def app(settings: Settings, engine: Engine, clock: FrozenClock) -> FastAPI:
    return create_app(settings, clock=clock, engine=engine, start_engine=False)


@pytest.fixture
def web(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as tc:
        yield tc


def _alert(factory: sessionmaker[Session], summary: str = "checkout error rate above 5%") -> int:
    labels = {"alertname": "HighErrorRate", "service": "checkout", "severity": "critical"}
    with factory() as s, s.begin():
        svc = factories.service(s, "checkout", factories.team(s, "payments", T0), T0)
        item = Incoming(
            action="trigger",
            dedup_key=f"test:{summary}",
            fingerprint=fingerprint_hex(labels),
            source="test",
            severity="critical",
            summary=summary,
            labels=labels,
            service_id=svc.id,
        )
        (received,) = flows.receive(s, items=[item], integration=None, now=T0)
    assert received.alert_id is not None
    return received.alert_id


def _second_alert(factory: sessionmaker[Session]) -> int:
    with factory() as s, s.begin():
        item = Incoming(
            action="trigger",
            dedup_key="test:other",
            fingerprint=fingerprint_hex({"alertname": "Other"}),
            source="test",
            severity="warning",
            summary="another alert",
            labels={"alertname": "Other"},
        )
        (received,) = flows.receive(s, items=[item], integration=None, now=T0)
    assert received.alert_id is not None
    return received.alert_id


def _path(url: str | None) -> str:
    assert url is not None
    assert url.startswith(f"{BASE}/a/")
    return url.removeprefix(BASE)


def _row(factory: sessionmaker[Session], alert_id: int) -> Alert:
    with factory() as s:
        row = s.get(Alert, alert_id)
        assert row is not None
        return row


def _events(factory: sessionmaker[Session], alert_id: int, kind: str) -> int:
    with factory() as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(AlertEvent)
                .where(AlertEvent.alert_id == alert_id, AlertEvent.kind == kind)
            )
            or 0
        )


def _links(app: FastAPI, alert_id: int, clock: FrozenClock) -> tuple[str, str]:
    links = action_links(
        alert_id, secret=link_secret(app.state), public_url=BASE + "/", now=clock.now()
    )
    assert links.view == f"{BASE}/api/v1/alerts/{alert_id}"
    return _path(links.ack), _path(links.resolve)


def test_get_shows_a_confirmation_and_changes_nothing(
    app: FastAPI, web: TestClient, session_factory: sessionmaker[Session], clock: FrozenClock
) -> None:
    alert_id = _alert(session_factory)
    ack, resolve = _links(app, alert_id, clock)
    for _ in range(3):  # a mail scanner may fetch a link several times
        page = web.get(ack)
        assert page.status_code == 200, page.text
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["cache-control"] == "no-store"
        assert page.headers["referrer-policy"] == "no-referrer"
        assert "checkout error rate above 5%" in page.text
        assert '<form method="post">' in page.text
        assert ">Acknowledge</button>" in page.text
        assert "checkout" in page.text
    head = web.head(resolve)
    assert head.status_code == 200
    page = web.get(resolve)
    assert ">Resolve</button>" in page.text
    row = _row(session_factory, alert_id)
    assert (row.status, row.acknowledged_at, row.acknowledged_by) == ("firing", None, None)
    assert _events(session_factory, alert_id, "acknowledged") == 0
    assert _events(session_factory, alert_id, "resolved") == 0


def test_post_acknowledges_once_and_is_idempotent(
    app: FastAPI, web: TestClient, session_factory: sessionmaker[Session], clock: FrozenClock
) -> None:
    alert_id = _alert(session_factory)
    ack, _ = _links(app, alert_id, clock)
    clock.advance(timedelta(minutes=7))
    done = web.post(ack)
    assert done.status_code == 200, done.text
    assert f"Alert {alert_id} acknowledged" in done.text
    assert "<form" not in done.text
    row = _row(session_factory, alert_id)
    assert row.status == "firing"
    assert row.acknowledged_by == LINK_ACTOR == "link:email link"
    assert row.acknowledged_at == T0 + timedelta(minutes=7)
    clock.advance(timedelta(minutes=1))
    again = web.post(ack)
    assert again.status_code == 200
    assert "already acknowledged by link:email link at 2026-11-01 00:07 UTC" in again.text
    page = web.get(ack)
    assert page.status_code == 200
    assert "already acknowledged" in page.text
    assert "<form" not in page.text
    assert _row(session_factory, alert_id).acknowledged_at == T0 + timedelta(minutes=7)
    assert _events(session_factory, alert_id, "acknowledged") == 1


def test_post_resolves_and_then_both_links_say_so(
    app: FastAPI, web: TestClient, session_factory: sessionmaker[Session], clock: FrozenClock
) -> None:
    alert_id = _alert(session_factory)
    ack, resolve = _links(app, alert_id, clock)
    clock.advance(timedelta(minutes=3))
    done = web.post(resolve)
    assert done.status_code == 200, done.text
    assert f"Alert {alert_id} resolved" in done.text
    row = _row(session_factory, alert_id)
    assert (row.status, row.resolved_at) == ("resolved", T0 + timedelta(minutes=3))
    for method, path in (("POST", resolve), ("POST", ack), ("GET", ack), ("GET", resolve)):
        resp = web.request(method, path)
        assert resp.status_code == 200, (method, path)
        assert "already resolved at 2026-11-01 00:03 UTC" in resp.text
        assert "<form" not in resp.text
    assert _events(session_factory, alert_id, "resolved") == 1
    assert _events(session_factory, alert_id, "acknowledged") == 0


def test_expired_link_is_410_and_changes_nothing(
    app: FastAPI, web: TestClient, session_factory: sessionmaker[Session], clock: FrozenClock
) -> None:
    alert_id = _alert(session_factory)
    ack, resolve = _links(app, alert_id, clock)
    clock.advance(DEFAULT_TTL - timedelta(seconds=1))
    assert web.get(ack).status_code == 200  # still valid one second before the expiry
    clock.advance(timedelta(seconds=1))
    for method in ("GET", "POST"):
        for path in (ack, resolve):
            resp = web.request(method, path)
            assert resp.status_code == 410, (method, path)
            assert "This link has expired" in resp.text
            assert "expired at 2026-11-02 00:00 UTC" in resp.text
            assert "checkout error rate" not in resp.text  # an expired link shows no alert
    row = _row(session_factory, alert_id)
    assert (row.status, row.acknowledged_at) == ("firing", None)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_tampered_forged_and_malformed_links_are_403(
    app: FastAPI, web: TestClient, session_factory: sessionmaker[Session], clock: FrozenClock
) -> None:
    alert_id = _alert(session_factory)
    other_id = _second_alert(session_factory)
    ack, _ = _links(app, alert_id, clock)
    token = ack.removeprefix("/a/")
    payload, mac = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    retargeted = _b64(json.dumps({**claims, "alert": str(other_id)}).encode())
    prolonged = _b64(json.dumps({**claims, "exp": claims["exp"] + 86400 * 365}).encode())
    escalated = _b64(json.dumps({**claims, "action": "resolve"}).encode())
    flipped = mac[:-2] + ("A" if mac[-2] != "A" else "B") + mac[-1]
    forged = make_action_token(
        "not-the-secret-of-this-ninefold", str(alert_id), "acknowledge", T0 + timedelta(hours=1)
    )
    bad = [
        f"{retargeted}.{mac}",
        f"{prolonged}.{mac}",
        f"{escalated}.{mac}",
        f"{payload}.{flipped}",
        payload,
        f"{payload}.",
        "garbage",
        "ünïcode.tøken",
        forged,
        "a" * 5000 + "." + mac,
    ]
    for tok in bad:
        for method in ("GET", "POST"):
            resp = web.request(method, f"/a/{tok}")
            assert resp.status_code == 403, (tok, method, resp.text)
            assert "This link is not valid" in resp.text
            assert "Nothing was done" in resp.text
    for aid in (alert_id, other_id):
        row = _row(session_factory, aid)
        assert (row.status, row.acknowledged_at) == ("firing", None)


def test_authentic_link_to_a_missing_alert_is_404(
    app: FastAPI, web: TestClient, session_factory: sessionmaker[Session], clock: FrozenClock
) -> None:
    ack, _ = _links(app, 987654, clock)
    for method in ("GET", "POST"):
        resp = web.request(method, ack)
        assert resp.status_code == 404
        assert "Alert 987654 no longer exists" in resp.text


def test_page_escapes_alert_text(
    app: FastAPI, web: TestClient, session_factory: sessionmaker[Session], clock: FrozenClock
) -> None:
    alert_id = _alert(session_factory, summary='<script>alert("x")</script> & more')
    ack, _ = _links(app, alert_id, clock)
    page = web.get(ack)
    assert "<script>" not in page.text
    assert "&lt;script&gt;" in page.text


def test_links_verify_with_the_signing_module(app: FastAPI, clock: FrozenClock) -> None:
    secret = link_secret(app.state)
    links = action_links(42, secret=secret, public_url="https://nf.example/base", now=T0)
    assert links.ack is not None
    assert links.resolve is not None
    assert links.ack.startswith("https://nf.example/base/a/")
    ack = links.ack.rsplit("/", 1)[1]
    resolve = links.resolve.rsplit("/", 1)[1]
    claim = verify_action_token(secret, ack, now=T0, alert_id="42", action="acknowledge")
    assert claim.expires_at == T0 + DEFAULT_TTL
    assert verify_action_token(secret, resolve, now=T0).action is AlertAction.RESOLVE
    short = action_links(42, secret=secret, public_url=BASE, now=T0, ttl=timedelta(minutes=5))
    assert short.ack is not None
    assert verify_action_token(
        secret, short.ack.rsplit("/", 1)[1], now=T0
    ).expires_at == T0 + timedelta(minutes=5)
    with pytest.raises(ValueError, match="positive"):
        action_links(42, secret=secret, public_url=BASE, now=T0, ttl=timedelta(0))


def test_secret_comes_from_settings_or_is_shared_through_the_database(
    settings: Settings, engine: Engine, session_factory: sessionmaker[Session], clock: FrozenClock
) -> None:
    first = create_app(settings, clock=clock, engine=engine, start_engine=False)
    second = create_app(settings, clock=clock, engine=engine, start_engine=False)
    secret = link_secret(first.state)
    assert len(secret) >= 32
    assert link_secret(second.state) == secret  # another replica signs with the same key
    with session_factory() as s:
        row = s.get(AppSecret, SECRET_NAME)
        assert row is not None
        assert row.value == secret
    configured = settings.model_copy(update={"secret_key": "k" * 40})
    third = create_app(configured, clock=clock, engine=engine, start_engine=False)
    assert link_secret(third.state) == "k" * 40
    # A link signed by one key is refused by an app using the other.
    alert_id = _alert(session_factory)
    links = action_links(alert_id, secret=secret, public_url=BASE, now=T0)
    with TestClient(third) as tc:
        assert tc.get(_path(links.ack)).status_code == 403
    with TestClient(second) as tc:
        assert tc.get(_path(links.ack)).status_code == 200


def test_short_secret_key_is_refused() -> None:
    with pytest.raises(ConfigError, match="NINEFOLD_SECRET_KEY"):
        load_settings(secret_key="short")
    assert "k" * 20 not in repr(load_settings(secret_key="k" * 20))
