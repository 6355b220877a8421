"""Incident and deploy commands on the configured database.

``ninefold incident declare|list|show|update|ack|mitigate|resolve|reopen|note|attach|detach|merge|
role`` and ``ninefold deploy record|list``. They run the same flows as the API; pages and
stakeholder updates are queued in the outbox and delivered by the server.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import typer
from pydantic import ValidationError
from rich.table import Table

from ninefold.cli.common import Output, console, fail, print_json, session_scope
from ninefold.core.clock import SystemClock, ensure_utc
from ninefold.deploy import flows as deploy_flows
from ninefold.deploy import store as deploy_store
from ninefold.deploy.api import deployment_read
from ninefold.deploy.schemas import DeploymentCreate
from ninefold.incident import flows, store
from ninefold.incident.api import entry_read, incident_read

incident_app = typer.Typer(
    help="Incidents: declare, list, show, update, resolve …", no_args_is_help=True
)
deploy_app = typer.Typer(help="Deploy events: record, list.", no_args_is_help=True)


def _actor() -> str:
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an RFC 3339 time", param_hint=option) from None
    if parsed.tzinfo is None:
        raise typer.BadParameter(f"{value!r} needs a UTC offset", param_hint=option)
    return ensure_utc(parsed)


def _show(data: dict[str, Any], timeline: list[dict[str, Any]] | None = None) -> None:
    table = Table(show_header=False, box=None)
    for key in (
        "id", "title", "severity", "status", "public_status", "services", "started_at",
        "detected_at", "acknowledged_at", "mitigated_at", "resolved_at", "declared_by",
        "merged_into",
    ):  # fmt: skip
        value = data.get(key)
        text = ", ".join(value) if isinstance(value, list) else value
        table.add_row(f"[bold]{key}[/]", "—" if text in (None, "") else str(text))
    roles = ", ".join(f"{r['role']}={r['user']}" for r in data.get("roles", []))
    table.add_row("[bold]roles[/]", roles or "—")
    table.add_row(
        "[bold]alerts[/]", ", ".join(f"#{a['id']}" for a in data.get("alerts", [])) or "—"
    )
    console.print(table)
    if timeline:
        tl = Table("at", "kind", "", "message", "actor")
        for e in timeline:
            tl.add_row(
                e["at"].strftime("%Y-%m-%d %H:%M:%S"),
                e["kind"],
                "★" if e["key_moment"] else "",
                e["message"],
                e["actor"] or "",
            )
        console.print(tl)


def _emit(session: Any, incident: Any, output: Output, with_timeline: bool = False) -> None:
    data = incident_read(session, incident).model_dump()
    entries = (
        [entry_read(e).model_dump() for e in store.timeline(session, incident_id=incident.id)]
        if with_timeline
        else None
    )
    if output == Output.json:
        print_json({**data, "timeline": entries} if with_timeline else data)
    else:
        _show(data, entries)


@incident_app.command("declare")
def declare(
    title: str = typer.Argument(..., help="what is wrong"),
    severity: str | None = typer.Option(None, "--severity", help="e.g. SEV1 (default SEV2)"),
    service: list[str] = typer.Option([], "--service", "-s", help="affected service (repeatable)"),
    summary: str = typer.Option("", "--summary"),
    alert: list[int] = typer.Option([], "--alert", "-a", help="alert id to attach (repeatable)"),
    started_at: str | None = typer.Option(None, "--started-at", help="impact began (RFC 3339)"),
    output: Output = typer.Option(Output.table, "--output", "-o"),
) -> None:
    """Declare an incident."""
    started = _time(started_at, "--started-at")
    with session_scope() as session:
        row = flows.declare(
            session,
            title=title,
            severity=severity,
            services=service,
            summary=summary,
            alert_ids=alert,
            actor=_actor(),
            now=SystemClock().now(),
            started_at=started,
        )
        _emit(session, row, output)


@incident_app.command("list")
def list_incidents(
    status: str | None = typer.Option(None, "--status", help="active, open, …, resolved, merged"),
    service: str | None = typer.Option(None, "--service", "-s"),
    limit: int = typer.Option(50, "--limit", min=1, max=500),
    output: Output = typer.Option(Output.table, "--output", "-o"),
) -> None:
    """Incidents, newest first."""
    from ninefold.alert import store as alert_store

    with session_scope() as session:
        sid = alert_store.service_id(session, name=service) if service else None
        rows, _ = store.list_incidents(session, status=status, service_id=sid, limit=limit)
        items = [incident_read(session, r, full=False).model_dump() for r in rows]
    if output == Output.json:
        print_json(items)
        return
    table = Table("id", "severity", "status", "public", "title", "services", "declared")
    for i in items:
        table.add_row(
            str(i["id"]),
            i["severity"],
            i["status"],
            i["public_status"],
            i["title"],
            ", ".join(i["services"]),
            i["declared_at"].strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table)


@incident_app.command("show")
def show(
    incident_id: int = typer.Argument(...),
    output: Output = typer.Option(Output.table, "--output", "-o"),
) -> None:
    """One incident with its timeline."""
    with session_scope() as session:
        _emit(session, store.get_incident(session, incident_id=incident_id), output, True)


@incident_app.command("update")
def update(
    incident_id: int = typer.Argument(...),
    title: str | None = typer.Option(None, "--title"),
    severity: str | None = typer.Option(None, "--severity"),
    summary: str | None = typer.Option(None, "--summary"),
    service: list[str] = typer.Option([], "--service", "-s", help="replaces affected services"),
    status: str | None = typer.Option(None, "--status", help="public status"),
    message: str | None = typer.Option(None, "--message", "-m", help="send a stakeholder update"),
    channel: list[str] = typer.Option([], "--channel", help="default: the severity's channels"),
    output: Output = typer.Option(Output.table, "--output", "-o"),
) -> None:
    """Change fields; with --message, post a stakeholder update (with --status, default current)."""
    now, actor = SystemClock().now(), _actor()
    with session_scope() as session:
        row = store.get_incident(session, incident_id=incident_id, lock=True)
        flows.update_fields(
            session,
            incident=row,
            actor=actor,
            now=now,
            title=title,
            summary=summary,
            severity=severity,
            services=service or None,
            public_status=status if message is None else None,
        )
        if message is not None:
            flows.post_update(
                session,
                incident=row,
                public_status=status or row.public_status,
                message=message,
                channels=channel or None,
                publish=True,
                actor=actor,
                now=now,
            )
        _emit(session, row, output)


def _act(action: str, incident_id: int, at: str | None, output: Output) -> None:
    when = _time(at, "--at")
    with session_scope() as session:
        row = store.get_incident(session, incident_id=incident_id, lock=True)
        flows.act(
            session, incident=row, action=action, actor=_actor(), now=SystemClock().now(), at=when
        )
        _emit(session, row, output)


_AT = typer.Option(None, "--at", help="when (RFC 3339, default now)")
_OUT = typer.Option(Output.table, "--output", "-o")


@incident_app.command("ack")
def ack(incident_id: int, at: str | None = _AT, output: Output = _OUT) -> None:
    """Record that responders acknowledged the incident."""
    _act("acknowledge", incident_id, at, output)


@incident_app.command("mitigate")
def mitigate(incident_id: int, at: str | None = _AT, output: Output = _OUT) -> None:
    """Record that the impact is mitigated."""
    _act("mitigate", incident_id, at, output)


@incident_app.command("resolve")
def resolve(incident_id: int, at: str | None = _AT, output: Output = _OUT) -> None:
    """Resolve the incident (mitigating it too if it was not)."""
    _act("resolve", incident_id, at, output)


@incident_app.command("reopen")
def reopen(incident_id: int, output: Output = _OUT) -> None:
    """Reopen a resolved incident."""
    _act("reopen", incident_id, None, output)


@incident_app.command("note")
def note(
    incident_id: int,
    message: str = typer.Argument(...),
    key_moment: bool = typer.Option(False, "--key-moment", help="mark it as a key moment"),
) -> None:
    """Add a note to the timeline."""
    with session_scope() as session:
        row = store.get_incident(session, incident_id=incident_id, lock=True)
        entry = flows.add_note(
            session,
            incident=row,
            message=message,
            actor=_actor(),
            now=SystemClock().now(),
            key_moment=key_moment,
        )
        console.print(f"note {entry.id} added to incident {incident_id}")


@incident_app.command("attach")
def attach(incident_id: int, alert_ids: list[int] = typer.Argument(...)) -> None:
    """Attach alerts."""
    with session_scope() as session:
        row = store.get_incident(session, incident_id=incident_id, lock=True)
        flows.attach(
            session, incident=row, alert_ids=alert_ids, actor=_actor(), now=SystemClock().now()
        )
    console.print(f"attached {', '.join(map(str, alert_ids))} to incident {incident_id}")


@incident_app.command("detach")
def detach(incident_id: int, alert_id: int) -> None:
    """Detach an alert."""
    with session_scope() as session:
        row = store.get_incident(session, incident_id=incident_id, lock=True)
        flows.detach(
            session, incident=row, alert_id=alert_id, actor=_actor(), now=SystemClock().now()
        )
    console.print(f"detached {alert_id} from incident {incident_id}")


@incident_app.command("merge")
def merge(
    incident_id: int,
    into: int = typer.Option(..., "--into", help="the incident that survives"),
) -> None:
    """Merge an incident into another (its alerts and timeline move)."""
    with session_scope() as session:
        source = store.get_incident(session, incident_id=incident_id, lock=True)
        target = store.get_incident(session, incident_id=into, lock=True)
        flows.merge(session, source=source, target=target, actor=_actor(), now=SystemClock().now())
    console.print(f"incident {incident_id} merged into {into}")


@incident_app.command("role")
def role(incident_id: int, role_name: str, user: str) -> None:
    """Give a role (commander, communications, scribe or custom) to a user, who is paged."""
    with session_scope() as session:
        row = store.get_incident(session, incident_id=incident_id, lock=True)
        channels = flows.assign_role(
            session,
            incident=row,
            role=role_name,
            user=user,
            actor=_actor(),
            now=SystemClock().now(),
        )
    paged = f"paged via {', '.join(channels)}" if channels else "not paged (no immediate rule)"
    console.print(f"{user} is {role_name} of incident {incident_id}; {paged}")


@deploy_app.command("record")
def record(
    service: str = typer.Option(..., "--service", "-s"),
    version: str = typer.Option(..., "--version"),
    commit: str | None = typer.Option(None, "--commit"),
    at: str | None = typer.Option(None, "--at", help="deployed at (RFC 3339, default now)"),
    outcome: str = typer.Option("success", "--outcome", help="success, failure or rollback"),
    environment: str | None = typer.Option(None, "--environment"),
    output: Output = typer.Option(Output.table, "--output", "-o"),
) -> None:
    """Record a deploy (shows on active incidents of the service)."""
    try:
        body = DeploymentCreate.model_validate(
            {
                "service": service,
                "version": version,
                "commit": commit,
                "deployed_at": _time(at, "--at"),
                "outcome": outcome,
                "environment": environment,
            }
        )
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        fail(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}", 2)
    with session_scope() as session:
        row, incidents = deploy_flows.record(
            session, body=body, actor=_actor(), now=SystemClock().now()
        )
        data = deployment_read(row, incidents).model_dump()
    if output == Output.json:
        print_json(data)
    else:
        joined = f"; on incident(s) {', '.join(map(str, incidents))}" if incidents else ""
        console.print(f"deploy {data['id']}: {service} {version} ({outcome}){joined}")


@deploy_app.command("list")
def list_deploys(
    service: str | None = typer.Option(None, "--service", "-s"),
    limit: int = typer.Option(50, "--limit", min=1, max=1000),
    output: Output = typer.Option(Output.table, "--output", "-o"),
) -> None:
    """Deploys, newest first."""
    from ninefold.alert import store as alert_store

    with session_scope() as session:
        sid = alert_store.service_id(session, name=service) if service else None
        rows, _ = deploy_store.list_deployments(session, service_id=sid, limit=limit)
        items = [deployment_read(r).model_dump() for r in rows]
    if output == Output.json:
        print_json(items)
        return
    table = Table("id", "service", "version", "commit", "outcome", "deployed")
    for d in items:
        table.add_row(
            str(d["id"]),
            d["service"],
            d["version"],
            d["commit"] or "",
            d["outcome"],
            d["deployed_at"].strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add the incident and deploy commands to ``app``."""
    app.add_typer(incident_app, name="incident")
    app.add_typer(deploy_app, name="deploy")
