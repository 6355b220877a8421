"""Alert and silence commands on the configured database (like ``ninefold slo``).

``ninefold alert create|list|show|ack|snooze|resolve``, ``ninefold silence list|create|expire``
and ``ninefold maintenance list|add|end``.
Alerts raised here go through ``dispatch.intake`` with the configured routing file, so they
are routed, silenced and queued for notification like any other; the server delivers them.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from ninefold.alert import dispatch, flows, store
from ninefold.alert.api import alert_read
from ninefold.alert.manual import ManualAlert, raise_alert
from ninefold.alert.matchers import MatchOp, parse_matcher
from ninefold.alert.models import MaintenanceWindow, SilenceRow
from ninefold.alert.silence import check_new, from_api, state
from ninefold.audit.context import cli_actor
from ninefold.cli.common import Output, console, fail, print_json, session_scope, settings
from ninefold.config import Settings
from ninefold.core.clock import SystemClock
from ninefold.core.durations import parse_duration
from ninefold.errors import NinefoldError

alert_app = typer.Typer(
    help="Alerts: create, list, show, acknowledge, snooze, resolve; the intake log.",
    no_args_is_help=True,
)
silence_app = typer.Typer(help="Silences: list, create, expire.", no_args_is_help=True)
maintenance_app = typer.Typer(
    help="Maintenance windows of services (alerts are kept, not paged): list, add, end.",
    no_args_is_help=True,
)

_SEVERITY_STYLE = {"critical": "bold red", "error": "red", "warning": "yellow", "info": "dim"}
_STATUS_STYLE = {"firing": "bold red", "resolved": "green"}


def _pairs(values: list[str], option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw in values:
        name, sep, value = raw.partition("=")
        if not sep or not name.strip():
            raise typer.BadParameter(f"{raw!r} is not name=value", param_hint=option)
        out[name.strip()] = value
    return out


def _routing(cfg: Settings) -> dispatch.Routing | None:
    if cfg.routing_file:
        return dispatch.load_routing(cfg.routing_file)
    default = getattr(dispatch, "default_routing", None)  # as the server does without a file
    return default() if default is not None else None


def _print_alert(data: dict[str, Any]) -> None:
    table = Table(show_header=False, box=None)
    for key in (
        "id",
        "status",
        "severity",
        "summary",
        "service",
        "source",
        "dedup_key",
        "starts_at",
        "acknowledged_at",
        "acknowledged_by",
        "resolved_at",
        "receive_count",
    ):
        table.add_row(f"[bold]{key}[/]", "—" if data.get(key) is None else str(data[key]))
    table.add_row("[bold]labels[/]", ", ".join(f"{k}={v}" for k, v in data["labels"].items()))
    if data.get("details"):
        table.add_row("[bold]details[/]", json.dumps(data["details"], default=str))
    console.print(table)
    for event in data.get("events", []):
        console.print(f"  {event['at']}  {event['kind']}  {event['actor'] or ''}", highlight=False)


@alert_app.command("create")
def create(
    summary: str = typer.Argument(..., help="what is wrong"),
    service: str | None = typer.Option(None, "--service", "-s", help="catalog service"),
    severity: str = typer.Option("error", "--severity", help="critical, error, warning, info"),
    label: list[str] = typer.Option([], "--label", "-l", help="name=value (repeatable)"),
    detail: list[str] = typer.Option([], "--detail", "-d", help="name=value (repeatable)"),
    description: str | None = typer.Option(
        None, "--description", help="longer text for responders"
    ),
    dedup_key: str | None = typer.Option(None, "--dedup-key", help="re-sending updates the alert"),
    output: Output = typer.Option(Output.table, "--output", "-o"),
) -> None:
    """Raise an alert by hand; it is routed and notified like any other."""
    from pydantic import ValidationError

    try:
        body = ManualAlert(
            summary=summary,
            service=service,
            severity=severity,
            labels=_pairs(label, "--label"),
            details=_pairs(detail, "--detail"),
            description=description,
            dedup_key=dedup_key,
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        fail(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}", 2)
    cfg = settings()
    with session_scope(cfg) as session:
        alert_id, outcome, _ = raise_alert(
            session,
            body=body,
            actor=cli_actor(),
            routing=_routing(cfg),
            now=SystemClock().now(),
            public_url=cfg.public_url,
        )
        data = alert_read(store.get_alert(session, alert_id=alert_id)).model_dump()
    if output == Output.json:
        print_json(data)
    else:
        console.print(f"alert {alert_id} {outcome}: {data['summary']}", highlight=False)


@alert_app.command("list")
def list_(
    status: str | None = typer.Option(None, "--status", help="firing or resolved"),
    service: str | None = typer.Option(None, "--service", "-s", help="only this catalog service"),
    severity: str | None = typer.Option(
        None, "--severity", help="only this severity: critical, error, warning or info"
    ),
    source: str | None = typer.Option(
        None,
        "--source",
        help="only this source (the list's source column, e.g. manual or heartbeat)",
    ),
    limit: int = typer.Option(50, "--limit", min=1, max=500, help="show at most this many"),
    output: Output = typer.Option(Output.table, "--output", "-o"),
) -> None:
    """Alerts, newest first."""
    with session_scope() as session:
        sid = None if service is None else store.service_id(session, name=service)
        stmt = store.alert_query(status=status, service_id=sid, severity=severity, source=source)
        rows, total = store.list_alerts(session, stmt=stmt, limit=limit, offset=0)
        data = [alert_read(a).model_dump() for a in rows]
    if output == Output.json:
        print_json(data)
        return
    table = Table("id", "status", "severity", "summary", "service", "source", "started", "ack")
    for d in data:
        table.add_row(
            str(d["id"]),
            f"[{_STATUS_STYLE.get(d['status'], '')}]{d['status']}[/]",
            f"[{_SEVERITY_STYLE.get(d['severity'], '')}]{d['severity']}[/]",
            d["summary"],
            d["service"] or "—",
            d["source"],
            d["starts_at"].isoformat(),
            "yes" if d["acknowledged_at"] else "",
        )
    console.print(table)
    if total > len(data):
        console.print(f"{len(data)} of {total} alerts (use --limit)")


@alert_app.command("show")
def show(
    alert_id: int = typer.Argument(..., help="alert id (see ninefold alert list)"),
    output: Output = typer.Option(Output.table, "--output", "-o"),
) -> None:
    """One alert and its history."""
    with session_scope() as session:
        data = alert_read(store.get_alert(session, alert_id=alert_id)).model_dump()
        data["events"] = [
            {"kind": e.kind, "at": e.at, "actor": e.actor, "details": e.details}
            for e in store.alert_events(session, alert_id=alert_id)
        ]
    if output == Output.json:
        print_json(data)
    else:
        _print_alert(data)


@alert_app.command("intake")
def intake_log(
    retry: bool = typer.Option(
        False, "--retry", help="put batches set aside after repeated failures back in line"
    ),
    output: Output = typer.Option(Output.table, "--output", "-o"),
) -> None:
    """The alert intake log: accepted batches not processed yet, and set-aside ones."""
    from ninefold.alert import intake
    from ninefold.alert.intake_api import state_of

    with session_scope() as session:
        if retry:
            n = intake.retry_failed(session)  # committed with the session
            console.print(f"{n} set-aside batch(es) put back in line")
        data = state_of(session).model_dump(mode="json")
    if output == Output.json:
        print_json(data)
        return
    console.print(
        f"pending: {data['pending_batches']} batch(es), {data['pending_items']} alert(s)"
        + (f", oldest {data['oldest_received_at']}" if data["oldest_received_at"] else "")
        + f"; set aside: {data['failed_batches']}",
        highlight=False,
    )
    if data["failed"]:
        table = Table("id", "format", "alerts", "received", "attempts", "last error")
        for f in data["failed"]:
            table.add_row(
                str(f["id"]),
                f["format"],
                str(f["items"]),
                f["received_at"],
                str(f["attempts"]),
                escape(f["last_error"] or ""),
            )
        console.print(table)


@alert_app.command("ack")
def ack(alert_id: int = typer.Argument(..., help="alert id (see ninefold alert list)")) -> None:
    """Acknowledge a firing alert."""
    with session_scope() as session:
        alert = store.get_alert(session, alert_id=alert_id)
        flows.acknowledge(session, alert=alert, actor=cli_actor(), now=SystemClock().now())
    console.print(f"alert {alert_id} acknowledged")


@alert_app.command("snooze")
def snooze(
    alert_id: int = typer.Argument(..., help="alert id (see ninefold alert list)"),
    minutes: int = typer.Option(30, "--minutes", min=1, max=7 * 24 * 60, help="how long"),
) -> None:
    """Hold a firing alert's pages; its escalation pages the current level again afterwards."""
    from datetime import timedelta

    now = SystemClock().now()
    with session_scope() as session:
        alert = store.get_alert(session, alert_id=alert_id)
        flows.snooze(
            session, alert=alert, until=now + timedelta(minutes=minutes), actor=cli_actor(), now=now
        )
    console.print(f"alert {alert_id} snoozed for {minutes} minutes")


