"""``ninefold serve``: API, engine and (later) web UI in one process."""

from __future__ import annotations

import logging
from pathlib import Path

import typer
import uvicorn

from ninefold.cli.common import console, engine_for, fail, settings
from ninefold.db import migrate
from ninefold.db.engine import make_session_factory
from ninefold.errors import NinefoldError


def serve(
    config_dir: Path | None = typer.Option(
        None, "--config-dir", help="apply this catalog YAML directory first"
    ),
    host: str | None = typer.Option(None, "--host"),
    port: int | None = typer.Option(None, "--port"),
) -> None:
    """Migrate the database, optionally apply the catalog, and serve API and engine."""
    from ninefold.app import create_app
    from ninefold.identity import store as identity_store

    cfg = settings()
    overrides: dict[str, object] = {}
    if config_dir is not None:
        overrides["config_dir"] = config_dir
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    if overrides:
        cfg = cfg.model_copy(update=overrides)
    logging.basicConfig(
        level=cfg.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    engine = engine_for(cfg)
    migrate.upgrade(engine)
    factory = make_session_factory(engine)
    if cfg.config_dir is not None:
        from ninefold.catalog.flows import apply_directory

        try:
            with factory() as session, session.begin():
                diff = apply_directory(session, cfg.config_dir, dry_run=False)
        except NinefoldError as exc:
            fail(exc.message, 2)
        console.print(f"applied {cfg.config_dir}: {diff.summary()}")
    with factory() as session:
        if identity_store.count_tokens(session) == 0:
            console.print(
                "[bold yellow]No API tokens yet.[/] Create the first admin token with:\n"
                "  ninefold token create --name admin --role admin"
            )
    app = create_app(cfg, engine=engine)
    console.print(
        f"ninefold serving on http://{cfg.host}:{cfg.port} (database: {engine.dialect.name})"
    )
    uvicorn.run(app, host=cfg.host, port=cfg.port, log_level=cfg.log_level)
