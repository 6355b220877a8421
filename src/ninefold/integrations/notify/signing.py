"""HMAC-SHA256 webhook signatures and signed, expiring action links (pure; no clock, no network).

Webhook signatures follow Stripe's scheme: ``X-Ninefold-Signature: t=<unix>,v1=<hex>`` where the hex is
HMAC-SHA256 over ``"{t}.{body}"``. The timestamp lets a receiver refuse replays older than a tolerance.
A header may carry several ``v1`` values (one per secret during a rotation); one match is enough.

Action tokens are ``<payload>.<mac>``, both unpadded urlsafe base64; the payload is compact JSON with
the alert id, the action and the expiry. The MAC input is prefixed with a purpose string so that a
token can never be replayed as a webhook signature or the other way round.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from ninefold.core.clock import ensure_utc, from_epoch
from ninefold.errors import Unauthorized

SIGNATURE_HEADER = "X-Ninefold-Signature"
SIGNATURE_SCHEME = "v1"
DEFAULT_TOLERANCE_SECONDS = 300
_ACTION_PURPOSE = b"ninefold.action.v1."


class InvalidSignature(Unauthorized):
    """A webhook signature or action token is missing, malformed, tampered with or expired."""


class AlertAction(StrEnum):
    """What a signed action link may do."""

    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


@dataclass(frozen=True, slots=True)
class ActionClaim:
    """The verified content of an action token."""

    alert_id: str
    action: AlertAction
    expires_at: datetime


def _key(secret: str | bytes) -> bytes:
    key = secret.encode() if isinstance(secret, str) else secret
    if not key:
        raise ValueError("an empty secret signs nothing")
    return key


def _mac(secret: str | bytes, message: bytes) -> bytes:
    return hmac.new(_key(secret), message, hashlib.sha256).digest()


def compute_signature(secret: str | bytes, body: bytes, timestamp: int) -> str:
    """Return the hex HMAC-SHA256 of ``"{timestamp}.{body}"``."""
    return _mac(secret, f"{timestamp}.".encode() + body).hex()


def signature_header(secret: str | bytes, body: bytes, timestamp: int) -> str:
    """Return the ``X-Ninefold-Signature`` value ``t=<timestamp>,v1=<hex>`` for ``body``."""
    return f"t={timestamp},{SIGNATURE_SCHEME}={compute_signature(secret, body, timestamp)}"


def parse_signature_header(header: str) -> tuple[int, list[str]]:
    """Split a signature header into its timestamp and its ``v1`` signatures."""
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            raise InvalidSignature("malformed signature header")
        if name == "t":
            if timestamp is not None or not value.isascii() or not value.isdigit():
                raise InvalidSignature("malformed signature timestamp")
            timestamp = int(value)
        elif name == SIGNATURE_SCHEME:
            signatures.append(value)
        # Other schemes are ignored, as Stripe does, so that new schemes can be added alongside.
    if timestamp is None:
        raise InvalidSignature("signature header has no timestamp")
    if not signatures:
        raise InvalidSignature(f"signature header has no {SIGNATURE_SCHEME} signature")
    return timestamp, signatures


def verify_signature_header(
    secret: str | bytes,
    body: bytes,
    header: str | None,
    *,
    now: int,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> int:
    """Check ``header`` against ``body`` and the clock; return its timestamp or raise InvalidSignature."""
    if not header:
        raise InvalidSignature("missing signature header")
    timestamp, signatures = parse_signature_header(header)
    expected = compute_signature(secret, body, timestamp)
    # Compare against every candidate without stopping early, in constant time per candidate.
    matched = False
    for candidate in signatures:
        matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise InvalidSignature("signature does not match the body")
    # Checked after the MAC so that a forged timestamp cannot be used to probe the tolerance.
    if abs(now - timestamp) > tolerance:
        raise InvalidSignature("signature timestamp is outside the tolerance")
    return timestamp


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    if not text or not text.isascii():
        raise InvalidSignature("malformed action token")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidSignature("malformed action token") from exc


def make_action_token(
    secret: str | bytes, alert_id: str, action: AlertAction | str, expires_at: datetime
) -> str:
    """Return a urlsafe token allowing ``action`` on ``alert_id`` until ``expires_at``."""
    if not alert_id:
        raise ValueError("an action token needs an alert id")
    claims = {
        "alert": alert_id,
        "action": AlertAction(action).value,
        "exp": int(ensure_utc(expires_at).timestamp()),
    }
    payload = _b64encode(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
    mac = _mac(secret, _ACTION_PURPOSE + payload.encode("ascii"))
    return f"{payload}.{_b64encode(mac)}"


def verify_action_token(
    secret: str | bytes,
    token: str,
    *,
    now: datetime,
    alert_id: str | None = None,
    action: AlertAction | str | None = None,
) -> ActionClaim:
    """Return the claim in ``token`` if authentic, unexpired and for the given alert and action."""
    payload, sep, mac_text = token.partition(".")
    if not sep or not payload or not mac_text or not payload.isascii():
        raise InvalidSignature("malformed action token")
    expected = _mac(secret, _ACTION_PURPOSE + payload.encode("ascii"))
    if not hmac.compare_digest(expected, _b64decode(mac_text)):
        raise InvalidSignature("action token signature does not match")
    try:
        claims = json.loads(_b64decode(payload))
        claim = ActionClaim(
            alert_id=str(claims["alert"]),
            action=AlertAction(claims["action"]),
            expires_at=from_epoch(int(claims["exp"])),
        )
    except (ValueError, KeyError, TypeError, OverflowError, OSError) as exc:
        # Only reachable with a valid MAC, i.e. a token minted by a different format version.
        raise InvalidSignature("unreadable action token") from exc
    if ensure_utc(now) >= claim.expires_at:
        raise InvalidSignature("action token has expired")
    # Plain comparison is fine here: the claim is already authenticated and ids are not secret.
    if alert_id is not None and claim.alert_id != alert_id:
        raise InvalidSignature("action token is for another alert")
    if action is not None and claim.action is not AlertAction(action):
        raise InvalidSignature("action token is for another action")
    return claim
