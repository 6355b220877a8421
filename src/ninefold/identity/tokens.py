"""Pure token and role logic: token format, hashing, role ordering."""

from __future__ import annotations

import hashlib
import hmac
import secrets

ROLES = ("viewer", "responder", "admin")
TOKEN_PREFIX = "nf_"  # noqa: S105 - a public marker, not a secret


def role_rank(role: str) -> int:
    """Order of a role: viewer < responder < admin; unknown roles rank below viewer."""
    return ROLES.index(role) if role in ROLES else -1


def role_allows(held: str, needed: str) -> bool:
    """Whether a principal holding ``held`` may do what needs ``needed``."""
    return role_rank(held) >= role_rank(needed) >= 0


def new_token() -> tuple[str, str, str]:
    """Return (secret, lookup prefix, sha256 hash) for a fresh API token."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(30)
    return secret, secret[:12], hash_token(secret)


def hash_token(secret: str) -> str:
    """SHA-256 of a token; tokens carry 240 random bits, so a fast hash is sufficient."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def same_hash(a: str, b: str) -> bool:
    """Constant-time comparison of two hashes."""
    return hmac.compare_digest(a, b)
