"""``ninefold db``: migrations."""

from __future__ import annotations

import typer

from ninefold.cli.common import console, engine_for, settings
from ninefold.db import migrate

app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)


@app.command()
def upgrade(revision: str = typer.Argument("head", help="target revision")) -> None:
    """Upgrade the database schema (default: to the newest revision)."""
    engine = engine_for(settings())
    migrate.upgrade(engine, revision)
    console.print(f"database at revision [bold]{migrate.current_revision(engine)}[/]")


@app.command()
def downgrade(revision: str = typer.Argument(..., help="target revision, or base")) -> None:
    """Downgrade the database schema."""
    engine = engine_for(settings())
    migrate.downgrade(engine, revision)
    console.print(f"database at revision [bold]{migrate.current_revision(engine)}[/]")


@app.command()
def current() -> None:
    """Print the database's revision and the newest one."""
    engine = engine_for(settings())
    console.print(f"current: {migrate.current_revision(engine)}  head: {migrate.head_revision()}")
