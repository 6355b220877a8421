"""Catalog commands: validate, apply, import, export."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from ninefold.catalog.flows import Diff, apply_directory, export_catalog
from ninefold.catalog.importers import ImportFailed, to_yaml
from ninefold.catalog.importers.backstage import import_backstage
from ninefold.catalog.importers.openslo import import_openslo
from ninefold.catalog.importers.sloth import import_sloth
from ninefold.catalog.loader import Catalog, CatalogError, Problem, load_directory
from ninefold.catalog.validate import all_problems
from ninefold.cli.common import console, err_console, fail, session_scope

_OP_STYLE = {"create": "green", "update": "yellow", "delete": "red"}


class Format(StrEnum):
    """Formats ``ninefold import`` reads."""

    backstage = "backstage"
    openslo = "openslo"
    sloth = "sloth"


def _print_problems(problems: list[str]) -> None:
    for line in problems:
        err_console.print(escape(line), highlight=False, soft_wrap=True)


def validate(
    directory: Path = typer.Argument(..., help="catalog directory of YAML files"),
    prometheus: str | None = typer.Option(
        None, "--prometheus", help="also have this Prometheus evaluate every SLO query once"
    ),
) -> None:
    """Check a catalog directory; print every problem as file:line:column: message."""
    catalog = load_directory(directory)
    problems = all_problems(catalog)
    if prometheus and not problems:
        problems = _prometheus_problems(catalog, prometheus)
    if problems:
        _print_problems([str(p) for p in problems])
        count = len(problems)
        err_console.print(
            f"[bold red]invalid:[/] {count} problem{'s' if count != 1 else ''} "
            f"in {escape(str(directory))}"
        )
        raise typer.Exit(1)
    console.print(
        f"[bold green]valid:[/] {escape(str(directory))}: {len(catalog.files)} files, "
        f"{len(catalog.users)} users, {len(catalog.teams)} teams, "
        f"{len(catalog.services)} services, {len(catalog.slos)} SLOs, "
        f"{len(catalog.schedules)} schedules, "
        f"{len(catalog.escalation_policies)} escalation policies",
        highlight=False,
    )


def _prometheus_problems(catalog: Catalog, url: str) -> list[Problem]:
    """Problems Prometheus finds in the queries of ``source: prometheus`` SLOs."""
    from ninefold.errors import InvalidInput, UpstreamError
    from ninefold.slo.prometheus import PrometheusSource

    out: list[Problem] = []
    with PrometheusSource(url, timeout=10) as source:
        for entry in catalog.slos:
            if entry.spec.source != "prometheus":
                continue
            try:
                source.check_query(entry.spec)
            except InvalidInput as exc:
                out.append(entry.problem(exc.message, "sli"))
            except UpstreamError as exc:
                fail(exc.message, 2)
    return out


def _print_diff(diff: Diff, *, dry_run: bool) -> None:
    verb = "would change" if dry_run else "changed"
    if diff.empty:
        console.print("[green]up to date:[/] no changes")
        return
    table = Table(title=f"catalog diff ({'dry run' if dry_run else 'applied'})")
    table.add_column("op")
    table.add_column("kind")
    table.add_column("name")
    table.add_column("changed fields")
    for change in diff.changes:
        style = _OP_STYLE.get(change.op, "")
        table.add_row(
            f"[{style}]{change.op}[/]",
            change.kind,
            escape(change.name),
            escape(", ".join(change.fields)),
        )
    console.print(table)
    console.print(f"{verb}: {diff.summary()}")


def apply(
    directory: Path = typer.Argument(..., help="catalog directory of YAML files"),
    dry_run: bool = typer.Option(False, "--dry-run", help="show the diff, change nothing"),
) -> None:
    """Sync a catalog directory into the database in one transaction and print the diff."""
    problems = all_problems(load_directory(directory))
    if problems:
        _print_problems([str(p) for p in problems])
        fail(f"{len(problems)} problem(s) in {escape(str(directory))}; nothing applied")
    with session_scope() as session:
        try:
            diff = apply_directory(session, directory, dry_run=dry_run)
        except CatalogError as exc:
            _print_problems([str(p) for p in exc.problems])
            fail("nothing applied")
    _print_diff(diff, dry_run=dry_run)


def import_(
    fmt: Format = typer.Argument(..., metavar="FORMAT", help="backstage, openslo or sloth"),
    file: Path = typer.Argument(..., help="the file to import"),
    out: Path | None = typer.Option(None, "--output", "-o", help="write here instead of stdout"),
    owner: str | None = typer.Option(
        None, "--owner", help="team owning imported services (openslo, sloth)"
    ),
) -> None:
    """Convert a Backstage, OpenSLO v1 or Sloth file to ninefold catalog YAML."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {escape(str(file))}: {escape(str(exc))}")
    warnings: list[str] = []
    try:
        if fmt is Format.backstage:
            config = import_backstage(text, source=str(file), warnings=warnings)
        elif fmt is Format.openslo:
            config = import_openslo(
                text, source=str(file), owner=owner or "unowned", warnings=warnings
            )
        else:
            config = import_sloth(text, source=str(file), owner=owner, warnings=warnings)
    except ImportFailed as exc:
        fail(escape(exc.message))
    for warning in warnings:
        err_console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)
    rendered = to_yaml(config, header=f"Imported by ninefold from {file.name} ({fmt.value}).")
    if out is None:
        print(rendered, end="")
        return
    try:
        out.write_text(rendered, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {escape(str(out))}: {escape(str(exc))}")
    err_console.print(f"wrote {escape(str(out))}", highlight=False)


def export(
    out: Path | None = typer.Option(None, "--output", "-o", help="write here instead of stdout"),
) -> None:
    """Dump the database's users, teams, services, SLOs, notification channels, schedules,
    escalation policies and notification rules as ninefold catalog YAML."""
    with session_scope() as session:
        data = export_catalog(session)
    rendered = to_yaml(data, header="Exported by ninefold.") if data else "{}\n"
    if out is None:
        print(rendered, end="")
        return
    try:
        out.write_text(rendered, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {escape(str(out))}: {escape(str(exc))}")
    err_console.print(f"wrote {escape(str(out))}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the catalog commands to ``app``."""
    app.command("validate")(validate)
    app.command("apply")(apply)
    app.command("import")(import_)
    app.command("export")(export)
