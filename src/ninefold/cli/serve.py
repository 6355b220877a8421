"""``ninefold serve``: API, engine and (later) web UI in one process."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

import typer
import uvicorn

from ninefold.cli import workers as web_workers
from ninefold.cli.common import console, engine_for, fail, settings
from ninefold.db import migrate
from ninefold.db.engine import make_session_factory
from ninefold.engine import wake
from ninefold.engine.wake import WakeListener
from ninefold.errors import NinefoldError


def serve(
    config_dir: Path | None = typer.Option(
        None, "--config-dir", help="apply this catalog YAML directory first"
    ),
    host: str | None = typer.Option(None, "--host"),
    port: int | None = typer.Option(None, "--port"),
    workers: int = typer.Option(
        1,
        "--workers",
        envvar="NINEFOLD_WORKERS",
        min=1,
        max=64,
        help="web worker processes; above 1 the engine runs once, in the parent process",
    ),
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
        f"ninefold serving on http://{cfg.host}:{cfg.port} (database: {engine.dialect.name}"
        + (f", {workers} web workers)" if workers > 1 else ")")
    )
    if workers == 1:
        uvicorn.run(app, host=cfg.host, port=cfg.port, log_level=cfg.log_level)
        return
    # Several processes serve requests (one Python process uses one core); none of them runs
    # the engine. This process runs it, exactly once, as it would with one worker.
    os.environ[WORKER_SETTINGS] = json.dumps(cfg.model_dump(mode="json"))
    wakes = WakeListener(app.state).start()  # workers wake this process's engine at once
    os.environ[wake.PORT_VARIABLE] = str(wakes.port)
    with EngineHost(app):
        if not web_workers.supported():  # one shared socket (uvicorn's supervisor)
            uvicorn.run(
                f"{__name__}:worker_app",
                factory=True,
                workers=workers,
                host=cfg.host,
                port=cfg.port,
                log_level=cfg.log_level,
            )
            return
        try:
            web_workers.check_free(cfg.host, cfg.port)
        except OSError as exc:
            fail(f"cannot listen on {cfg.host}:{cfg.port}: {exc.strerror or exc}", 1)
        web_workers.Supervisor(
            f"{__name__}:worker_app", workers, cfg.host, cfg.port, cfg.log_level
        ).run()


WORKER_SETTINGS = "_NINEFOLD_WORKER_SETTINGS"
"""Environment variable handing the settings to the worker processes (JSON)."""


def worker_app() -> Any:
    """The app of one web worker of ``serve --workers N``: requests only, no engine."""
    from ninefold.app import create_app
    from ninefold.config import Settings

    cfg = Settings(**json.loads(os.environ[WORKER_SETTINGS]))
    app = create_app(cfg, start_engine=False)
    # What the app holds from here on (modules, mappers, schemas) lives as long as the process:
    # out of the cyclic GC's full collections, which stall every request of the worker while
    # they run (as the engine does at its start, ninefold.engine.runner).
    gc.collect()
    gc.freeze()
    port = os.environ.get(wake.PORT_VARIABLE)
    if port:
        app.state.engine_runner = wake.RemoteEngine(int(port))
    return app


class EngineHost:
    """Run ``app``'s lifespan (and so its engine) in a thread, without serving requests."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ninefold-engine-host", daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            async with self._app.router.lifespan_context(self._app):
                self._started.set()
                await self._stop.wait()

        try:
            self._loop.run_until_complete(main())
        finally:
            self._started.set()

    def __enter__(self) -> EngineHost:
        self._thread.start()
        self._started.wait()
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=60)
