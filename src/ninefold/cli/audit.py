"""``ninefold audit``: who changed what, from the audit log."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import typer
from rich.table import Table

from ninefold.audit import store
from ninefold.audit.schemas import AuditRead
from ninefold.cli.common import Output, console, fail, print_json, session_scope
from ninefold.clock_utils import parse_time
from ninefold.core.clock import SystemClock
from ninefold.core.durations import parse_duration
from ninefold.errors import InvalidInput


def _since(value: str | None) -> datetime | None:
    """An RFC 3339 time, or a duration back from now (``24h``, ``7d``)."""
    if value is None:
        return None
    try:
        return SystemClock().now() - timedelta(seconds=parse_duration(value))
    except ValueError:
        pass
    try:
        return parse_time(value)
    except InvalidInput as exc:
        fail(f"--since: {exc.message} (or give a duration such as 24h)", 2)


def _brief(entry: AuditRead) -> str:
    if entry.action == "update" and entry.after is not None:
        before = entry.before or {}
        return ", ".join(
            f"{k}: {json.dumps(before.get(k), default=str)} → {json.dumps(v, default=str)}"
            for k, v in entry.after.items()
        )
    values = entry.after if entry.action == "create" else entry.before
    return ", ".join(f"{k}={json.dumps(v, default=str)}" for k, v in (values or {}).items())


def audit(
    object_type: str | None = typer.Option(
        None, "--object-type", "-t", help="table, e.g. notification_channels"
    ),
    actor: str | None = typer.Option(
        None, "--actor", "-a", help="exact, or a prefix ending in * (token:*)"
    ),
    since: str | None = typer.Option(None, "--since", help="RFC 3339 time or a duration (24h)"),
    limit: int = typer.Option(100, "--limit", "-n", min=1, max=10_000),
    output: Output = typer.Option(Output.table, "--output", "-o"),
) -> None:
    """Show the audit log: every change, who made it and when, newest first."""
    start = _since(since)
    with session_scope() as session:
        rows = [
            AuditRead.model_validate(r)
            for r in store.list_entries(
                session, object_type=object_type, actor=actor, since=start, limit=limit
            )
        ]
    if output == Output.json:
        print_json([r.model_dump() for r in rows])
        return
    table = Table("at", "actor", "action", "object", "changes")
    for r in rows:
        name = f" {r.object_name}" if r.object_name else ""
        table.add_row(
            r.at.isoformat().replace("+00:00", "Z"),
            r.actor,
            r.action,
            f"{r.object_type}#{r.object_id}{name}",
            _brief(r)[:300],
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add ``ninefold audit`` to ``app``."""
    app.command("audit")(audit)
