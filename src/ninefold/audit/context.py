"""Who is acting: a context variable holding the current actor, set at the edges.

The auth dependency sets ``token:<name>``, the web console ``user:<name>``, CLI commands
``cli:<os user>``, engine modules ``engine:<module>``, signed links ``link:…``. FastAPI runs sync dependencies and endpoints in
worker threads, each with a *copy* of the request's context, so an actor set in the auth
dependency would not be seen by the endpoint. The middleware therefore puts one mutable
:class:`ActorBox` in the request's context before anything runs; every copy shares that box, and
:func:`set_actor` fills it in.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

SYSTEM = "system"
"""The actor of changes made outside any request, command or engine module (tests, scripts)."""

ANONYMOUS = "anonymous"
"""The actor of requests without a token (inbound alert APIs, heartbeat pings)."""

HUMAN_PREFIXES = ("token:", "user:", "cli:", "link:")
"""Actors that are people (or scripts acting for them with a token), as opposed to machines."""


@dataclass
class ActorBox:
    """The actor of one request, command or engine run, and the clock that times its changes."""

    actor: str = SYSTEM
    clock: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    def now(self) -> datetime:
        """The time of a change: the app's clock when there is one, else the wall clock."""
        if self.clock is not None:
            now: datetime = self.clock.now()
            return now
        return datetime.now(UTC)


_current: ContextVar[ActorBox | None] = ContextVar("ninefold_audit_actor", default=None)


def current() -> ActorBox:
    """The box of the current context (a fresh ``system`` box when none was set)."""
    box = _current.get()
    return box if box is not None else ActorBox()


def current_actor() -> str:
    """The current actor's name."""
    return current().actor


def is_human(actor: str) -> bool:
    """Whether ``actor`` is a person (token, CLI user, signed link) rather than a machine."""
    return actor.startswith(HUMAN_PREFIXES)


def set_actor(actor: str) -> None:
    """Name the actor of the current request or scope (fills the shared box when there is one)."""
    box = _current.get()
    if box is None:
        _current.set(ActorBox(actor=actor))
    else:
        box.actor = actor


@contextmanager
def actor_scope(actor: str, *, clock: Any = None) -> Iterator[ActorBox]:
    """Run a block as ``actor`` (CLI commands, engine modules); restores the previous actor."""
    box = ActorBox(actor=actor, clock=clock)
    token = _current.set(box)
    try:
        yield box
    finally:
        _current.reset(token)


def cli_actor() -> str:
    """``cli:<os user>`` for changes made by a CLI command."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


class ActorMiddleware:
    """ASGI middleware: a fresh ``anonymous`` box per HTTP request, timed by the app's clock."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Give the request its own box, then run it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        app = scope.get("app")
        clock = getattr(getattr(app, "state", None), "clock", None)
        token = _current.set(ActorBox(actor=ANONYMOUS, clock=clock))
        try:
            await self.app(scope, receive, send)
        finally:
            _current.reset(token)
