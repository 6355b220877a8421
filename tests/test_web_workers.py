"""``ninefold serve --workers N``: web-only worker apps, the engine once in the parent process."""

from __future__ import annotations

import json
import threading

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from ninefold.app import create_app
from ninefold.cli import serve
from ninefold.cli.main import app as cli_app
from ninefold.config import Settings
from ninefold.core.clock import FrozenClock


def _engine_threads() -> set[str]:
    names = {"ninefold-engine", "ninefold-delivery", "ninefold-intake"}
    return {t.name for t in threading.enumerate() if t.name in names and t.is_alive()}


def test_worker_apps_serve_requests_without_an_engine(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = settings.model_copy(update={"engine_enabled": True, "public_url": "https://nf.example"})
    monkeypatch.setenv(serve.WORKER_SETTINGS, json.dumps(cfg.model_dump(mode="json")))
    before = _engine_threads()
    app = serve.worker_app()
    assert app.state.settings == cfg  # the parent's settings, as given on its command line
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/ui/login").status_code == 200
        assert app.state.engine_runner is None
        assert _engine_threads() == before


def test_the_parent_runs_the_engine_once_and_stops_it(
    settings: Settings, engine: Engine, clock: FrozenClock
) -> None:
    app = create_app(settings, clock=clock, engine=engine, start_engine=True)
    assert not _engine_threads()
    with serve.EngineHost(app):
        runner = app.state.engine_runner
        assert runner is not None
        assert _engine_threads() == {"ninefold-engine", "ninefold-delivery", "ninefold-intake"}
    assert not _engine_threads()


def test_workers_option_is_checked() -> None:
    r = CliRunner().invoke(cli_app, ["serve", "--workers", "0"])
    assert r.exit_code == 2
    assert "--workers" in r.output
