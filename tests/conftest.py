"""Test fixtures: databases built by migrations (SQLite always, PostgreSQL when configured)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from ninefold.app import create_app
from ninefold.config import Settings
from ninefold.core.clock import FrozenClock
from ninefold.db import migrate
from ninefold.db.engine import make_engine, make_session_factory
from ninefold.identity import store as identity_store

# Property tests must not fail because a busy CI machine was slow: no per-example deadline.
hypothesis_settings.register_profile("ninefold", deadline=None)
hypothesis_settings.load_profile("ninefold")

PG_URL = os.environ.get("NINEFOLD_TEST_POSTGRES_URL")
T0 = datetime(2026, 11, 1, tzinfo=UTC)
_pg_tests_passed = 0


def _pg_url_with_schema(schema: str) -> str:
    assert PG_URL is not None
    url = PG_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tpl") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def _pg_schema() -> Iterator[str]:
    assert PG_URL is not None
    schema = f"t_{uuid.uuid4().hex[:10]}"
    admin = make_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(_pg_url_with_schema(schema))
    migrate.upgrade(engine)
    engine.dispose()
    yield schema
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _backends() -> list[object]:
    return [
        "sqlite",
        pytest.param(
            "postgresql",
            marks=pytest.mark.skipif(not PG_URL, reason="NINEFOLD_TEST_POSTGRES_URL not set"),
        ),
    ]


@pytest.fixture(params=_backends())
def db_url(request: pytest.FixtureRequest, tmp_path: Path, _sqlite_template: Path) -> Iterator[str]:
    """A migrated, empty database URL on each backend."""
    global _pg_tests_passed
    if request.param == "sqlite":
        path = tmp_path / "ninefold.db"
        shutil.copy(_sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    schema = request.getfixturevalue("_pg_schema")
    url = _pg_url_with_schema(schema)
    yield url
    engine = make_engine(url)
    if migrate.current_revision(engine) != migrate.head_revision():
        migrate.upgrade(engine)  # a test went down the migration chain
    with engine.begin() as conn:
        tables = (
            conn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = :s AND tablename <> 'alembic_version'"
                ),
                {"s": schema},
            )
            .scalars()
            .all()
        )
        if tables:
            conn.execute(
                text(
                    "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"
                )
            )
    engine.dispose()
    _pg_tests_passed += 1


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on the test database."""
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory on the test database."""
    return make_session_factory(engine)


@pytest.fixture
def clock() -> FrozenClock:
    """A frozen clock at 2026-11-01T00:00Z."""
    return FrozenClock(T0)


@pytest.fixture
def settings(db_url: str) -> Settings:
    """Settings pointing at the test database, engine loop off."""
    return Settings(database_url=db_url, engine_enabled=False)


@pytest.fixture
def client(settings: Settings, engine: Engine, clock: FrozenClock) -> Iterator[TestClient]:
    """A TestClient on a fresh app."""
    app = create_app(settings, clock=clock, engine=engine, start_engine=False)
    with TestClient(app) as tc:
        yield tc


def make_token(factory: sessionmaker[Session], role: str, now: datetime = T0) -> str:
    """Create a token with ``role`` and return its secret."""
    with factory() as session, session.begin():
        _, secret = identity_store.create_token(session, name=f"test-{role}", role=role, now=now)
    return secret


@pytest.fixture
def admin_headers(session_factory: sessionmaker[Session]) -> dict[str, str]:
    """Authorization headers of an admin token."""
    return {"Authorization": f"Bearer {make_token(session_factory, 'admin')}"}


@pytest.fixture
def responder_headers(session_factory: sessionmaker[Session]) -> dict[str, str]:
    """Authorization headers of a responder token."""
    return {"Authorization": f"Bearer {make_token(session_factory, 'responder')}"}


@pytest.fixture
def viewer_headers(session_factory: sessionmaker[Session]) -> dict[str, str]:
    """Authorization headers of a viewer token."""
    return {"Authorization": f"Bearer {make_token(session_factory, 'viewer')}"}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With NINEFOLD_REQUIRE_POSTGRES=1, fail the run if no PostgreSQL test ran."""
    required = os.environ.get("NINEFOLD_REQUIRE_POSTGRES") == "1"
    if required and _pg_tests_passed == 0 and not hasattr(session.config, "workerinput"):
        print("\nERROR: NINEFOLD_REQUIRE_POSTGRES=1 but no PostgreSQL test ran")
        session.exitstatus = 1
