"""Connections and sessions: a pooled PostgreSQL connection is pinged only after sitting idle
(and replaced when the server dropped it meanwhile); a console page reads without a transaction
on PostgreSQL and may not write."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from ninefold.db import engine as db_engine
from ninefold.db.engine import ReadOnlySession, make_engine, read_only
from ninefold.identity.models import Team
from tests.conftest import PG_URL, _pg_url_with_schema
from tests.test_web_console import login
from tests.web_seed import seed

pg_only = pytest.mark.skipif(not PG_URL, reason="NINEFOLD_TEST_POSTGRES_URL not set")


@pytest.fixture
def pg_engine(monkeypatch: pytest.MonkeyPatch, _pg_schema: str) -> Iterator[Engine]:
    """A PostgreSQL engine whose connections count as idle after 0.3 s; pings are counted."""
    monkeypatch.setattr(db_engine, "PING_AFTER_IDLE", 0.3)
    engine = make_engine(_pg_url_with_schema(_pg_schema), pool_size=1, max_overflow=0)
    pings: list[int] = []
    real = engine.dialect.do_ping

    def counted(dbapi_conn: object) -> bool:
        pings.append(1)
        return real(dbapi_conn)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    engine.info_pings = pings  # type: ignore[attr-defined]
    yield engine
    engine.dispose()


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


@pg_only
def test_a_connection_in_steady_use_is_not_pinged(pg_engine: Engine) -> None:
    pid = _backend_pid(pg_engine)
    for _ in range(20):
        assert _backend_pid(pg_engine) == pid  # the same pooled connection every time
    assert pg_engine.info_pings == []  # type: ignore[attr-defined]


@pg_only
def test_an_idle_connection_the_server_dropped_is_replaced_before_use(
    pg_engine: Engine,
) -> None:
    pid = _backend_pid(pg_engine)
    admin = make_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))  # type: ignore[union-attr]
    try:
        with admin.begin() as conn:  # a server restart, a proxy or a firewall drops it
            assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
    finally:
        admin.dispose()
    time.sleep(0.4)
    # the next checkout pings the idle connection, finds it dead and opens another
    new_pid = _backend_pid(pg_engine)
    assert new_pid != pid
    assert pg_engine.info_pings  # type: ignore[attr-defined]


def test_a_read_only_session_refuses_to_write_and_nothing_is_stored(
    session_factory: sessionmaker[Session], engine: Engine, clock: object
) -> None:
    now = datetime(2026, 11, 1, 12, 0).astimezone()
    with session_factory() as session, session.begin():
        read_only(session)
        assert session.scalars(select(Team)).all() == []
        if engine.dialect.name == "postgresql":  # no BEGIN was sent: no transaction is open
            dbapi = session.connection().connection.dbapi_connection
            assert dbapi is not None
            assert dbapi.info.transaction_status == 0  # psycopg TransactionStatus.IDLE
            session.add(Team(name="sneaky", contact={}, created_at=now, updated_at=now))
            with pytest.raises(ReadOnlySession):
                session.flush()
            session.expunge_all()
    with session_factory() as session:
        assert session.scalars(select(Team)).all() == []


def test_console_pages_read_and_their_forms_still_write(
    client: TestClient, session_factory: sessionmaker[Session], clock: object
) -> None:
    """Pages (GET under /ui/) read through read-only sessions; the console's POSTs write."""
    from ninefold.core.clock import FrozenClock

    assert isinstance(clock, FrozenClock)
    seed(session_factory, clock.now())
    token = login(client, "bob")
    for path in ("/ui/", "/ui/alerts", "/ui/incidents", "/ui/oncall", "/ui/services/checkout"):
        assert client.get(path).status_code == 200, path
    r = client.post(
        "/ui/incidents/declare",
        data={"csrf_token": token, "title": "Checkout errors", "severity": "SEV2"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    page = client.get(r.headers["location"])
    assert page.status_code == 200
    assert "Checkout errors" in page.text
