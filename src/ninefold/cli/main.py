"""The ``ninefold`` command."""

from __future__ import annotations

import typer

from ninefold import __version__
from ninefold.cli import (
    alerts,
    audit,
    catalog,
    db,
    demo,
    incident,
    oncall,
    postmortem,
    report,
    rules,
    serve,
    slo,
    token,
    user,
)

app = typer.Typer(
    name="ninefold",
    help="ninefold: SLOs, error budgets and the service catalog, self-hosted.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db.app, name="db")
app.add_typer(token.app, name="token")
app.command("serve")(serve.serve)
app.command("demo")(demo.demo)
catalog.register(app)
slo.register(app)
rules.register(app)
alerts.register(app)
oncall.register(app)
audit.register(app)
incident.register(app)
report.register(app)
postmortem.register(app)
user.register(app)


@app.command()
def version() -> None:
    """Print ninefold's version."""
    print(__version__)


def main() -> None:
    """Console-script entry point."""
    app()