@alert_app.command("resolve")
def resolve(alert_id: int = typer.Argument(..., help="alert id (see ninefold alert list)")) -> None:
    """Resolve an alert by hand."""
    now = SystemClock().now()
    with session_scope() as session:
        alert = store.get_alert(session, alert_id=alert_id)
        flows.resolve(session, alert=alert, at=now, actor=cli_actor(), now=now)
    console.print(f"alert {alert_id} resolved")


def _silence_dict(row: SilenceRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "matchers": row.matchers,
        "startsAt": row.starts_at,
        "endsAt": row.ends_at,
        "createdBy": row.created_by,
        "comment": row.comment,
        "state": str(state(store.to_silence(row), SystemClock().now())),
    }


def _matchers_text(matchers: list[dict[str, Any]]) -> str:
    ops = {(False, True): "=", (False, False): "!=", (True, True): "=~", (True, False): "!~"}
    return ", ".join(
        f"{m['name']}{ops[(bool(m.get('isRegex')), bool(m.get('isEqual', True)))]}{json.dumps(m['value'])}"
        for m in matchers
    )


@silence_app.command("list")
def silence_list(
    expired: bool = typer.Option(False, "--expired", help="include expired silences"),
    output: Output = typer.Option(Output.table, "--output", "-o"),
) -> None:
    """Silences, newest first (active and pending unless --expired)."""
    from sqlalchemy import select

    with session_scope() as session:
        rows = session.scalars(select(SilenceRow).order_by(SilenceRow.id.desc())).all()
        data = [_silence_dict(r) for r in rows]
    if not expired:
        data = [d for d in data if d["state"] != "expired"]
    if output == Output.json:
        print_json(data)
        return
    table = Table("id", "state", "matchers", "starts", "ends", "by", "comment")
    for d in data:
        table.add_row(
            str(d["id"]),
            d["state"],
            _matchers_text(d["matchers"]),
            d["startsAt"].isoformat(),
            d["endsAt"].isoformat(),
            d["createdBy"],
            d["comment"],
        )
    console.print(table)


