"""Postmortem and action-item commands on the configured database.

``ninefold postmortem list|show|create|export|status|edit|refresh`` and
``ninefold action list|add|done|update|stats``. They run the same flows as the API.
"""

from __future__ import annotations

import sys
from datetime import UTC, date, timedelta
from pathlib import Path

import typer
from rich.table import Table

from ninefold.cli.common import Output, console, print_json, session_scope
from ninefold.core.clock import SystemClock
from ninefold.incident import store as incident_store
from ninefold.postmortem import action_flows, flows, store
from ninefold.postmortem.action_api import item_read
from ninefold.postmortem.action_flows import UNSET
from ninefold.postmortem.api import postmortem_read
from ninefold.postmortem.states import OPEN_ITEM_STATUSES

postmortem_app = typer.Typer(
    help="Postmortems: list, show, create, export, status, edit.", no_args_is_help=True
)
action_app = typer.Typer(help="Action items: list, add, done, update, stats.", no_args_is_help=True)
_OUT = typer.Option(Output.table, "--output", "-o")


def _actor() -> str:
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date (YYYY-MM-DD)", param_hint=option
        ) from None


@postmortem_app.command("list")
def list_postmortems(
    status: str | None = typer.Option(None, "--status", help="draft, in_review, published"),
    output: Output = _OUT,
) -> None:
    """Postmortems, newest first."""
    with session_scope() as session:
        rows, _ = store.list_postmortems(session, status=status, limit=500)
        data = [
            {"id": r.id, "incident": r.incident_id, "status": r.status, "title": r.title}
            for r in rows
        ]
    if output == Output.json:
        print_json(data)
        return
    table = Table("id", "incident", "status", "title")
    for d in data:
        table.add_row(str(d["id"]), f"#{d['incident']}", str(d["status"]), str(d["title"]))
    console.print(table)


@postmortem_app.command("show")
def show(postmortem_id: int, output: Output = _OUT) -> None:
    """A postmortem (Markdown, or JSON with sections and facts)."""
    with session_scope() as session:
        row = store.get_postmortem(session, postmortem_id=postmortem_id)
        if output == Output.json:
            print_json(postmortem_read(row).model_dump(mode="json"))
        else:
            sys.stdout.write(flows.markdown(session, pm=row))


@postmortem_app.command("create")
def create(incident_id: int) -> None:
    """Draft a postmortem for an incident now (whatever the policy says)."""
    with session_scope() as session:
        incident = incident_store.get_incident(session, incident_id=incident_id, lock=True)
        actor = _actor()
        row = flows.create_postmortem(
            session,
            incident=incident,
            actor=actor,
            now=SystemClock().now(),
            reason=f"requested by {actor}",
        )
        console.print(f"postmortem {row.id} drafted for incident #{incident_id}")


@postmortem_app.command("export")
def export(
    postmortem_id: int,
    out: Path | None = typer.Option(None, "--out", help="write to a file instead of stdout"),
) -> None:
    """The postmortem as Markdown."""
    with session_scope() as session:
        text = flows.markdown(
            session, pm=store.get_postmortem(session, postmortem_id=postmortem_id)
        )
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")


@postmortem_app.command("status")
def set_status(
    postmortem_id: int, status: str = typer.Argument(..., help="draft, in_review, published")
) -> None:
    """Move a postmortem to draft, in_review or published."""
    with session_scope() as session:
        row = store.get_postmortem(session, postmortem_id=postmortem_id, lock=True)
        flows.set_status(session, pm=row, status=status, actor=_actor(), now=SystemClock().now())
        console.print(f"postmortem {row.id} is {row.status}")


@postmortem_app.command("edit")
def edit(
    postmortem_id: int,
    section: str = typer.Argument(..., help="section key, e.g. contributing_factors"),
    file: Path | None = typer.Option(None, "--file", "-f", help="Markdown body (default: stdin)"),
    heading: str | None = typer.Option(None, "--heading", help="heading of a new section"),
) -> None:
    """Replace one section's body (recorded as a revision)."""
    body = file.read_text(encoding="utf-8") if file else sys.stdin.read()
    with session_scope() as session:
        row = store.get_postmortem(session, postmortem_id=postmortem_id, lock=True)
        flows.edit_section(
            session,
            pm=row,
            key=section,
            body=body.strip(),
            heading=heading,
            actor=_actor(),
            now=SystemClock().now(),
        )
        console.print(f"postmortem {row.id}: {section} updated")


@postmortem_app.command("refresh")
def refresh(postmortem_id: int) -> None:
    """Re-generate the sections nobody edited by hand."""
    with session_scope() as session:
        row = store.get_postmortem(session, postmortem_id=postmortem_id, lock=True)
        changed = flows.refresh(session, pm=row, actor=_actor(), now=SystemClock().now())
        console.print(f"postmortem {row.id}: {', '.join(changed) or 'nothing'} refreshed")


# --- action items -----------------------------------------------------------------------------


