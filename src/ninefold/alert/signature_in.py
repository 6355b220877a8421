"""Optional HMAC signatures on inbound webhooks, per integration.

An integration whose ``config`` holds ``{"require_signature": true, "signing_secret": "..."}``
accepts a request only with a valid ``X-Ninefold-Signature: t=<unix>,v1=<hex>`` header, where the
hex is HMAC-SHA256 of ``"{t}.{raw body}"`` under the signing secret (the scheme of ninefold's own
outbound webhooks, :mod:`ninefold.integrations.notify.signing`) and ``t`` is within five minutes of
ninefold's clock. A missing, malformed, wrong or stale signature is a 401 and nothing is stored.

Only integrations of kind ``webhook`` (the generic JSON webhook) can turn this on: Prometheus,
Alertmanager and PagerDuty Events v2 senders cannot compute a signature. The check is nevertheless
made by every inbound endpoint, so the key of a signed integration cannot be used unsigned on the
Alertmanager or PagerDuty endpoints instead.

The signing secret is set at creation (``POST /api/v1/integrations``) or with
``PUT /api/v1/integrations/{name}/security``; it is shown once when ninefold generates it, never
returned afterwards, and the audit log records it as ``***``.
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from ninefold.alert import store
from ninefold.alert.models import Integration
from ninefold.deps import Admin, SessionDep
from ninefold.errors import InvalidInput
from ninefold.integrations.notify.signing import (
    DEFAULT_TOLERANCE_SECONDS,
    InvalidSignature,
    verify_signature_header,
)

REQUIRE = "require_signature"
SECRET = "signing_secret"  # noqa: S105 - the name of a config key, not a secret
SIGNABLE_KINDS = frozenset({"webhook"})
MIN_SECRET_LENGTH = 16


def required(integration: Integration) -> bool:
    """Whether requests for ``integration`` must carry a valid signature."""
    return bool((integration.config or {}).get(REQUIRE))


def verify(integration: Integration, body: bytes, header: str | None, *, now: int) -> None:
    """Raise InvalidSignature unless ``header`` signs ``body`` under the integration's secret."""
    secret = (integration.config or {}).get(SECRET)
    if not isinstance(secret, str) or not secret:
        # Misconfigured (should not happen: the API refuses it); fail closed.
        raise InvalidSignature("this integration requires a signature but has no signing secret")
    verify_signature_header(secret, body, header, now=now, tolerance=DEFAULT_TOLERANCE_SECONDS)


def new_secret() -> str:
    """A fresh signing secret (256 random bits)."""
    return "nfsig_" + secrets.token_urlsafe(32)


def configure(
    config: dict[str, Any] | None, *, kind: str, require: bool, secret: str | None
) -> tuple[dict[str, Any], str | None]:
    """``config`` with the signature settings applied, and the secret if it was generated here.

    Turning the requirement on without a secret keeps the existing secret, or generates one.
    Turning it off keeps the secret, so that it can be turned on again without reconfiguring senders.
    """
    out = dict(config or {})
    if require and kind not in SIGNABLE_KINDS:
        raise InvalidInput(
            f"{kind} senders cannot sign requests: only webhook integrations can require a signature"
        )
    if secret is not None and len(secret) < MIN_SECRET_LENGTH:
        raise InvalidInput(f"signing_secret must be at least {MIN_SECRET_LENGTH} characters")
    generated = None
    if secret is not None:
        out[SECRET] = secret
    elif require and not out.get(SECRET):
        generated = out[SECRET] = new_secret()
    if require or REQUIRE in out:  # integrations that never asked keep an empty config
        out[REQUIRE] = require
    return out, generated


class SecurityUpdate(BaseModel):
    """Signature settings of an integration."""

    model_config = ConfigDict(extra="forbid")

    require_signature: bool
    signing_secret: str | None = Field(None, max_length=500)
    """A secret of your own; leave it out to keep the current one (or have one generated)."""


class SecurityRead(BaseModel):
    """Signature settings as shown: never the secret, except once when ninefold generated it."""

    require_signature: bool
    has_signing_secret: bool
    signing_secret: str | None = None


router = APIRouter(tags=["alerts"])


@router.put("/integrations/{name}/security")
def put_security(name: str, body: SecurityUpdate, _: Admin, session: SessionDep) -> SecurityRead:
    """Require (or stop requiring) an HMAC signature on this integration's inbound requests."""
    row = store.get_integration(session, name=name)
    row.config, generated = configure(
        row.config, kind=row.kind, require=body.require_signature, secret=body.signing_secret
    )
    return SecurityRead(
        require_signature=body.require_signature,
        has_signing_secret=bool(row.config.get(SECRET)),
        signing_secret=generated,
    )
