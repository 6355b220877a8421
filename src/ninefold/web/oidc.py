"""OpenID Connect sign-in for the console: discovery, authorization code + PKCE, id_token checks.

Authlib builds the authorization request (``state``, ``nonce``, S256 code challenge) and
exchanges the code at the token endpoint; joserfc (Authlib's JOSE library) verifies the
id_token's signature against the provider's JWKS, and Authlib's ``CodeIDToken`` checks ``iss``,
``aud``, ``exp``, ``iat``, ``nonce`` and ``at_hash`` at the injected clock's time.

Nothing is fetched at import or at app start: the discovery document is read on the first
sign-in and kept for an hour, the JWKS until a token names a key it does not hold. Every failure
is an :class:`OidcError` whose message is fit for the login page; secrets are never in it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import httpx
import httpx2
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from ninefold.config import Settings

FLOW_TTL_SECONDS = 600
METADATA_TTL_SECONDS = 3600
LEEWAY_SECONDS = 60
# Authlib's OAuth2Client runs on httpx2; the console's own GETs on httpx.
_HTTP_ERRORS = (httpx.HTTPError, httpx2.HTTPError)
# Asymmetric algorithms only: no "none", no HS* (which would make the client secret a key).
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA")


class OidcError(Exception):
    """A failed sign-in; ``str(error)`` is shown on the login page.

    ``status_code`` is 502 when the provider is down or answers nonsense, 401 when it or the
    id_token checks refused the sign-in.
    """

    def __init__(self, message: str, status_code: int = 502) -> None:
        super().__init__(message)
        self.status_code = status_code


@dataclass(frozen=True)
class Flow:
    """One browser's sign-in in progress, kept in a signed cookie until the callback."""

    state: str
    nonce: str
    verifier: str
    next: str
    started: int


def seal(flow: Flow, key: bytes) -> str:
    """The flow as a cookie value: base64url JSON and its HMAC-SHA256."""
    body = base64.urlsafe_b64encode(json.dumps(asdict(flow)).encode()).decode().rstrip("=")
    mac = hmac.new(key, body.encode(), hashlib.sha256).hexdigest()
    return f"{body}.{mac}"


def unseal(value: str, key: bytes, *, now: datetime) -> Flow | None:
    """The flow of a cookie value, or None when forged, malformed or older than 10 minutes."""
    body, _, mac = value.partition(".")
    want = hmac.new(key, body.encode(), hashlib.sha256).hexdigest()
    if not mac or not hmac.compare_digest(mac, want):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        flow = Flow(**data)
    except (ValueError, TypeError):
        return None
    age = now.timestamp() - flow.started
    return flow if 0 <= age <= FLOW_TTL_SECONDS else None