@action_app.command("list")
def list_items(
    status: list[str] = typer.Option([], "--status", help="open, in_progress, done, wont_do"),
    owner: str | None = typer.Option(None, "--owner"),
    team: str | None = typer.Option(None, "--team"),
    incident: int | None = typer.Option(None, "--incident"),
    overdue: bool = typer.Option(False, "--overdue", help="only open items past their due date"),
    all_: bool = typer.Option(False, "--all", help="closed ones too (default: open only)"),
    output: Output = _OUT,
) -> None:
    """Action items by due date (open ones unless --status or --all)."""
    from ninefold.oncall import store as oncall_store

    now = SystemClock().now()
    with session_scope() as session:
        rows, _ = store.list_items(
            session,
            status=status or (None if all_ else list(OPEN_ITEM_STATUSES)),
            owner_id=oncall_store.user_by_name(session, name=owner).id if owner else None,
            team_id=action_flows.team_id_of(session, team) if team else None,
            incident_ids=[incident] if incident is not None else None,
            overdue_on=now.astimezone(UTC).date() if overdue else None,
            limit=500,
        )
        data = [item_read(r, now=now).model_dump(mode="json") for r in rows]
    if output == Output.json:
        print_json(data)
        return
    table = Table("id", "priority", "status", "due", "owner", "incident", "title")
    for d in data:
        due = str(d["due_date"] or "—") + (" (overdue)" if d["overdue"] else "")
        inc = f"#{d['incident_id']}" if d["incident_id"] else "—"
        table.add_row(
            str(d["id"]), d["priority"], d["status"], due, d["owner"] or "—", inc, d["title"]
        )
    console.print(table)


@action_app.command("add")
def add(
    title: str = typer.Argument(...),
    owner: str | None = typer.Option(None, "--owner"),
    due: str | None = typer.Option(None, "--due", help="due date YYYY-MM-DD"),
    priority: str = typer.Option("P3", "--priority", "-p", help="P1–P4 or high/medium/low"),
    incident: int | None = typer.Option(None, "--incident"),
    postmortem: int | None = typer.Option(None, "--postmortem"),
    team: str | None = typer.Option(None, "--team"),
    description: str = typer.Option("", "--description"),
) -> None:
    """Add an action item."""
    with session_scope() as session:
        row = action_flows.create_item(
            session,
            title=title,
            actor=_actor(),
            now=SystemClock().now(),
            owner=owner,
            due_date=_date(due, "--due"),
            priority=priority,
            incident_id=incident,
            postmortem_id=postmortem,
            team=team,
            description=description,
        )
        console.print(f"action item {row.id} added")


@action_app.command("done")
def done(
    item_id: int, wont_do: bool = typer.Option(False, "--wont-do", help="close as won't do")
) -> None:
    """Close an action item as done (or won't do)."""
    with session_scope() as session:
        row = store.get_item(session, item_id=item_id, lock=True)
        action_flows.update_item(
            session, item=row, now=SystemClock().now(), status="wont_do" if wont_do else "done"
        )
        console.print(f"action item {row.id} is {row.status}")


@action_app.command("update")
def update(
    item_id: int,
    status: str | None = typer.Option(None, "--status", help="open, in_progress, done, wont_do"),
    owner: str | None = typer.Option(None, "--owner"),
    due: str | None = typer.Option(None, "--due", help="due date YYYY-MM-DD"),
    priority: str | None = typer.Option(None, "--priority", "-p"),
    title: str | None = typer.Option(None, "--title"),
) -> None:
    """Change an action item."""
    with session_scope() as session:
        row = store.get_item(session, item_id=item_id, lock=True)
        action_flows.update_item(
            session,
            item=row,
            now=SystemClock().now(),
            title=title,
            owner=owner if owner is not None else UNSET,
            due_date=_date(due, "--due") if due is not None else UNSET,
            priority=priority,
            status=status,
        )
        console.print(f"action item {row.id} updated ({row.status})")


@action_app.command("stats")
def stats(
    team: str | None = typer.Option(None, "--team"),
    days: int = typer.Option(90, "--days", min=1, help="period: the last N days up to today"),
    output: Output = _OUT,
) -> None:
    """On-time closure rate: items due in the period closed on or before their due date ÷ items
    due in the period."""
    end = SystemClock().now().astimezone(UTC).date()
    start = end - timedelta(days=days - 1)
    with session_scope() as session:
        s = action_flows.closure_stats(session, team=team, start=start, end=end)
    data = {"team": team, "start": start.isoformat(), "end": end.isoformat(), "due": s.due,
            "closed_on_time": s.closed_on_time, "closed_late": s.closed_late,
            "still_open": s.still_open, "rate": s.rate}  # fmt: skip
    if output == Output.json:
        print_json(data)
        return
    rate = "no items due" if s.rate is None else f"{s.rate:.0%}"
    console.print(
        f"{team or 'all teams'} {start}…{end}: {rate} on time "
        f"({s.closed_on_time} of {s.due}; {s.closed_late} late, {s.still_open} open)"
    )


def register(app: typer.Typer) -> None:
    """Add the postmortem and action commands to ``app``."""
    app.add_typer(postmortem_app, name="postmortem")
    app.add_typer(action_app, name="action")