@silence_app.command("create")
def silence_create(
    matcher: list[str] = typer.Argument(..., help='matchers such as service="api" or job=~"db.*"'),
    duration: str = typer.Option("1h", "--duration", help="how long, e.g. 2h or 1d"),
    comment: str = typer.Option(..., "--comment", "-c", help="why (shown with the silence)"),
    author: str | None = typer.Option(None, "--author", help="default: cli:<user>"),
    output: Output = typer.Option(Output.table, "--output", "-o"),
) -> None:
    """Silence matching alerts from now for --duration."""
    try:
        parsed = [parse_matcher(m) for m in matcher]
        seconds = parse_duration(duration)
    except ValueError as exc:
        fail(str(exc), 2)
    now = SystemClock().now()
    doc = {
        "matchers": [
            {
                "name": m.name,
                "value": m.value,
                "isRegex": m.op in (MatchOp.RE, MatchOp.NRE),
                "isEqual": m.op in (MatchOp.EQ, MatchOp.RE),
            }
            for m in parsed
        ],
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(seconds=seconds)).isoformat(),
        "createdBy": author or cli_actor(),
        "comment": comment,
    }
    try:
        silence = from_api(doc)
        check_new(silence, now)
    except ValueError as exc:
        fail(str(exc), 2)
    with session_scope() as session:
        row = SilenceRow(
            matchers=doc["matchers"],
            starts_at=silence.starts_at,
            ends_at=silence.ends_at,
            created_by=doc["createdBy"],
            comment=comment,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        data = _silence_dict(row)
    if output == Output.json:
        print_json(data)
    else:
        console.print(f"silence {data['id']} until {data['endsAt'].isoformat()}", highlight=False)


@silence_app.command("expire")
def silence_expire(
    silence_id: int = typer.Argument(..., help="silence id (see ninefold silence list)"),
) -> None:
    """End a silence now."""
    now = SystemClock().now()
    with session_scope() as session:
        row = session.get(SilenceRow, silence_id)
        if row is None:
            fail(f"silence {silence_id} not found")
        if row.ends_at > now:
            row.starts_at = min(row.starts_at, now - timedelta(microseconds=1))
            row.ends_at = now
            row.updated_at = now
    console.print(f"silence {silence_id} expired")


def _window_dict(row: MaintenanceWindow) -> dict[str, Any]:
    return {
        "id": row.id,
        "service": row.service.name,
        "start": row.starts_at,
        "end": row.ends_at,
        "reason": row.reason,
        "created_by": row.created_by,
    }


@maintenance_app.command("list")
def maintenance_list(
    service: str | None = typer.Option(None, "--service", help="only this service"),
    output: Output = typer.Option(Output.table, "--output", "-o"),
) -> None:
    """Maintenance windows that are not over yet."""
    with session_scope() as session:
        sid = store.service_id(session, name=service) if service else None
        rows = [
            _window_dict(r)
            for r in store.maintenance_windows(session, service_id=sid, now=SystemClock().now())
        ]
    if output == Output.json:
        print_json(rows)
        return
    table = Table("id", "service", "start", "end", "reason", "by")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["service"],
            f"{r['start']:%Y-%m-%d %H:%M}Z",
            f"{r['end']:%Y-%m-%d %H:%M}Z",
            r["reason"],
            r["created_by"],
        )
    console.print(table)


