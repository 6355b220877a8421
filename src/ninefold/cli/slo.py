"""SLO commands: ``slo list``, ``slo status``, ``slo alerts``, ``slo evaluate`` and ``gate``."""

from __future__ import annotations

from datetime import datetime

import typer
from rich.table import Table

from ninefold.cli.common import Output, console, fail, print_json, session_scope, settings
from ninefold.clock_utils import parse_time
from ninefold.core.clock import SystemClock
from ninefold.errors import NinefoldError
from ninefold.slo import flows, jobs, store
from ninefold.slo.schemas import SLOStatus
from ninefold.slo.wiring import prometheus_source

slo_app = typer.Typer(
    help="Service level objectives: list, status, alerts, evaluate.", no_args_is_help=True
)

_STATUS_STYLE = {
    "healthy": "green",
    "warning": "yellow",
    "critical": "bold red",
    "exhausted": "bold red",
    "no_data": "dim",
    "stale": "magenta",
}


def _at(at: str | None) -> datetime:
    if at is None:
        return SystemClock().now()
    try:
        return parse_time(at)
    except NinefoldError as exc:
        raise typer.BadParameter(exc.message, param_hint="--at") from None


def _pct(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _tte(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds <= 0:
        return "spent"
    if seconds >= 86400:
        return f"{seconds / 86400:.1f}d"
    return f"{seconds / 3600:.1f}h"


@slo_app.command("list")
def list_(
    service: str | None = typer.Option(None, "--service", "-s"),
    team: str | None = typer.Option(None, "--team", "-t"),
    output: Output = typer.Option(Output.table, "--output", "-o"),
) -> None:
    """List SLO definitions."""
    with session_scope() as session:
        rows, _ = store.list_slos(session, service=service, team=team)
        data = [
            {
                "name": s.name,
                "service": s.service.name,
                "team": s.service.owner.name,
                "objective": s.objective,
                "sli": s.sli_kind,
                "source": s.source,
                "budgeting": s.budgeting,
                "window": s.spec.get("window", {}),
            }
            for s in rows
        ]
    if output == Output.json:
        print_json(data)
        return
    table = Table("SLO", "service", "team", "objective", "SLI", "source", "budgeting", "window")
    for d in data:
        window = d["window"]
        label = window.get("rolling") or f"{window.get('calendar')} ({window.get('timezone')})"
        table.add_row(
            str(d["name"]),
            str(d["service"]),
            str(d["team"]),
            _pct(float(d["objective"]), 2),
            str(d["sli"]),
            str(d["source"]),
            str(d["budgeting"]),
            str(label),
        )
    console.print(table)


@slo_app.command()
def status(
    service: str | None = typer.Option(None, "--service", "-s"),
    team: str | None = typer.Option(None, "--team", "-t"),
    at: str | None = typer.Option(
        None, "--at", help="evaluate at this time, e.g. 2026-11-01T00:00:00Z"
    ),
    output: Output = typer.Option(Output.table, "--output", "-o"),
) -> None:
    """Evaluate SLOs now (or at --at): SLI, error budget, burn rates, status."""
    when = _at(at)
    cfg = settings()
    with session_scope(cfg) as session:
        rows, _ = store.list_slos(session, service=service, team=team)
        statuses = flows.evaluate_slos(
            session, slos=rows, at=when, prometheus=prometheus_source(cfg)
        )
    if output == Output.json:
        print_json([s.model_dump(mode="json") for s in statuses])
        return
    _print_statuses(statuses, when)


def _print_statuses(statuses: list[SLOStatus], when: datetime) -> None:
    table = Table(
        "SLO",
        "service",
        "objective",
        "SLI",
        "budget left",
        "burn 1h",
        "burn 6h",
        "burn 3d",
        "exhausted in",
        "status",
        title=f"SLO status at {when.isoformat()}",
    )
    for st in statuses:
        style = _STATUS_STYLE.get(st.status, "")
        table.add_row(
            st.name,
            st.service,
            _pct(st.objective, 2),
            _pct(st.sli),
            _pct(st.error_budget_remaining_fraction, 1),
            _rate(st.burn_rates.get("1h")),
            _rate(st.burn_rates.get("6h")),
            _rate(st.burn_rates.get("3d")),
            _tte(st.time_to_exhaustion_seconds),
            f"[{style}]{st.status}[/]",
        )
    console.print(table)
    for st in statuses:
        if st.error:
            console.print(f"[magenta]{st.name}[/]: {st.error}")


@slo_app.command()
def alerts(
    name: str = typer.Argument(..., help="SLO name"),
    output: Output = typer.Option(Output.table, "--output", "-o"),
) -> None:
    """Recorded burn-rate alert transitions of an SLO."""
    with session_scope() as session:
        slo = store.get_slo(session, name=name)
        rows, _ = store.alert_events(session, slo_id=slo.id, limit=200)
        data = [
            {
                "at": r.at,
                "severity": r.severity,
                "state": r.state,
                "reason": r.reason,
                "burn_rates": r.burn_rates,
            }
            for r in rows
        ]
    if output == Output.json:
        print_json(data)
        return
    table = Table("at", "severity", "state", "reason")
    for d in data:
        table.add_row(str(d["at"]), str(d["severity"]), str(d["state"]), str(d["reason"]))
    console.print(table)


@slo_app.command()
def evaluate(
    at: str | None = typer.Option(None, "--at", help="evaluate at this time instead of now"),
) -> None:
    """Run one engine evaluation: evaluate every SLO, record alert transitions, raise their alerts."""
    from ninefold.alert.dispatch import load_routing

    when = _at(at)
    cfg = settings()
    try:
        routing = load_routing(cfg.routing_file) if cfg.routing_file else None
    except NinefoldError as exc:
        fail(exc.message, 2)
    with session_scope(cfg) as session:
        outcome = jobs.evaluate(
            session,
            when,
            prometheus=prometheus_source(cfg),
            routing=routing,
            public_url=cfg.public_url,
        )
    console.print(
        f"evaluated {len(outcome.statuses)} SLOs at {when.isoformat()}: "
        f"{len(outcome.events)} alert transitions, {outcome.queued} notifications queued"
    )


def gate(
    service: str = typer.Argument(..., help="service name"),
    at: str | None = typer.Option(None, "--at", help="decide at this time instead of now"),
    output: Output = typer.Option(Output.table, "--output", "-o"),
) -> None:
    """Release gate for CI: exit 0 while the service's SLOs have budget, 1 otherwise."""
    when = _at(at)
    cfg = settings()
    with session_scope(cfg) as session:
        result = flows.gate(
            session,
            service_name=service,
            at=when,
            prometheus=prometheus_source(cfg),
            default_min_budget=cfg.default_gate_min_budget,
        )
    if output == Output.json:
        print_json(result.model_dump(mode="json"))
    else:
        mark = "[green]ALLOWED[/]" if result.allowed else "[bold red]BLOCKED[/]"
        console.print(f"{mark} {result.reason}", highlight=False)
    if not result.allowed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the SLO commands to ``app``."""
    app.add_typer(slo_app, name="slo")
    app.command("gate")(gate)
