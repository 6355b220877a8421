"""``ninefold token``: API tokens."""

from __future__ import annotations

from datetime import timedelta

import typer
from rich.table import Table

from ninefold.cli.common import Output, console, print_json, session_scope
from ninefold.core.clock import SystemClock
from ninefold.core.durations import parse_duration
from ninefold.identity import store

app = typer.Typer(help="API tokens: create, list, revoke.", no_args_is_help=True)


@app.command()
def create(
    name: str = typer.Option(..., "--name", help="what the token is for"),
    role: str = typer.Option("viewer", "--role", help="viewer, responder or admin"),
    team: str | None = typer.Option(
        None,
        "--team",
        help="scope the token to a team: it changes only that team's objects (reads stay org-wide)",
    ),
    expires_in: str | None = typer.Option(
        None, "--expires-in", help="e.g. 30d or 12h; the token gets 401 afterwards"
    ),
) -> None:
    """Create a token and print its secret once (only a hash is stored)."""
    now = SystemClock().now()
    expires = None
    if expires_in:
        try:
            expires = now + timedelta(seconds=parse_duration(expires_in))
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--expires-in") from None
    with session_scope() as session:
        team_row = store.get_team(session, name=team) if team else None
        token, secret = store.create_token(
            session, name=name, role=role, now=now, expires_at=expires, team=team_row
        )
        token_id = token.id
    console.print(f"token {token_id} ({role}) created. Store it now; it is not shown again:")
    print(secret)


@app.command("list")
def list_(output: Output = typer.Option(Output.table, "--output", "-o")) -> None:
    """List tokens (never their secrets)."""
    with session_scope() as session:
        rows = [
            {
                "id": t.id,
                "name": t.name,
                "prefix": t.prefix,
                "role": t.role,
                "created_at": t.created_at,
                "expires_at": t.expires_at,
                "revoked_at": t.revoked_at,
            }
            for t in store.list_tokens(session)
        ]
    if output == Output.json:
        print_json(rows)
        return
    table = Table("id", "name", "prefix", "role", "created", "expires", "revoked")
    for r in rows:
        table.add_row(
            *(
                str(r[k] or "")
                for k in ("id", "name", "prefix", "role", "created_at", "expires_at", "revoked_at")
            )
        )
    console.print(table)


@app.command()
def revoke(token_id: int = typer.Argument(..., help="token id from `ninefold token list`")) -> None:
    """Revoke a token."""
    with session_scope() as session:
        store.revoke_token(session, token_id=token_id, now=SystemClock().now())
    console.print(f"token {token_id} revoked")