@maintenance_app.command("add")
def maintenance_add(
    service: str = typer.Argument(..., help="the service under maintenance"),
    duration: str = typer.Option("1h", "--duration", help="how long from --start, e.g. 2h"),
    start: str | None = typer.Option(None, "--start", help="RFC 3339 time (default: now)"),
    reason: str = typer.Option("", "--reason", "-r", help="why (shown with the window)"),
) -> None:
    """Hold the pages of a service's alerts from --start (now) for --duration."""
    from ninefold.clock_utils import parse_time

    now = SystemClock().now()
    try:
        begin = parse_time(start) if start else now
        seconds = parse_duration(duration)
    except ValueError as exc:
        fail(str(exc), 2)
    except NinefoldError as exc:
        fail(exc.message, 2)
    with session_scope() as session:
        row = flows.plan_maintenance(
            session,
            service=service,
            start=begin,
            end=begin + timedelta(seconds=seconds),
            reason=reason,
            actor=cli_actor(),
            now=now,
        )
        window_id = row.id
    console.print(f"maintenance window {window_id} on {service}")


@maintenance_app.command("end")
def maintenance_end(
    window_id: int = typer.Argument(..., help="window id (see ninefold maintenance list)"),
) -> None:
    """End a maintenance window now (held alerts page at their group's next flush)."""
    with session_scope() as session:
        flows.end_maintenance(session, window_id=window_id, service=None, now=SystemClock().now())
    console.print(f"maintenance window {window_id} ended")


def register(app: typer.Typer) -> None:
    """Add the alert, silence and maintenance commands to ``app``."""
    app.add_typer(alert_app, name="alert")
    app.add_typer(silence_app, name="silence")
    app.add_typer(maintenance_app, name="maintenance")
