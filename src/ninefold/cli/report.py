"""``ninefold report``: the reliability scorecard of a period as HTML, PDF, Markdown, CSV or JSON."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from ninefold.cli.common import err_console, fail, session_scope
from ninefold.core.clock import SystemClock
from ninefold.errors import NinefoldError
from ninefold.report import render
from ninefold.report.flows import STEPS, scorecard
from ninefold.report.pdf import html_to_pdf
from ninefold.report.period import parse_period, previous_period


def report(
    period: str | None = typer.Option(
        None,
        "--period",
        "-p",
        help="2026-10, 2026-W43, 2026-Q4 or START..END (default: last month)",
    ),
    team: str | None = typer.Option(None, "--team", "-t"),
    service: str | None = typer.Option(None, "--service", "-s"),
    tier: int | None = typer.Option(None, "--tier"),
    fmt: str = typer.Option("html", "--format", "-f", help="html, pdf, md, csv or json"),
    output: Path | None = typer.Option(None, "--output", "-o", help="file (default: stdout)"),
) -> None:
    """Compute the reliability scorecard (SLOs, incidents, on-call, DORA) and render it."""
    if fmt not in render.FORMATS:
        fail(f"--format: one of {', '.join(render.FORMATS)}", 2)
    if fmt == "pdf" and output is None:
        fail("--format pdf needs --output FILE", 2)
    now = SystemClock().now()
    try:
        span = parse_period(period) if period else previous_period("month", now)
    except NinefoldError as exc:
        fail(exc.message, 2)
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )
    with progress:
        task = progress.add_task(f"report {span.label}", total=len(STEPS) + 1)

        def advance(name: str) -> None:
            progress.update(task, advance=1, description=f"report {span.label}: {name}")

        with session_scope() as session:
            card = scorecard(
                session,
                period=span,
                now=now,
                team=team,
                service=service,
                tier=tier,
                progress=advance,
            )
        data: str | bytes
        try:
            if fmt == "json":
                data = render.to_json(card)
            elif fmt == "csv":
                data = render.to_csv(card)
            elif fmt == "md":
                data = render.to_markdown(card)
            elif fmt == "html":
                data = render.to_html(card)
            else:
                data = html_to_pdf(render.to_html(card))
        except NinefoldError as exc:
            fail(exc.message)
        progress.update(task, advance=1, description=f"report {span.label}: rendered")
    if output is None:
        assert isinstance(data, str)
        sys.stdout.write(data)
        return
    if isinstance(data, bytes):
        output.write_bytes(data)
    else:
        output.write_text(data, encoding="utf-8")
    err_console.print(f"wrote {output} ({fmt})")


def register(app: typer.Typer) -> None:
    """Add ``ninefold report`` to ``app``."""
    app.command("report")(report)
