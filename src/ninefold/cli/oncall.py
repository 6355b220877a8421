"""On-call commands on the configured database (like ``ninefold slo`` and ``ninefold alert``).

``ninefold oncall`` (who is on call), ``ninefold schedule list|show|shifts|override`` and
``ninefold escalation list``. Times are read as RFC 3339; tables show them in the schedule's time
zone, ``-o json`` in UTC.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy.orm import Session

from ninefold.alert import store as alert_store
from ninefold.cli.common import Output, console, print_json, session_scope
from ninefold.clock_utils import parse_time
from ninefold.core.clock import SystemClock
from ninefold.errors import NinefoldError
from ninefold.oncall import flows, store
from ninefold.oncall.models import EscalationPolicyRow, EscalationRow, ScheduleRow
from ninefold.oncall.rotation import Schedule, next_shifts, on_call_at, shifts

schedule_app = typer.Typer(
    help="On-call schedules: list, show, shifts, override.", no_args_is_help=True
)
escalation_app = typer.Typer(
    help="Escalations of alert groups (list) and escalation policies (policies, policy).",
    no_args_is_help=True,
)

_HORIZON = timedelta(days=31)
_STATUS_STYLE = {
    "triggered": "bold red",
    "acknowledged": "yellow",
    "snoozed": "magenta",
    "resolved": "green",
}


def _time(value: str | None, option: str) -> datetime:
    if value is None:
        return SystemClock().now()
    try:
        return parse_time(value)
    except NinefoldError as exc:
        raise typer.BadParameter(exc.message, param_hint=option) from None


def _local(value: datetime | None, zone: str) -> str:
    if value is None:
        return "—"
    return value.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")


def _actor() -> str:
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _until(sched: Schedule, at: datetime) -> datetime | None:
    """When the current shift at ``at`` ends (None: nobody on call, or not within 31 days)."""
    for shift in shifts(sched, at, at + _HORIZON):
        if shift.start <= at < shift.end:
            return shift.end if shift.end < at + _HORIZON else None
        break
    return None


def _on_call_rows(rows: Any, at: datetime, team: str | None) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        owner = row.team.name if row.team else None
        if team is not None and owner != team:
            continue
        sched = flows.schedule_of(row)
        users = on_call_at(sched, at)
        out.append(
            {
                "schedule": row.name,
                "team": owner,
                "time_zone": row.time_zone,
                "at": at,
                "users": users,
                "until": _until(sched, at) if users else None,
            }
        )
    return out


def oncall(
    at: str | None = typer.Option(None, "--at", help="at this time instead of now (RFC 3339)"),
    team: str | None = typer.Option(None, "--team", "-t", help="only this team's schedules"),
    output: Output = typer.Option(Output.table, "--output", "-o"),
) -> None:
    """Who is on call now (or --at) on every schedule."""
    when = _time(at, "--at")
    with session_scope() as session:
        if team is not None:
            store.team_by_name(session, name=team)  # NotFound for an unknown team
        data = _on_call_rows(store.list_schedules(session), when, team)
    if output == Output.json:
        print_json(data)
        return
    _print_on_call(data, when)


def show_on_call(session: Session, when: datetime) -> None:
    """Print who is on call at ``when`` on every schedule (``ninefold demo`` uses it too)."""
    _print_on_call(_on_call_rows(store.list_schedules(session), when, None), when)


def _print_on_call(data: list[dict[str, Any]], when: datetime) -> None:
    table = Table("schedule", "team", "on call", "until", title=f"on call at {when.isoformat()}")
    for d in data:
        table.add_row(
            escape(d["schedule"]),
            escape(d["team"] or "—"),
            escape(", ".join(d["users"])) if d["users"] else "[dim]nobody[/]",
            _local(d["until"], d["time_zone"]),
        )
    console.print(table)


def _schedule_dict(row: ScheduleRow, at: datetime) -> dict[str, Any]:
    sched = flows.schedule_of(row)
    return {
        "name": row.name,
        "team": row.team.name if row.team else None,
        "time_zone": row.time_zone,
        "description": row.description,
        "managed": row.managed,
        "layers": row.layers,
        "overrides": [
            {
                "id": o.id,
                "user": o.user_name,
                "start": o.starts_at,
                "end": o.ends_at,
                "created_by": o.created_by,
            }
            for o in row.overrides
            if o.ends_at > at
        ],
        "on_call_now": on_call_at(sched, at),
        "until": _until(sched, at),
    }


@schedule_app.command("list")
def schedule_list(
    output: Output = typer.Option(Output.table, "--output", "-o"),
) -> None:
    """Every schedule, with who is on call now."""
    now = SystemClock().now()
    with session_scope() as session:
        data = [_schedule_dict(r, now) for r in store.list_schedules(session)]
    if output == Output.json:
        print_json(data)
        return
    table = Table("schedule", "team", "time zone", "layers", "on call now", "until", "managed")
    for d in data:
        table.add_row(
            escape(d["name"]),
            escape(d["team"] or "—"),
            d["time_zone"],
            str(len(d["layers"])),
            escape(", ".join(d["on_call_now"])) or "[dim]nobody[/]",
            _local(d["until"], d["time_zone"]),
            "yes" if d["managed"] else "",
        )
    console.print(table)


@schedule_app.command("show")
def schedule_show(
    name: str = typer.Argument(..., help="schedule name"),
    at: str | None = typer.Option(None, "--at", help="who is on call at this time"),
    output: Output = typer.Option(Output.table, "--output", "-o"),
) -> None:
    """One schedule: layers, upcoming overrides, who is on call."""
    when = _time(at, "--at")
    with session_scope() as session:
        data = _schedule_dict(store.get_schedule(session, name=name), when)
    if output == Output.json:
        print_json(data)
        return
    zone = data["time_zone"]
    info = Table(show_header=False, box=None)
    info.add_row("[bold]schedule[/]", escape(data["name"]))
    info.add_row("[bold]team[/]", escape(data["team"] or "—"))
    info.add_row("[bold]time zone[/]", zone)
    if data["description"]:
        info.add_row("[bold]description[/]", escape(data["description"]))
    info.add_row("[bold]managed[/]", "yes (ninefold apply)" if data["managed"] else "no")
    on_call = ", ".join(data["on_call_now"]) or "nobody"
    info.add_row("[bold]on call[/]", f"{escape(on_call)} until {_local(data['until'], zone)}")
    console.print(info)
    layers = Table("layer", "rotation", "length", "participants", "restrictions", title="layers")
    for i, layer in enumerate(data["layers"]):
        layers.add_row(
            escape(str(layer.get("name") or f"layers[{i}]")),
            str(layer.get("rotation", "weekly")),
            str(layer.get("turn_length") or layer.get("length", 1)),
            escape(", ".join(str(p) for p in layer.get("participants") or [])),
            str(len(layer.get("restrictions") or [])) if layer.get("restrictions") else "",
        )
    console.print(layers)
    if data["overrides"]:
        overrides = Table("id", "user", "start", "end", "by", title="overrides")
        for o in data["overrides"]:
            overrides.add_row(
                str(o["id"]),
                escape(o["user"]),
                _local(o["start"], zone),
                _local(o["end"], zone),
                escape(o["created_by"]),
            )
        console.print(overrides)


@schedule_app.command("shifts")
def schedule_shifts(
    name: str = typer.Argument(..., help="schedule name"),
    user: str | None = typer.Option(None, "--user", "-u", help="only this person's shifts"),
    days: int = typer.Option(14, "--days", min=1, max=366, help="how far ahead"),
    start: str | None = typer.Option(None, "--start", help="from this time instead of now"),
    output: Output = typer.Option(Output.table, "--output", "-o"),
) -> None:
    """Who is on call when over the next --days (from --start or now)."""
    lo = _time(start, "--start")
    hi = lo + timedelta(days=days)
    with session_scope() as session:
        row = store.get_schedule(session, name=name)
        zone = row.time_zone
        sched = flows.schedule_of(row)
    if user is not None:
        # the person's shifts starting within the range, each in full (up to 31 days past it)
        upcoming = next_shifts(sched, user, lo, 1000, horizon=hi - lo + _HORIZON)
        found = [s for s in upcoming if s.start < hi]
    else:
        found = shifts(sched, lo, hi)
    data: list[dict[str, Any]] = [
        {"user": s.user, "start": s.start, "end": s.end, "source": s.label} for s in found
    ]
    if output == Output.json:
        print_json(data)
        return
    table = Table("user", "start", "end", "hours", "source", title=f"{name} ({zone})")
    for d in data:
        hours = (d["end"] - d["start"]).total_seconds() / 3600
        table.add_row(
            escape(d["user"]),
            _local(d["start"], zone),
            _local(d["end"], zone),
            f"{hours:g}",
            escape(d["source"]),
        )
    console.print(table)
    if not data:
        console.print(f"no shifts {'for ' + escape(user) + ' ' if user else ''}in {days} days")


@schedule_app.command("override")
def schedule_override(
    name: str = typer.Argument(..., help="schedule name"),
    user: str = typer.Option(..., "--user", "-u", help="who takes the schedule"),
    start: str = typer.Option(..., "--start", help="RFC 3339, e.g. 2026-11-02T09:00:00+01:00"),
    end: str = typer.Option(..., "--end", help="RFC 3339"),
    output: Output = typer.Option(Output.table, "--output", "-o"),
) -> None:
    """Put --user on call on a schedule from --start to --end (overrides win over layers)."""
    lo, hi = _time(start, "--start"), _time(end, "--end")
    with session_scope() as session:
        row = flows.add_override(
            session,
            schedule=name,
            user=user,
            start=lo,
            end=hi,
            actor=_actor(),
            now=SystemClock().now(),
        )
        zone = row.schedule.time_zone
        data = {
            "id": row.id,
            "schedule": name,
            "user": row.user_name,
            "start": row.starts_at,
            "end": row.ends_at,
            "created_by": row.created_by,
        }
    if output == Output.json:
        print_json(data)
        return
    console.print(
        f"override {data['id']}: {escape(user)} is on call on {escape(name)} from "
        f"{_local(lo, zone)} to {_local(hi, zone)}",
        highlight=False,
    )


def _escalation_dict(session: Session, row: EscalationRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "group_id": row.group_id,
        "policy": row.policy.name if row.policy else None,
        "status": row.status,
        "level": row.level,
        "loop": row.loop,
        "level_started_at": row.level_started_at,
        "next_step_at": row.next_step_at,
        "paged": list(row.paged),
        "assignee": row.assignee,
        "acknowledged_at": row.acknowledged_at,
        "acknowledged_by": row.acknowledged_by,
        "resolved_at": row.resolved_at,
        "alert_ids": [a.id for a in alert_store.group_alerts(session, group_id=row.group_id)],
    }


@escalation_app.command("list")
def escalation_list(
    status: str | None = typer.Option(
        None, "--status", help="triggered, acknowledged, snoozed or resolved"
    ),
    limit: int = typer.Option(50, "--limit", min=1, max=500),
    output: Output = typer.Option(Output.table, "--output", "-o"),
) -> None:
    """Escalations of alert groups, newest first."""
    statuses = ("triggered", "acknowledged", "snoozed", "resolved")
    if status is not None and status not in statuses:
        raise typer.BadParameter(f"one of {', '.join(statuses)}", param_hint="--status")
    with session_scope() as session:
        rows = store.list_escalations(session, status=status, limit=limit)
        data = [_escalation_dict(session, r) for r in rows]
    if output == Output.json:
        print_json(data)
        return
    table = Table("id", "policy", "status", "level", "paged", "alerts", "next step", "ack by")
    for d in data:
        level = f"{d['level'] + 1}" + (f" (loop {d['loop'] + 1})" if d["loop"] else "")
        paged = ", ".join(d["paged"]) or "—"
        if d["assignee"]:
            paged = f"{d['assignee']} (reassigned)"
        table.add_row(
            str(d["id"]),
            escape(d["policy"] or "—"),
            f"[{_STATUS_STYLE.get(d['status'], '')}]{d['status']}[/]",
            level,
            escape(paged),
            ", ".join(str(a) for a in d["alert_ids"]),
            _local(d["next_step_at"], "UTC"),
            escape(d["acknowledged_by"] or ""),
        )
    console.print(table)


def _policy_dict(row: EscalationPolicyRow) -> dict[str, Any]:
    return {
        "name": row.name,
        "team": row.team.name if row.team else None,
        "description": row.description,
        "repeat": row.repeat,
        "managed": row.managed,
        "levels": row.levels,
    }


def _targets(level: dict[str, Any]) -> str:
    return ", ".join(f"{k}:{v}" for t in level.get("targets") or [] for k, v in t.items())


@escalation_app.command("policies")
def policy_list(output: Output = typer.Option(Output.table, "--output", "-o")) -> None:
    """Every escalation policy: team, levels and repeat count."""
    with session_scope() as session:
        data = [_policy_dict(r) for r in store.list_policies(session)]
    if output == Output.json:
        print_json(data)
        return
    table = Table("policy", "team", "levels", "first level", "repeat", "from YAML")
    for d in data:
        first = d["levels"][0] if d["levels"] else {}
        table.add_row(
            escape(d["name"]),
            escape(d["team"] or "—"),
            str(len(d["levels"])),
            escape(_targets(first) or "—"),
            str(d["repeat"]),
            "yes" if d["managed"] else "no",
        )
    console.print(table)


@escalation_app.command("policy")
def policy_show(
    name: str = typer.Argument(..., help="the escalation policy's name"),
    output: Output = typer.Option(Output.table, "--output", "-o"),
) -> None:
    """One escalation policy, level by level: its targets (users, schedules, teams) and how
    long it waits for an acknowledgement before the next level."""
    with session_scope() as session:
        data = _policy_dict(store.get_policy(session, name=name))
    if output == Output.json:
        print_json(data)
        return
    console.print(
        f"[bold]{escape(data['name'])}[/] (team {escape(data['team'] or '—')}, repeats "
        f"{data['repeat']} more time(s))",
        highlight=False,
    )
    if data["description"]:
        console.print(escape(data["description"]), highlight=False)
    table = Table("level", "targets", "escalates after")
    for n, level in enumerate(data["levels"], start=1):
        table.add_row(str(n), escape(_targets(level)), str(level.get("delay", "30m")))
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add the on-call commands to ``app``."""
    app.command("oncall")(oncall)
    app.add_typer(schedule_app, name="schedule")
    app.add_typer(escalation_app, name="escalation")
