"""Jinja2 environment of the console and the helpers that turn a template into a response."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from ninefold import __version__
from ninefold.identity.tokens import role_allows
from ninefold.web.auth import WebUser


def when(value: datetime | None) -> str:
    """A timestamp as people read it, in UTC."""
    if value is None:
        return "—"
    return value.strftime("%Y-%m-%d %H:%M UTC")


def iso(value: datetime | None) -> str:
    """RFC 3339, for <time datetime> and data attributes."""
    return value.isoformat() if value is not None else ""


def pct(value: float | None, digits: int = 1) -> str:
    """A fraction as a percentage; '—' for missing values."""
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value * 100:.{digits}f}%"


def objective(value: float) -> str:
    """An objective like 99.9% (as many digits as it needs)."""
    text = f"{value * 100:.4f}".rstrip("0").rstrip(".")
    return f"{text}%"


def rate(value: float | None) -> str:
    """A burn rate like 14.4×."""
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:.2f}×" if value < 100 else f"{value:.0f}×"


def duration(seconds: float | None) -> str:
    """Seconds as '3d 4h', '2h 5m' or '40m'."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    s = int(seconds)
    d, h, m = s // 86400, s % 86400 // 3600, s % 3600 // 60
    if d:
        return f"{d}d {h}h"
    if h:
        return f"{h}h {m}m"
    return f"{m}m"


_env = Environment(
    loader=PackageLoader("ninefold.web", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,  # templates are package data: no stat() of the file on every render
)
_env.filters.update(when=when, iso=iso, pct=pct, objective=objective, rate=rate, duration=duration)
_env.globals.update(version=__version__)


def render(template: str, **ctx: Any) -> str:
    """Render a console template."""
    return _env.get_template(template).render(**ctx)


def render_macro(template: str, macro: str, *args: Any) -> str:
    """Call one macro of a console template (a fragment without the page around it)."""
    return str(getattr(_env.get_template(template).module, macro)(*args))


def page(
    request: Request,
    template: str,
    user: WebUser | None,
    *,
    status_code: int = 200,
    **ctx: Any,
) -> HTMLResponse:
    """A full page (or, for htmx requests of fragments, the fragment template as given)."""
    html = render(
        template,
        request=request,
        user=user,
        can=lambda role: user is not None and role_allows(user.role, role),
        csrf=user.csrf if user is not None else ctx.pop("csrf", ""),
        flash=request.query_params.get("msg", ""),
        error=ctx.pop("error", request.query_params.get("error", "")),
        path=request.url.path,
        **ctx,
    )
    return HTMLResponse(html, status_code=status_code)
