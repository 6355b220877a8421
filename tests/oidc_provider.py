"""A small but real OpenID Connect provider for tests, served over HTTP on a loopback port.

Discovery, a JWKS with an RSA key, ``/authorize`` that consents at once for the preset user and
redirects back with a code, ``/token`` (client_secret_basic, PKCE S256 checked, one use per
code) returning an RS256 id_token signed with joserfc, and ``/userinfo``. ``tamper`` makes the
next id_tokens bad in one way, so tests can check that the console refuses them.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Form, Header, Request
from fastapi.responses import JSONResponse, RedirectResponse
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.live import serve

CLIENT_ID = "ninefold-console"
CLIENT_SECRET = "provider-client-secret-7f3a9c"


@dataclass
class Provider:
    """The provider's state: who signs in, what was asked, and how to misbehave."""

    now: Callable[[], datetime]
    claims: dict[str, Any] = field(
        default_factory=lambda: {
            "sub": "u-1001",
            "preferred_username": "carol",
            "email": "carol@example.com",
            "email_verified": True,
            "name": "Carol Ops",
            "groups": ["sre-admins"],
        }
    )
    deny: bool = False
    tamper: str = ""  # "", "signature", "audience", "expired", "nonce", "unknown-key"
    issuer: str = ""
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, {"kid": "k1"}))
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    _codes: dict[str, dict[str, str]] = field(default_factory=dict)
    _access: dict[str, dict[str, Any]] = field(default_factory=dict)

    def id_token(self, nonce: str) -> str:
        """An id_token for the preset user, spoiled as ``tamper`` says."""
        iat = int(self.now().timestamp())
        claims = {
            **self.claims,
            "iss": self.issuer,
            "aud": "someone-else" if self.tamper == "audience" else CLIENT_ID,
            "iat": iat - 7200 if self.tamper == "expired" else iat,
            "exp": iat - 3600 if self.tamper == "expired" else iat + 300,
            "nonce": "a-replayed-nonce" if self.tamper == "nonce" else nonce,
        }
        key = self.key
        if self.tamper == "unknown-key":  # same key id, another key: a forged signature
            key = RSAKey.generate_key(2048, {"kid": self.key.kid})
        token = jwt.encode({"alg": "RS256", "kid": self.key.kid}, claims, key)
        if self.tamper == "signature":
            head, body, sig = token.split(".")
            raw = bytearray(base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4)))
            raw[0] ^= 0xFF
            token = f"{head}.{body}.{base64.urlsafe_b64encode(bytes(raw)).decode().rstrip('=')}"
        return token

    def app(self) -> FastAPI:
        """The provider's HTTP endpoints."""
        app = FastAPI()

        @app.get("/healthz")
        def _health() -> dict[str, str]:
            return {"status": "ok"}

        @app.get("/.well-known/openid-configuration")
        def _discovery() -> dict[str, Any]:
            return {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "userinfo_endpoint": f"{self.issuer}/userinfo",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            }

        @app.get("/jwks")
        def _jwks() -> dict[str, Any]:
            return {"keys": [self.key.as_dict(private=False)]}

        @app.get("/authorize")
        def _authorize(request: Request) -> RedirectResponse:
            params = dict(request.query_params)
            self.authorize_requests.append(params)
            back = params["redirect_uri"]
            if self.deny:
                query = {"error": "access_denied", "state": params.get("state", "")}
                return RedirectResponse(f"{back}?{urlencode(query)}", status_code=302)
            assert params["client_id"] == CLIENT_ID
            assert params["response_type"] == "code"
            code = secrets.token_urlsafe(16)
            self._codes[code] = params
            query = {"code": code, "state": params["state"]}
            return RedirectResponse(f"{back}?{urlencode(query)}", status_code=302)

        @app.post("/token")
        def _token(
            grant_type: str = Form(),
            code: str = Form(),
            redirect_uri: str = Form(),
            code_verifier: str = Form(""),
            authorization: str = Header(""),
        ) -> JSONResponse:
            self.token_requests.append(
                {"grant_type": grant_type, "code_verifier": code_verifier, "auth": authorization}
            )
            basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            if authorization != f"Basic {basic}":
                return JSONResponse({"error": "invalid_client"}, status_code=401)
            asked = self._codes.pop(code, None)
            digest = hashlib.sha256(code_verifier.encode()).digest()
            challenge = base64.urlsafe_b64encode(digest).decode().rstrip("=")
            if (
                grant_type != "authorization_code"
                or asked is None
                or asked["redirect_uri"] != redirect_uri
                or asked.get("code_challenge_method") != "S256"
                or asked.get("code_challenge") != challenge
            ):
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            access = secrets.token_urlsafe(24)
            self._access[access] = dict(self.claims)
            return JSONResponse(
                {
                    "access_token": access,
                    "token_type": "Bearer",
                    "expires_in": 300,
                    "id_token": self.id_token(asked.get("nonce", "")),
                }
            )

        @app.get("/userinfo")
        def _userinfo(authorization: str = Header("")) -> JSONResponse:
            claims = self._access.get(authorization.removeprefix("Bearer "))
            if claims is None:
                return JSONResponse({"error": "invalid_token"}, status_code=401)
            return JSONResponse(claims)

        return app


@contextmanager
def running(now: Callable[[], datetime]) -> Iterator[Provider]:
    """A provider served on 127.0.0.1 until the block ends."""
    provider = Provider(now=now)
    with serve(provider.app()) as base:
        provider.issuer = base
        yield provider
