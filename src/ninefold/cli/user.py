"""``ninefold user``: console passwords."""

from __future__ import annotations

import sys

import typer

from ninefold.cli.common import console, session_scope
from ninefold.core.clock import SystemClock
from ninefold.web import auth

app = typer.Typer(help="People who log in to the web console.", no_args_is_help=True)


@app.command("set-password")
def set_password(
    name: str = typer.Argument(..., help="user name (from the catalog's users)"),
    stdin: bool = typer.Option(False, "--password-stdin", help="read the password from stdin"),
) -> None:
    """Set a user's web console password (argon2); ends their open sessions."""
    if stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    with session_scope() as session:
        auth.set_password(session, user_name=name, password=password, now=SystemClock().now())
    console.print(f"password of {name} set")


def register(root: typer.Typer) -> None:
    """Add ``ninefold user`` to the root command."""
    root.add_typer(app, name="user")
