"""Webhook signatures (Stripe-style, checked with the verifier and with hmac directly) and action tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ninefold.errors import Unauthorized
from ninefold.integrations.notify.signing import (
    SIGNATURE_HEADER,
    ActionClaim,
    AlertAction,
    InvalidSignature,
    compute_signature,
    make_action_token,
    parse_signature_header,
    signature_header,
    verify_action_token,
    verify_signature_header,
)

SECRET = "whsec_test_7c1f0d6e"
BODY = b'{"kind":"page","title":"checkout burning"}'
T = 1_793_000_000
NOW = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)


# --- webhook signatures ----------------------------------------------------------------------


def test_header_is_timestamp_and_hmac_sha256_over_t_dot_body() -> None:
    header = signature_header(SECRET, BODY, T)
    expected = hmac.new(SECRET.encode(), f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert header == f"t={T},v1={expected}"
    assert SIGNATURE_HEADER == "X-Ninefold-Signature"
    assert verify_signature_header(SECRET, BODY, header, now=T) == T


def test_bytes_and_str_secrets_agree() -> None:
    assert compute_signature(SECRET, BODY, T) == compute_signature(SECRET.encode(), BODY, T)


@pytest.mark.parametrize("skew", [-300, -1, 0, 1, 300])
def test_within_tolerance_passes(skew: int) -> None:
    header = signature_header(SECRET, BODY, T)
    verify_signature_header(SECRET, BODY, header, now=T + skew, tolerance=300)


@pytest.mark.parametrize("skew", [-301, 301, 86_400])
def test_outside_tolerance_fails_both_ways(skew: int) -> None:
    header = signature_header(SECRET, BODY, T)
    with pytest.raises(InvalidSignature, match="tolerance"):
        verify_signature_header(SECRET, BODY, header, now=T + skew, tolerance=300)


@pytest.mark.parametrize(
    ("secret", "body", "mutate"),
    [
        ("another-secret", BODY, lambda h: h),
        (SECRET, BODY + b" ", lambda h: h),
        (SECRET, BODY, lambda h: h.replace(f"t={T}", f"t={T + 1}")),
        (SECRET, BODY, lambda h: h[:-1] + ("0" if h[-1] != "0" else "1")),
        (SECRET, BODY, lambda h: h.upper()),
    ],
)
def test_tampering_fails(secret: str, body: bytes, mutate: object) -> None:
    header = mutate(signature_header(SECRET, BODY, T))  # type: ignore[operator]
    with pytest.raises(InvalidSignature):
        verify_signature_header(secret, body, header, now=T)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "missing"),
        ("", "missing"),
        ("garbage", "malformed"),
        ("v1=abc", "no timestamp"),
        (f"t={T}", "no v1"),
        ("t=-5,v1=ab", "timestamp"),
        ("t=١٢,v1=ab", "timestamp"),
        (f"t={T},t={T},v1=ab", "timestamp"),
    ],
)
def test_malformed_headers_fail_with_a_reason(header: str | None, message: str) -> None:
    with pytest.raises(InvalidSignature, match=message):
        verify_signature_header(SECRET, BODY, header, now=T)


def test_rotation_any_v1_may_match_and_unknown_schemes_are_ignored() -> None:
    old = compute_signature("old-secret", BODY, T)
    new = compute_signature(SECRET, BODY, T)
    header = f"t={T},v1={old},v0=legacy,v1={new}"
    assert parse_signature_header(header) == (T, [old, new])
    verify_signature_header(SECRET, BODY, header, now=T)
    verify_signature_header("old-secret", BODY, header, now=T)


def test_invalid_signature_is_a_401_in_the_error_tree() -> None:
    assert issubclass(InvalidSignature, Unauthorized)
    assert InvalidSignature("x").status_code == 401


def test_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="empty secret"):
        signature_header("", BODY, T)


@settings(max_examples=100, deadline=None)
@given(
    body=st.binary(max_size=2000),
    secret=st.binary(min_size=1, max_size=64),
    t=st.integers(0, 2**40),
)
def test_any_body_round_trips_and_one_flipped_byte_fails(
    body: bytes, secret: bytes, t: int
) -> None:
    header = signature_header(secret, body, t)
    assert verify_signature_header(secret, body, header, now=t) == t
    if body:
        flipped = bytes([body[0] ^ 1]) + body[1:]
        with pytest.raises(InvalidSignature):
            verify_signature_header(secret, flipped, header, now=t)


# --- action tokens ---------------------------------------------------------------------------


def test_action_token_round_trip() -> None:
    token = make_action_token(SECRET, "42", AlertAction.ACKNOWLEDGE, NOW + timedelta(hours=1))
    assert token.isascii()
    assert "=" not in token
    assert "+" not in token
    assert "/" not in token
    claim = verify_action_token(SECRET, token, now=NOW, alert_id="42", action="acknowledge")
    assert claim == ActionClaim("42", AlertAction.ACKNOWLEDGE, NOW + timedelta(hours=1))


def test_action_token_expires_at_its_expiry() -> None:
    token = make_action_token(SECRET, "42", "resolve", NOW)
    verify_action_token(SECRET, token, now=NOW - timedelta(seconds=1))
    for now in (NOW, NOW + timedelta(days=1)):
        with pytest.raises(InvalidSignature, match="expired"):
            verify_action_token(SECRET, token, now=now)


def test_action_token_is_bound_to_alert_and_action() -> None:
    token = make_action_token(SECRET, "42", "acknowledge", NOW + timedelta(hours=1))
    with pytest.raises(InvalidSignature, match="another alert"):
        verify_action_token(SECRET, token, now=NOW, alert_id="43")
    with pytest.raises(InvalidSignature, match="another action"):
        verify_action_token(SECRET, token, now=NOW, action=AlertAction.RESOLVE)


def _forge(claims: dict[str, object], mac: str) -> str:
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{payload}.{mac}"


def test_tampered_tokens_are_refused() -> None:
    token = make_action_token(SECRET, "42", "acknowledge", NOW + timedelta(hours=1))
    payload, mac = token.split(".")
    # Upgrading the action or extending the expiry under the original MAC.
    resolved = _forge({"action": "resolve", "alert": "42", "exp": 2_000_000_000}, mac)
    swapped = payload[:-1] + ("A" if payload[-1] != "A" else "B")
    for bad in (resolved, f"{swapped}.{mac}", f"{payload}.{mac[:-2]}", f"{payload}.{mac}x"):
        with pytest.raises(InvalidSignature):
            verify_action_token(SECRET, bad, now=NOW)
    with pytest.raises(InvalidSignature, match="does not match"):
        verify_action_token("other-secret", token, now=NOW)


def test_token_mac_is_domain_separated_from_webhook_signatures() -> None:
    token = make_action_token(SECRET, "42", "acknowledge", NOW + timedelta(hours=1))
    payload, mac = token.split(".")
    plain = hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64encode(plain).rstrip(b"=").decode() != mac


@pytest.mark.parametrize("bad", ["", ".", "abc", "abc.", ".abc", "é.é", "a.b.c", "!!!.???"])
def test_malformed_tokens_are_refused(bad: str) -> None:
    with pytest.raises(InvalidSignature):
        verify_action_token(SECRET, bad, now=NOW)


def test_a_valid_mac_over_an_unreadable_payload_is_refused() -> None:
    payload = base64.urlsafe_b64encode(b'{"alert":"42"}').rstrip(b"=").decode()
    mac = hmac.new(SECRET.encode(), b"ninefold.action.v1." + payload.encode(), hashlib.sha256)
    token = f"{payload}.{base64.urlsafe_b64encode(mac.digest()).rstrip(b'=').decode()}"
    with pytest.raises(InvalidSignature, match="unreadable"):
        verify_action_token(SECRET, token, now=NOW)


def test_make_action_token_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="alert id"):
        make_action_token(SECRET, "", "acknowledge", NOW)
    with pytest.raises(ValueError, match="snooze"):
        make_action_token(SECRET, "42", "snooze", NOW)
    with pytest.raises(ValueError, match="naive"):
        make_action_token(SECRET, "42", "resolve", datetime(2026, 11, 1))


@settings(max_examples=100, deadline=None)
@given(
    alert_id=st.text(min_size=1, max_size=80),
    action=st.sampled_from(AlertAction),
    ttl=st.integers(1, 10**7),
)
def test_any_alert_id_round_trips(alert_id: str, action: AlertAction, ttl: int) -> None:
    token = make_action_token(SECRET, alert_id, action, NOW + timedelta(seconds=ttl))
    claim = verify_action_token(SECRET, token, now=NOW, alert_id=alert_id, action=action)
    assert (claim.alert_id, claim.action) == (alert_id, action)
