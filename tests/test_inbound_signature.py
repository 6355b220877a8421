"""Inbound webhook signatures: per-integration HMAC requirement, 401 and nothing stored otherwise."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ninefold.alert.models import Alert
from ninefold.audit.models import AuditEntry
from ninefold.core.clock import FrozenClock
from ninefold.integrations.notify.signing import signature_header

SECRET = "a-signing-secret-of-ours-0123456789"


def _body(dedup: str = "disk-full") -> bytes:
    return json.dumps({"dedup_key": dedup, "summary": "disk full", "severity": "critical"}).encode()


def _create(client: TestClient, admin: dict[str, str], **extra: Any) -> dict[str, Any]:
    resp = client.post(
        "/api/v1/integrations", json={"name": "signed", "kind": "webhook", **extra}, headers=admin
    )
    assert resp.status_code == 201, resp.text
    created: dict[str, Any] = resp.json()
    return created


def _count(factory: sessionmaker[Session]) -> int:
    with factory() as s:
        return s.scalar(select(func.count()).select_from(Alert)) or 0


def _post(
    client: TestClient, key: str, body: bytes, header: str | None, *, path: bool = False
) -> int:
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["X-Ninefold-Signature"] = header
    if path:
        return client.post(
            f"/integrations/{key}/webhook", content=body, headers=headers
        ).status_code
    headers["Authorization"] = f"Bearer {key}"
    return client.post("/api/v1/webhooks/generic", content=body, headers=headers).status_code


def test_signed_webhook_is_accepted_and_unsigned_bad_or_stale_ones_get_401(
    client: TestClient,
    admin_headers: dict[str, str],
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
) -> None:
    created = _create(client, admin_headers, require_signature=True, signing_secret=SECRET)
    assert created["require_signature"] is True
    assert created["signing_secret"] is None  # ours, so not echoed back
    key = created["key"]
    now = int(clock.now().timestamp())
    body = _body()

    refused = {
        "missing": None,
        "malformed": "garbage",
        "wrong secret": signature_header("another-secret-0123456789", body, now),
        "other body": signature_header(SECRET, _body("other"), now),
        "too old": signature_header(SECRET, body, now - 301),
        "too far ahead": signature_header(SECRET, body, now + 301),
    }
    for why, header in refused.items():
        assert _post(client, key, body, header) == 401, why
        assert _post(client, key, body, header, path=True) == 401, why
    assert _count(session_factory) == 0

    resp = client.post(
        "/api/v1/webhooks/generic",
        content=body,
        headers={"Authorization": f"Bearer {key}", "X-Ninefold-Signature": "garbage"},
    )
    assert "X-Ninefold-Signature" in resp.json()["detail"]

    # Within the 5-minute tolerance, either way round: accepted.
    assert _post(client, key, body, signature_header(SECRET, body, now - 299)) == 200
    assert _post(client, key, body, signature_header(SECRET, body, now + 299), path=True) == 200
    assert _count(session_factory) == 1
    # A clock that moved on makes the same signature stale.
    clock.advance(timedelta(minutes=10))
    assert _post(client, key, body, signature_header(SECRET, body, now)) == 401


def test_signed_key_cannot_be_used_unsigned_on_other_inbound_endpoints(
    client: TestClient, admin_headers: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    key = _create(client, admin_headers, require_signature=True, signing_secret=SECRET)["key"]
    am = [{"labels": {"alertname": "X"}}]
    bearer = {"Authorization": f"Bearer {key}"}
    assert client.post("/api/v2/alerts", json=am, headers=bearer).status_code == 401
    assert client.post(f"/integrations/{key}/api/v2/alerts", json=am).status_code == 401
    hook = {
        "version": "4",
        "status": "firing",
        "alerts": [{"status": "firing", "labels": am[0]["labels"]}],
    }
    assert (
        client.post("/api/v1/webhooks/alertmanager", json=hook, headers=bearer).status_code == 401
    )
    pd = {
        "routing_key": key,
        "event_action": "trigger",
        "payload": {"summary": "x", "source": "s", "severity": "info"},
    }
    assert client.post("/v2/enqueue", json=pd).status_code == 403
    assert _count(session_factory) == 0


def test_generated_secret_is_shown_once_and_put_security_toggles(
    client: TestClient,
    admin_headers: dict[str, str],
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
) -> None:
    created = _create(client, admin_headers)
    key = created["key"]
    assert created["require_signature"] is False
    assert created["signing_secret"] is None
    assert _post(client, key, _body("a"), None) == 200  # not required yet

    resp = client.put(
        "/api/v1/integrations/signed/security",
        json={"require_signature": True},
        headers=admin_headers,
    )
    assert resp.status_code == 200, resp.text
    generated = resp.json()["signing_secret"]
    assert generated
    assert resp.json()["has_signing_secret"] is True
    assert _post(client, key, _body("b"), None) == 401
    now = int(clock.now().timestamp())
    assert _post(client, key, _body("b"), signature_header(generated, _body("b"), now)) == 200

    # Never shown again: not in the list, not when the requirement is set again, not in the audit.
    listed = client.get("/api/v1/integrations", headers=admin_headers)
    assert generated not in listed.text
    assert listed.json()[0]["require_signature"] is True
    again = client.put(
        "/api/v1/integrations/signed/security",
        json={"require_signature": True},
        headers=admin_headers,
    )
    assert again.json()["signing_secret"] is None
    with session_factory() as s:
        audit = json.dumps([(e.before, e.after) for e in s.scalars(select(AuditEntry))])
    assert generated not in audit
    assert "signing_secret" in audit

    # Turned off: unsigned accepted again; a secret of one's own can be set.
    off = client.put(
        "/api/v1/integrations/signed/security",
        json={"require_signature": False, "signing_secret": SECRET},
        headers=admin_headers,
    )
    assert off.status_code == 200
    assert off.json()["signing_secret"] is None
    assert _post(client, key, _body("c"), None) == 200
    with session_factory() as s:
        audit = json.dumps([(e.before, e.after) for e in s.scalars(select(AuditEntry))])
    assert SECRET not in audit


@pytest.mark.parametrize("kind", ["alertmanager", "pagerduty"])
def test_senders_that_cannot_sign_cannot_require_a_signature(
    client: TestClient, admin_headers: dict[str, str], kind: str
) -> None:
    resp = client.post(
        "/api/v1/integrations",
        json={"name": "am", "kind": kind, "require_signature": True},
        headers=admin_headers,
    )
    assert resp.status_code == 422
    assert "cannot sign" in resp.text
    _create(client, admin_headers)  # a webhook one, for the PUT below
    client.post("/api/v1/integrations", json={"name": "am", "kind": kind}, headers=admin_headers)
    resp = client.put(
        "/api/v1/integrations/am/security", json={"require_signature": True}, headers=admin_headers
    )
    assert resp.status_code == 422


def test_short_secret_and_non_admins_are_refused(
    client: TestClient, admin_headers: dict[str, str], responder_headers: dict[str, str]
) -> None:
    resp = client.post(
        "/api/v1/integrations",
        json={"name": "w", "kind": "webhook", "require_signature": True, "signing_secret": "short"},
        headers=admin_headers,
    )
    assert resp.status_code == 422
    _create(client, admin_headers)
    resp = client.put(
        "/api/v1/integrations/signed/security",
        json={"require_signature": True},
        headers=responder_headers,
    )
    assert resp.status_code == 403
