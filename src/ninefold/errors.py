"""The one exception tree of ninefold; ``app.py`` maps it to HTTP statuses in one place."""

from __future__ import annotations


class NinefoldError(Exception):
    """Base of every error ninefold raises on purpose."""

    status_code = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(NinefoldError):
    """Settings or catalog configuration are invalid."""

    status_code = 400


class InvalidInput(NinefoldError):
    """A request or file is malformed or breaks a rule."""

    status_code = 422


class NotFound(NinefoldError):
    """The named object does not exist."""

    status_code = 404


class Conflict(NinefoldError):
    """The request conflicts with stored state (e.g. a batch id reused with other content)."""

    status_code = 409


class Unauthorized(NinefoldError):
    """No valid credentials."""

    status_code = 401


class Forbidden(NinefoldError):
    """Valid credentials without the needed role."""

    status_code = 403


class UpstreamError(NinefoldError):
    """A dependency (Prometheus …) failed or answered with an error."""

    status_code = 502
