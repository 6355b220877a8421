"""Engine and session factory; SQLite gets WAL and foreign keys, PostgreSQL uses psycopg 3."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.orm import Session, sessionmaker

# Connections kept open per process. Requests run in a pool of threads (40 by default); a
# request that finds no idle connection opens one, and one returned beyond ``pool_size`` is
# closed again: on PostgreSQL that is a new server process per request, on SQLite a new file
# handle whose first statement re-reads the schema. So the pool holds enough for the requests a
# process really runs at once (it has two cores' worth of work, not 40) plus some overflow.
# Settings: NINEFOLD_DB_POOL_SIZE, NINEFOLD_DB_MAX_OVERFLOW.
POOL_SIZE = 20
MAX_OVERFLOW = 10
PING_AFTER_IDLE = 5.0
"""Seconds a pooled PostgreSQL connection may sit unused before its next checkout pings it."""


def make_engine(
    url: str, *, pool_size: int = POOL_SIZE, max_overflow: int = MAX_OVERFLOW, **kwargs: Any
) -> Engine:
    """Create an engine for ``url`` with the pragmas ninefold relies on."""
    # Statement parameters hold secrets (channel secrets, integration configs): keep them out of
    # logs and of the text of database errors, which are logged.
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        in_memory = ":memory:" in url or "mode=memory" in url or "/" not in url.partition("://")[2]
        if not in_memory:  # a file: a pool of connections (in memory: one shared connection)
            kwargs.setdefault("pool_size", pool_size)
            kwargs.setdefault("max_overflow", max_overflow)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    kwargs.setdefault("pool_size", pool_size)
    kwargs.setdefault("max_overflow", max_overflow)
    engine = create_engine(url, **kwargs)
    _ping_when_idle(engine, PING_AFTER_IDLE)
    return engine


def _ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    """Ping a pooled connection at checkout only when it sat unused for ``idle_seconds``.

    SQLAlchemy's ``pool_pre_ping`` pings at every checkout: one extra round trip per request
    and per engine job, on a busy console about one statement in six. A connection in steady
    use proves itself alive by its last statement; one that sat idle may have been closed by
    a restarted server, a proxy or a firewall meanwhile, and is pinged first. A failed ping
    raises ``DisconnectionError`` and the pool replaces that connection before handing one
    out (the other idle ones are pinged at their own checkout). A busy connection
    lost to a server restart fails its next statement instead: SQLAlchemy invalidates the
    pool, the request gets 503 (``app.py``) and the next one a fresh connection.
    """

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_conn: Any, record: Any) -> None:
        record.info["ninefold_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _check(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("ninefold_idle_since")
        if since is None or time.monotonic() - since < idle_seconds:
            return  # new, or in steady use
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except Exception as err:  # the driver's own error for a dead connection
            raise exc.DisconnectionError(str(err)) from err
        if not alive:
            raise exc.DisconnectionError("ping failed")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory that does not expire objects on commit (API reads after commit).

    Every flush of its sessions is recorded in the audit log (see ``ninefold.audit.capture``).
    """
    from ninefold.audit.capture import install

    factory = sessionmaker(engine, expire_on_commit=False)
    install(factory)
    return factory


def read_only(session: Session) -> None:
    """Make ``session`` (not yet used) a reader: on PostgreSQL its statements run in autocommit
    mode, without ``BEGIN``/``COMMIT`` round trips, and every statement sees what was committed
    when it ran (no snapshot across statements). A flush raises ``ReadOnlySession``: a write
    there would commit statement by statement. On SQLite the session is left as it is (a
    transaction costs no round trip in process).
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    session.info[_READER] = True


_READER = "ninefold_reader"


class ReadOnlySession(RuntimeError):
    """A write was attempted in a session made by :func:`read_only`."""


@event.listens_for(Session, "before_flush")
def _refuse_writes(session: Session, _context: Any, _instances: Any) -> None:
    if session.info.get(_READER) and (session.new or session.dirty or session.deleted):
        raise ReadOnlySession("this request only reads: it may not change the database")


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Open a session, commit on success, roll back on error."""
    with factory() as session, session.begin():
        yield session


_WRITE_LOCKS: dict[int, threading.Lock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


def write_lock(engine: Engine) -> AbstractContextManager[Any]:
    """A lock to hold around a write transaction on SQLite, ``nullcontext`` elsewhere.

    SQLite has one writer; threads of one process that contend for it wait in SQLite's busy
    handler, which sleeps in steps of up to 100 ms. Queueing them on a Python lock first hands
    the database over as soon as the previous writer commits. PostgreSQL needs none.
    """
    if engine.dialect.name != "sqlite":
        return nullcontext()
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(id(engine), threading.Lock())
