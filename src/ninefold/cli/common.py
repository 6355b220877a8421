"""Shared CLI plumbing: settings, database, console output, errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from typing import Any, NoReturn

import typer
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from ninefold.audit.context import actor_scope, cli_actor
from ninefold.config import Settings, load_settings
from ninefold.db.engine import make_engine, make_session_factory
from ninefold.errors import NinefoldError

console = Console(soft_wrap=True)
if not console.is_terminal:
    # Piped or captured output defaults to 80 columns, which would cut every name in tables.
    console.width = 160
err_console = Console(stderr=True)


class Output(StrEnum):
    """Output formats of list and status commands."""

    table = "table"
    json = "json"


def fail(message: str, code: int = 1) -> NoReturn:
    """Print an error to stderr and exit with ``code``."""
    err_console.print(
        f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True
    )
    raise typer.Exit(code)


def settings() -> Settings:
    """Load settings or exit with the validation problems."""
    try:
        return load_settings()
    except NinefoldError as exc:
        fail(exc.message, 2)


def engine_for(cfg: Settings) -> Engine:
    """An engine for the configured database."""
    return make_engine(
        cfg.database_url, pool_size=cfg.db_pool_size, max_overflow=cfg.db_max_overflow
    )


@contextmanager
def session_scope(cfg: Settings | None = None) -> Iterator[Session]:
    """A committed-on-success session on the configured database; NinefoldError becomes exit 1."""
    cfg = cfg or settings()
    engine = engine_for(cfg)
    try:
        factory = make_session_factory(engine)
        with actor_scope(cli_actor()), factory() as session, session.begin():
            yield session
    except NinefoldError as exc:
        fail(exc.message)
    finally:
        engine.dispose()


def print_json(data: Any) -> None:
    """Write ``data`` as JSON to stdout (datetimes as RFC 3339)."""

    def default(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.isoformat().replace("+00:00", "Z")
        raise TypeError(f"not JSON serialisable: {type(value).__name__}")

    sys.stdout.write(json.dumps(data, indent=2, default=default) + "\n")
