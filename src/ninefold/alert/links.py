"""Signed, expiring acknowledge and resolve links: make them for notifications, act on them.

A link is ``{public_url}/a/{token}`` where the token (``integrations.notify.signing``) names the
alert, the action and the expiry, MAC'd with one secret: ``NINEFOLD_SECRET_KEY`` when set, else a
random key created once in the database (``app_secrets``, name ``action-links``) so that every
replica signs and verifies with the same key. Opening a link (GET) only shows a confirmation
page, because mail scanners fetch links; the action happens on the page's POST.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from ninefold.alert import flows, store
from ninefold.alert.models import Alert
from ninefold.core.clock import ensure_utc
from ninefold.errors import NotFound
from ninefold.integrations.notify.message import NotificationLinks
from ninefold.integrations.notify.signing import (
    ActionClaim,
    AlertAction,
    InvalidSignature,
    make_action_token,
    verify_action_token,
)

SECRET_NAME = "action-links"  # noqa: S105 (the name of a secret, not one)
"""Name of the database secret used when ``NINEFOLD_SECRET_KEY`` is unset."""

DEFAULT_TTL = timedelta(hours=24)
"""How long an acknowledge or resolve link works."""

LINK_ACTOR = "link:email link"
"""Who acted, as recorded on the alert: tokens name no person, only the alert and the action."""

LINK_PATH = "/a/"
_STATE_ATTR = "action_link_secret"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_TOKEN_LENGTH = 1000


class LinkExpired(InvalidSignature):
    """An authentic action token whose expiry has passed."""


def action_url(public_url: str, token: str) -> str:
    """The absolute URL of an action token's confirmation page."""
    return f"{public_url.rstrip('/')}{LINK_PATH}{token}"


def view_url(public_url: str, alert_id: int) -> str:
    """Where the alert itself is shown (the API until the web console exists)."""
    return f"{public_url.rstrip('/')}/api/v1/alerts/{alert_id}"


def action_links(
    alert_id: int,
    *,
    secret: str,
    public_url: str,
    now: datetime,
    ttl: timedelta = DEFAULT_TTL,
) -> NotificationLinks:
    """Signed acknowledge and resolve links for ``alert_id`` valid for ``ttl``, and its view link."""
    if ttl <= timedelta(0):
        raise ValueError("an action link needs a positive time to live")
    expires = ensure_utc(now) + ttl
    return NotificationLinks(
        ack=action_url(
            public_url, make_action_token(secret, str(alert_id), AlertAction.ACKNOWLEDGE, expires)
        ),
        resolve=action_url(
            public_url, make_action_token(secret, str(alert_id), AlertAction.RESOLVE, expires)
        ),
        view=view_url(public_url, alert_id),
    )


def link_secret(state: Any) -> str:
    """The key that signs action links for this app, read once and cached on ``state``.

    ``state.settings.secret_key`` when set; otherwise the database secret, created on first use
    in its own committed transaction. Call it *before* opening a write transaction: on SQLite a
    first-time creation from inside one would wait for that transaction's own write lock.
    """
    cached: str | None = getattr(state, _STATE_ATTR, None)
    if cached:
        return cached
    secret: str | None = state.settings.secret_key
    if not secret:
        from ninefold.system.secrets import get_or_create

        secret = get_or_create(state.session_factory, name=SECRET_NAME, now=state.clock.now())
    setattr(state, _STATE_ATTR, secret)
    return secret


@dataclass(frozen=True)
class LinkClaim:
    """What an authentic, unexpired action token allows."""

    alert_id: int
    action: AlertAction
    expires_at: datetime


def read_token(secret: str, token: str, *, now: datetime) -> LinkClaim:
    """The alert, action and expiry of an authentic, unexpired token.

    Raises LinkExpired for an authentic token past its expiry (so that the page can say so) and
    InvalidSignature for anything malformed, forged or tampered with.
    """
    if len(token) > MAX_TOKEN_LENGTH:
        raise InvalidSignature("malformed action token")
    # Authenticity first, with the expiry check disabled (a clock at the epoch), then the expiry:
    # only authentic tokens learn that they expired.
    claim: ActionClaim = verify_action_token(secret, token, now=_EPOCH)
    if ensure_utc(now) >= claim.expires_at:
        raise LinkExpired(
            f"this link expired at {claim.expires_at:%Y-%m-%d %H:%M} UTC; "
            "use a newer notification or the API"
        )
    if not claim.alert_id.isascii() or not claim.alert_id.isdigit():
        raise InvalidSignature("action token names no alert")
    return LinkClaim(int(claim.alert_id), claim.action, claim.expires_at)


@dataclass(frozen=True)
class LinkOutcome:
    """What acting on a link did: ``done`` false means the alert was already in that state."""

    alert: Alert
    action: AlertAction
    done: bool
    message: str


def current_state(alert: Alert, action: AlertAction) -> str | None:
    """Why ``action`` has nothing left to do on ``alert`` (a sentence), or None if it has."""
    if alert.status == "resolved":
        when = alert.resolved_at
        return f"This alert was already resolved{_at(when)}."
    if action is AlertAction.ACKNOWLEDGE and alert.acknowledged_at is not None:
        who = f" by {alert.acknowledged_by}" if alert.acknowledged_by else ""
        return f"This alert was already acknowledged{who}{_at(alert.acknowledged_at)}."
    return None


def _at(when: datetime | None) -> str:
    return f" at {ensure_utc(when):%Y-%m-%d %H:%M} UTC" if when is not None else ""


def perform(session: Session, *, alert_id: int, action: AlertAction, now: datetime) -> LinkOutcome:
    """Acknowledge or resolve the alert a link names, in the caller's transaction (idempotent).

    The alert row is locked first (PostgreSQL) so that two clicks record one acknowledgement.
    """
    alert = store.lock_alert(session, alert_id=alert_id)
    if alert is None:
        raise NotFound(f"alert {alert_id} no longer exists")
    already = current_state(alert, action)
    if already is not None:
        return LinkOutcome(alert, action, False, already)
    if action is AlertAction.ACKNOWLEDGE:
        flows.acknowledge(session, alert=alert, actor=LINK_ACTOR, now=now)
        return LinkOutcome(alert, action, True, f"Alert {alert.id} acknowledged{_at(now)}.")
    flows.resolve(session, alert=alert, at=now, actor=LINK_ACTOR, now=now)
    return LinkOutcome(alert, action, True, f"Alert {alert.id} resolved{_at(now)}.")
