"""``ninefold demo``: the quick start. Example organisation, history, live traffic, server."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import typer
import uvicorn

from ninefold.cli.common import console, fail, settings
from ninefold.errors import NinefoldError

DEMO_DB = "sqlite:///ninefold-demo.db"


def demo(
    config_dir: Path | None = typer.Option(
        None, "--config-dir", help="catalog to load (default: examples/acme)"
    ),
    days: int = typer.Option(7, "--days", min=1, max=30, help="days of history to backfill"),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8080, "--port"),
    serve: bool = typer.Option(
        True, "--serve/--no-serve", help="--no-serve: load and print status, then exit"
    ),
) -> None:
    """Load the example organisation with synthetic traffic on SQLite and serve it."""
    from ninefold.app import create_app
    from ninefold.catalog.flows import apply_directory
    from ninefold.cli.oncall import show_on_call
    from ninefold.cli.slo import _print_statuses
    from ninefold.core.clock import SystemClock
    from ninefold.db import migrate
    from ninefold.db.engine import make_engine, make_session_factory
    from ninefold.demo.runner import LiveTraffic, backfill, example_dir, wait_until_up
    from ninefold.identity import store as identity_store
    from ninefold.slo import jobs, store

    if "NINEFOLD_DATABASE_URL" not in os.environ:
        os.environ["NINEFOLD_DATABASE_URL"] = DEMO_DB
    cfg = settings().model_copy(
        update={"host": host, "port": port, "evaluation_interval_seconds": 15.0}
    )
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    directory = config_dir or example_dir()
    engine = make_engine(cfg.database_url)
    migrate.upgrade(engine)
    factory = make_session_factory(engine)
    now = SystemClock().now()
    try:
        with factory() as session, session.begin():
            diff = apply_directory(session, directory, dry_run=False)
    except NinefoldError as exc:
        fail(exc.message, 2)
    console.print(f"[bold]catalog[/] {directory}: {diff.summary()}")
    pushed = backfill(factory, days=days, anchor=now)
    console.print(f"[bold]history[/] {pushed} minute-events pushed for {days} days")
    with factory() as session, session.begin():
        statuses = jobs.run(session, SystemClock().now())
        _, admin = identity_store.create_token(session, name="demo-admin", role="admin", now=now)
        _, pusher = identity_store.create_token(
            session, name="demo-traffic", role="responder", now=now
        )
        slos = [(s.name, s.objective) for s in store.list_slos(session)[0] if s.source == "push"]
    _print_statuses(statuses, now)
    with factory() as session:
        show_on_call(session, now)
    if not serve:
        return
    base = f"http://{host}:{port}"
    console.print(
        f"\n[bold green]ninefold demo[/] on {base}  (database {cfg.database_url})\n"
        f"  admin token:  {admin}\n"
        f"  API docs:     {base}/docs\n"
        f"  SLO status:   curl -H 'Authorization: Bearer {admin}' {base}/api/v1/slos/status\n"
        f"  release gate: NINEFOLD_DATABASE_URL={cfg.database_url} ninefold gate checkout\n"
        f"  on call:      NINEFOLD_DATABASE_URL={cfg.database_url} ninefold oncall\n"
        f"  metrics:      {base}/metrics\n"
        "Live traffic is pushed every few seconds; the engine evaluates every 15 s. Ctrl-C stops."
    )
    traffic = LiveTraffic(base, pusher, slos, now)

    def _start_traffic() -> None:
        if wait_until_up(base):
            traffic.start()

    import threading

    threading.Thread(target=_start_traffic, daemon=True).start()
    app = create_app(cfg, engine=engine)
    uvicorn.run(app, host=host, port=port, log_level="warning")
    traffic.stop()