class OidcClient:
    """The console's client at one provider (thread-safe; one per app)."""

    def __init__(
        self,
        *,
        issuer: str,
        client_id: str,
        client_secret: str | None,
        scopes: str,
        redirect_uri: str,
        provider_name: str,
        timeout: float,
    ) -> None:
        self.issuer = issuer
        self.client_id = client_id
        self._client_secret = client_secret
        self.scopes = scopes
        self.redirect_uri = redirect_uri
        self.provider_name = provider_name
        self.timeout = timeout
        self._lock = threading.Lock()
        self._meta: dict[str, Any] | None = None
        self._meta_at = 0.0
        self._jwks: dict[str, Any] | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> OidcClient | None:
        """The client configured by ``NINEFOLD_OIDC_*``, or None when single sign-on is off."""
        if not settings.oidc_issuer or not settings.oidc_client_id:
            return None
        return cls(
            issuer=settings.oidc_issuer,
            client_id=settings.oidc_client_id,
            client_secret=settings.oidc_client_secret,
            scopes=settings.oidc_scopes,
            redirect_uri=settings.public_url.rstrip("/") + "/ui/login/oidc/callback",
            provider_name=settings.oidc_provider_name,
            timeout=settings.oidc_timeout_seconds,
        )

    def _oauth(self, metadata: dict[str, Any]) -> OAuth2Client:
        methods = metadata.get("token_endpoint_auth_methods_supported") or []
        if not self._client_secret:
            method = "none"
        elif "client_secret_basic" not in methods and "client_secret_post" in methods:
            method = "client_secret_post"
        else:
            method = "client_secret_basic"
        return OAuth2Client(
            client_id=self.client_id,
            client_secret=self._client_secret,
            scope=self.scopes,
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method=method,
            timeout=self.timeout,
        )

    def _get_json(self, url: str, what: str, headers: dict[str, str] | None = None) -> Any:
        try:
            response = httpx.get(url, timeout=self.timeout, headers=headers)
        except httpx.HTTPError as exc:
            raise OidcError(
                f"{self.provider_name} is unreachable ({what}): {type(exc).__name__}"
            ) from None
        if response.status_code != 200:
            raise OidcError(f"{self.provider_name} answered {response.status_code} for its {what}")
        try:
            return response.json()
        except ValueError:
            raise OidcError(f"{self.provider_name} sent an invalid {what}") from None

    def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (cached for an hour)."""
        with self._lock:
            if self._meta is not None and time.monotonic() - self._meta_at < METADATA_TTL_SECONDS:
                return self._meta
        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        meta = self._get_json(url, "discovery document")
        if not isinstance(meta, dict) or meta.get("issuer") != self.issuer:
            raise OidcError(
                f"{self.provider_name}'s discovery document does not name the issuer "
                f"{self.issuer} (check NINEFOLD_OIDC_ISSUER)"
            )
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(meta.get(key), str):
                raise OidcError(f"{self.provider_name}'s discovery document has no {key}")
        with self._lock:
            self._meta, self._meta_at = meta, time.monotonic()
        return meta

    def _key_set(self, *, refresh: bool) -> KeySet:
        meta = self.metadata()
        with self._lock:
            jwks = None if refresh else self._jwks
        if jwks is None:
            jwks = self._get_json(meta["jwks_uri"], "signing keys (JWKS)")
            if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
                raise OidcError(f"{self.provider_name} sent an invalid JWKS")
            with self._lock:
                self._jwks = jwks
        try:
            return KeySet.import_key_set(jwks)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError):
            raise OidcError(f"{self.provider_name} sent an invalid JWKS") from None

    def start(self, next_: str, *, now: datetime) -> tuple[str, Flow]:
        """The authorization URL to send the browser to, and the flow to remember."""
        meta = self.metadata()
        flow = Flow(
            state=secrets.token_urlsafe(24),
            nonce=secrets.token_urlsafe(24),
            verifier=secrets.token_urlsafe(48),
            next=next_,
            started=int(now.timestamp()),
        )
        with self._oauth(meta) as client:
            url, _ = client.create_authorization_url(
                meta["authorization_endpoint"],
                state=flow.state,
                nonce=flow.nonce,
                code_verifier=flow.verifier,
            )
        return str(url), flow

    def finish(self, flow: Flow, *, code: str, now: datetime) -> dict[str, Any]:
        """Exchange ``code`` (with the PKCE verifier); the verified claims of the id_token.

        Claims the provider only gives at its userinfo endpoint (groups, email) are added when
        the userinfo's ``sub`` is the id_token's; the id_token's own claims win.
        """
        meta = self.metadata()
        with self._oauth(meta) as client:
            try:
                token = client.fetch_token(
                    meta["token_endpoint"], code=code, code_verifier=flow.verifier
                )
            except OAuthError as exc:
                raise OidcError(
                    f"{self.provider_name} refused the sign-in: {exc.error or 'error'}", 401
                ) from None
            except _HTTP_ERRORS as exc:
                raise OidcError(
                    f"{self.provider_name} is unreachable (token): {type(exc).__name__}"
                ) from None
            except ValueError:
                raise OidcError(f"{self.provider_name} sent an invalid token response") from None
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise OidcError(f"{self.provider_name} sent no id_token (is 'openid' in the scopes?)")
        access = token.get("access_token")
        claims = self.verify(
            id_token,
            nonce=flow.nonce,
            access_token=access if isinstance(access, str) else None,
            now=now,
        )
        userinfo_url = meta.get("userinfo_endpoint")
        if isinstance(userinfo_url, str) and isinstance(access, str):
            info = self._get_json(userinfo_url, "userinfo", {"Authorization": f"Bearer {access}"})
            if isinstance(info, dict) and info.get("sub") == claims["sub"]:
                claims = {**info, **claims}
        return claims

    def verify(
        self, id_token: str, *, nonce: str, access_token: str | None, now: datetime
    ) -> dict[str, Any]:
        """The claims of an id_token whose signature (JWKS), iss, aud, exp, iat, nonce hold."""
        meta = self.metadata()
        offered = meta.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [a for a in offered if a in ALGORITHMS]
        if not algorithms:
            raise OidcError(f"{self.provider_name} signs id_tokens with no algorithm we accept")
        try:
            try:
                decoded = jwt.decode(id_token, self._key_set(refresh=False), algorithms=algorithms)
            except InvalidKeyIdError:  # the provider rotated its keys
                decoded = jwt.decode(id_token, self._key_set(refresh=True), algorithms=algorithms)
        except JoseError as exc:
            raise OidcError(f"the id_token's signature is not valid ({exc.error})", 401) from None
        except ValueError:
            raise OidcError("the id_token is not a valid JWT", 401) from None
        claims = CodeIDToken(
            decoded.claims,
            decoded.header,
            {
                "iss": {"essential": True, "value": self.issuer},
                "aud": {"essential": True, "value": self.client_id},
            },
            {"nonce": nonce, "client_id": self.client_id, "access_token": access_token},
        )
        self._validate(claims, now=now)
        return dict(claims)

    @staticmethod
    def _validate(claims: CodeIDToken, *, now: datetime) -> None:
        try:
            claims.validate(now=int(now.timestamp()), leeway=LEEWAY_SECONDS)
        except JoseError as exc:
            detail = exc.description or exc.error
            raise OidcError(f"the id_token was refused: {detail}", 401) from None
