"""The outbox: enqueue in the caller's transaction, idempotency, the notifications and channels API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ninefold.errors import NotFound
from ninefold.identity import store as identity_store
from ninefold.identity.models import ApiToken
from ninefold.integrations.notify.message import (
    Notification,
    NotificationKind,
    NotificationLinks,
    Severity,
)
from ninefold.notification import flows, store
from ninefold.notification.models import OutboxItem

T0 = datetime(2026, 11, 1, tzinfo=UTC)
SECRET = "whsec_outbox_9c1f"


def note(key: str = "alert-42:page:1", **overrides: Any) -> Notification:
    """A page notification with a given idempotency key."""
    fields: dict[str, Any] = {
        "idempotency_key": key,
        "kind": NotificationKind.PAGE,
        "title": "checkout error budget burning 14x",
        "summary": "5xx ratio 2.1% over 1h",
        "severity": Severity.CRITICAL,
        "service": "checkout",
        "occurred_at": T0,
        "alert_id": "42",
        "labels": {"team": "payments"},
        "annotations": {"runbook": "https://runbooks.example/checkout"},
        "links": NotificationLinks(view="https://nf.example/alerts/42"),
    }
    fields.update(overrides)
    return Notification(**fields)


def add_channel(
    factory: sessionmaker[Session],
    name: str = "ops-hook",
    *,
    kind: str = "webhook",
    target: str = "http://127.0.0.1:9/hook",
    secret: str | None = SECRET,
    enabled: bool = True,
) -> None:
    """Create a channel in its own transaction."""
    with factory() as session, session.begin():
        store.add_channel(
            session, name=name, kind=kind, target=target, secret=secret, enabled=enabled, now=T0
        )


def outbox_count(factory: sessionmaker[Session]) -> int:
    """Rows in the outbox."""
    with factory() as session:
        return session.scalar(select(func.count()).select_from(OutboxItem)) or 0


def test_enqueue_commits_with_the_state_change(session_factory: sessionmaker[Session]) -> None:
    add_channel(session_factory)
    with session_factory() as session, session.begin():
        identity_store.create_token(session, name="caused-it", role="viewer", now=T0)
        item = flows.enqueue(session, channel="ops-hook", notification=note(), now=T0)
        assert item.status == "pending"
    with session_factory() as session:
        (row,) = session.scalars(select(OutboxItem)).all()
        assert session.scalar(select(func.count()).select_from(ApiToken)) == 1
    assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 0, T0)
    assert flows.notification_from_document(row.notification) == note()


def test_rollback_queues_nothing(session_factory: sessionmaker[Session]) -> None:
    add_channel(session_factory)

    class Boom(Exception):
        pass

    def change_state_then_fail() -> None:
        with session_factory() as session, session.begin():
            identity_store.create_token(session, name="caused-it", role="viewer", now=T0)
            flows.enqueue(session, channel="ops-hook", notification=note(), now=T0)
            raise Boom

    with pytest.raises(Boom):
        change_state_then_fail()
    assert outbox_count(session_factory) == 0
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(ApiToken)) == 0


def test_enqueue_twice_with_one_key_keeps_one_row(session_factory: sessionmaker[Session]) -> None:
    add_channel(session_factory)
    add_channel(session_factory, "other", target="http://127.0.0.1:9/other")
    with session_factory() as session, session.begin():
        first = flows.enqueue(session, channel="ops-hook", notification=note(), now=T0)
        again = flows.enqueue(session, channel="ops-hook", notification=note(), now=T0)
        assert again.id == first.id
        first_id = first.id
    with session_factory() as session, session.begin():
        later = flows.enqueue(
            session,
            channel="other",
            notification=note(title="changed"),
            now=T0 + timedelta(minutes=1),
        )
        assert later.id == first_id
        assert later.notification["title"] == "checkout error budget burning 14x"
        assert later.created_at == T0
    assert outbox_count(session_factory) == 1


def test_enqueue_to_an_unknown_channel_is_refused(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session, session.begin(), pytest.raises(NotFound):
        flows.enqueue(session, channel="nowhere", notification=note(), now=T0)


def test_document_round_trip_keeps_every_field() -> None:
    n = note(
        links=NotificationLinks(ack="https://a", resolve="https://r", view="https://v"),
        occurred_at=datetime(2026, 3, 29, 1, 30, 15, 123000, tzinfo=UTC),
    )
    assert flows.notification_from_document(flows.notification_document(n)) == n


# --- API -------------------------------------------------------------------------------------


def test_channels_api_never_echoes_secrets(
    client: TestClient, admin_headers: dict[str, str], viewer_headers: dict[str, str]
) -> None:
    body = {
        "name": "payments-slack",
        "kind": "slack",
        "target": "https://hooks.slack.com/services/T000/B000/XXXXSECRET",
        "secret": SECRET,
    }
    assert (
        client.post("/api/v1/notification-channels", json=body, headers=viewer_headers).status_code
        == 403
    )
    created = client.post("/api/v1/notification-channels", json=body, headers=admin_headers)
    assert created.status_code == 201, created.text
    listed = client.get("/api/v1/notification-channels", headers=admin_headers)
    for text in (created.text, listed.text):
        assert SECRET not in text
        assert "XXXXSECRET" not in text
    (channel,) = listed.json()
    assert channel["target"] == "https://hooks.slack.com/…"
    assert (channel["kind"], channel["signed"], channel["enabled"]) == ("slack", True, True)
    dup = client.post("/api/v1/notification-channels", json=body, headers=admin_headers)
    assert dup.status_code == 409
    email = {"name": "ops-mail", "kind": "email", "target": "ops@example.com"}
    made = client.post("/api/v1/notification-channels", json=email, headers=admin_headers)
    assert made.json()["target"] == "ops@example.com"
    assert client.get("/api/v1/notification-channels", headers=viewer_headers).status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        {"name": "a", "kind": "webhook", "target": "ftp://example.com/x"},
        {"name": "a", "kind": "slack", "target": "not a url"},
        {"name": "a", "kind": "email", "target": "https://example.com"},
        {"name": "a", "kind": "email", "target": "ops@example.com", "secret": "12345678"},
        {"name": "a", "kind": "pager", "target": "https://example.com"},
        {"name": "Bad Name", "kind": "webhook", "target": "https://example.com"},
    ],
)
def test_invalid_channels_are_refused(
    client: TestClient, admin_headers: dict[str, str], body: dict[str, str]
) -> None:
    resp = client.post("/api/v1/notification-channels", json=body, headers=admin_headers)
    assert resp.status_code == 422


def test_notifications_list_filters_and_pages(
    client: TestClient,
    session_factory: sessionmaker[Session],
    viewer_headers: dict[str, str],
    responder_headers: dict[str, str],
) -> None:
    add_channel(session_factory)
    with session_factory() as session, session.begin():
        for i in range(5):
            flows.enqueue(session, channel="ops-hook", notification=note(f"k{i}"), now=T0)
        session.scalars(
            select(OutboxItem).where(OutboxItem.idempotency_key == "k0")
        ).one().status = "dead"
    assert client.get("/api/v1/notifications").status_code == 401
    page = client.get(
        "/api/v1/notifications", params={"status": "pending", "limit": 2}, headers=viewer_headers
    ).json()
    assert page["total"] == 4
    assert [i["idempotency_key"] for i in page["items"]] == ["k4", "k3"]
    assert page["items"][0]["channel"] == "ops-hook"
    assert page["items"][0]["notification"]["title"] == note().title
    second = client.get(
        "/api/v1/notifications",
        params={"status": "pending", "limit": 2, "offset": 2},
        headers=viewer_headers,
    ).json()
    assert [i["idempotency_key"] for i in second["items"]] == ["k2", "k1"]
    assert (
        client.get(
            "/api/v1/notifications", params={"status": "lost"}, headers=viewer_headers
        ).status_code
        == 422
    )
    pending_id = page["items"][0]["id"]
    # Only dead letters can be retried, and only by a responder.
    assert (
        client.post(f"/api/v1/notifications/{pending_id}/retry", headers=responder_headers)
    ).status_code == 409
    dead = client.get(
        "/api/v1/notifications", params={"status": "dead"}, headers=viewer_headers
    ).json()["items"][0]
    assert (
        client.post(f"/api/v1/notifications/{dead['id']}/retry", headers=viewer_headers)
    ).status_code == 403
    assert (
        client.post("/api/v1/notifications/999999/retry", headers=responder_headers)
    ).status_code == 404
