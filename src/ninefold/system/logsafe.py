"""Keep secrets out of third-party log records: URLs and paths that carry keys are masked.

ninefold's own log lines name channels, integrations and ids, never secrets. Libraries log what
they see, though, and some of it is a credential:

* ``uvicorn.access`` logs every request path; integration keys (``/integrations/<key>/…``),
  heartbeat ping keys (``/heartbeats/<key>``) and signed action links (``/a/<token>``) are paths,
  and the single sign-on callback carries the authorization code in its query.
* ``httpx`` logs every outbound URL at INFO; chat webhook URLs (Slack, Teams …) carry their
  credential in the path or the query.
* SQLAlchemy at DEBUG logs result rows, which include channel secrets and integration configs.
  (Statement parameters are hidden by ``make_engine``'s ``hide_parameters``.)

:func:`install` attaches filters to those loggers; it is idempotent and called by ``create_app``.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import urlsplit

MASK = "***"
_SECRET_PATH = re.compile(r"^(/integrations/|/heartbeats/|/a/)[^/?#\s]+")


_SECRET_QUERY = ("/ui/login/oidc/callback?",)  # the single sign-on code and state


def mask_path(path: str) -> str:
    """``path`` with the key or token segment of a secret-bearing route replaced by ``***``."""
    if path.startswith(_SECRET_QUERY):
        return path.split("?", 1)[0] + "?" + MASK
    return _SECRET_PATH.sub(lambda m: m.group(1) + MASK, path, count=1)


def mask_url(url: str) -> str:
    """An absolute URL cut to scheme, host and port (the path and query may hold a credential)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    if not parts.scheme or not parts.netloc:
        return mask_path(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    rest = "/…" if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{host}{port}{rest}"


def _clean(value: Any) -> Any:
    if type(value).__name__ == "URL":  # httpx.URL, without importing httpx here
        return mask_url(str(value))
    if isinstance(value, str):
        if "://" in value:
            return mask_url(value)
        if value.startswith("/"):
            return mask_path(value)
    return value


class RedactUrls(logging.Filter):
    """Mask URLs and secret paths among a record's arguments (uvicorn.access, httpx)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_clean(a) for a in record.args)
        elif isinstance(record.msg, str) and not record.args:
            record.msg = _clean(record.msg) if record.msg.startswith("/") else record.msg
        return True


class DropRows(logging.Filter):
    """Drop SQLAlchemy's DEBUG records of result rows (they hold whatever columns were read)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            record.levelno <= logging.DEBUG
            and isinstance(record.msg, str)
            and record.msg.startswith(("Row ", "Col "))
        )


_FILTERS: dict[str, type[logging.Filter]] = {
    "uvicorn.access": RedactUrls,
    "httpx": RedactUrls,
    "sqlalchemy.engine.Engine": DropRows,
}


def install() -> None:
    """Attach the filters to their loggers (once)."""
    for name, kind in _FILTERS.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, kind) for f in logger.filters):
            logger.addFilter(kind())
