"""The durable intake log: accept inbound alert batches fast, process them right after.

An inbound request (Alertmanager API or webhook, PagerDuty Events v2) is authenticated and
validated, then its valid items are committed as one ``alert_intake`` row before the answer:
what got a 2xx is on disk. The processor turns rows into alerts through
:func:`ninefold.alert.dispatch.intake`, in id order, several rows per transaction, and deletes
them in that same transaction, so each row is processed exactly once even across crashes.

``ninefold serve`` runs the processor in a thread of the engine that a request wakes at once
(no polling delay) and that also looks every ``intake_poll_seconds`` for rows left by a crash or
by another replica. Without the engine (tests, one-shot tools) the request processes the log
itself after committing its row. On PostgreSQL one transaction-level advisory lock makes the
replicas' processors take turns, so that rows are processed in the order they were accepted.

A row whose processing fails is retried alone; after :data:`MAX_ATTEMPTS` failures it stays in
the table with ``failed_at`` set (a dead letter, listed by ``GET /api/v1/alerts/intake``) and the
rows after it go on. See ADR 0009.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import weakref
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select, text, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from ninefold.alert import dispatch, normalize
from ninefold.alert.flows import Received
from ninefold.alert.models import IntakeBatch, Integration
from ninefold.alert.normalize import Incoming
from ninefold.alert.schemas import AMAlert, AMWebhookAlert, PDEvent
from ninefold.db.engine import write_lock

log = logging.getLogger("ninefold.alert.intake")

AM_API = "alertmanager"
AM_WEBHOOK = "alertmanager-webhook"
PAGERDUTY = "pagerduty"
FORMATS = (AM_API, AM_WEBHOOK, PAGERDUTY)


class _Gate:
    """Requests writing to the log go before the processor (one process, one engine).

    Accepting is what a sender waits for; processing can run a few milliseconds later. While
    requests wait for the database, the processor holds back (at most ``MAX_YIELD`` per pass,
    so a steady stream of requests cannot starve it).
    """

    MAX_YIELD = 0.05

    def __init__(self) -> None:
        self._waiting = 0
        self._cond = threading.Condition()

    @contextmanager
    def acceptor(self) -> Iterator[None]:
        with self._cond:
            self._waiting += 1
        try:
            yield
        finally:
            with self._cond:
                self._waiting -= 1
                if not self._waiting:
                    self._cond.notify_all()

    def processor_turn(self) -> bool:
        """Wait until no request is being accepted (at most ``MAX_YIELD``); True if still busy."""
        with self._cond:
            return not self._cond.wait_for(lambda: not self._waiting, timeout=self.MAX_YIELD)


MAX_ATTEMPTS = 5
"""Failures after which a row is set aside as a dead letter."""
BATCH_ITEMS = 500
"""Items processed per transaction at most (whole rows; a larger row goes alone)."""
BUSY_BATCH_ITEMS = 100
"""... while requests are being accepted."""

_LOCK_KEY = zlib.crc32(b"ninefold:alert-intake") & 0x7FFFFFFF


def accept(
    session: Session,
    *,
    integration_id: int,
    format: str,
    payload: str,
    items: int,
    now: datetime,
) -> None:
    """Write one accepted batch (``payload``: JSON text of its valid items) in the caller's
    transaction."""
    session.execute(insert(IntakeBatch).values(_row(integration_id, format, payload, items, now)))


def _row(
    integration_id: int, format: str, payload: str, items: int, now: datetime
) -> dict[str, Any]:
    if format not in FORMATS:
        raise ValueError(f"unknown intake format {format!r}")
    return {
        "integration_id": integration_id,
        "format": format,
        "payload": payload,
        "items": items,
        "received_at": now,
        "attempts": 0,
    }


class _Committer:
    """Group commit for the requests of one process: the batches waiting when a commit starts
    go into one INSERT and one transaction.

    Requests queue their row with an asyncio future and await it on their event loop; one
    thread (started on demand, gone after :data:`IDLE_SECONDS` without work) writes whatever
    is queued, commits, and settles every future of the group through its loop. A request is
    answered only once its own batch is committed (or gets the error). No request thread waits
    for another: the commit happens while the event loop goes on reading and validating.
    """

    IDLE_SECONDS = 1.0

    def __init__(self, engine: Engine) -> None:
        self._engine = weakref.ref(engine)
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)
        self._queue: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self._running = False

    async def commit(self, row: dict[str, Any]) -> None:
        """Return once ``row`` is committed (raise what the commit raised)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        with self._lock:
            self._queue.append((row, future))
            if self._running:
                self._work.notify()
            else:
                self._running = True
                threading.Thread(
                    target=self._run, name="ninefold-intake-commit", daemon=True
                ).start()
        await future

    def _take(self) -> list[tuple[dict[str, Any], asyncio.Future[None]]]:
        with self._lock:
            if not self._queue:
                self._work.wait(self.IDLE_SECONDS)
            group, self._queue = self._queue, []
            if not group:
                self._running = False
            return group

    def _run(self) -> None:
        try:
            self._serve()
        except BaseException as exc:  # never leave requests waiting on a dead thread
            with self._lock:
                self._running = False
                left, self._queue = self._queue, []
            log.exception("the intake commit thread failed")
            for _, future in left:
                with suppress(RuntimeError):
                    future.get_loop().call_soon_threadsafe(_settle, future, exc)

    def _serve(self) -> None:
        while group := self._take():
            error: BaseException | None = None
            engine = self._engine()
            try:
                if engine is None:
                    raise RuntimeError("the database engine was disposed")
                with write_lock(engine), engine.begin() as conn:
                    conn.execute(insert(IntakeBatch), [row for row, _ in group])
            except BaseException as exc:  # every request of the group must hear of it
                error = exc
            del engine
            for _, future in group:
                with suppress(RuntimeError):  # a closed loop: nobody is waiting any more
                    future.get_loop().call_soon_threadsafe(_settle, future, error)


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():  # the request was cancelled (its client went away)
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


class _PerEngine:
    """What the requests and the processor of one engine share in this process."""

    def __init__(self, engine: Engine) -> None:
        self.gate = _Gate()
        self.committer = _Committer(engine)


# Keyed by the engine itself (weakly): an id() could be reused by a later engine.
_PER_ENGINE: weakref.WeakKeyDictionary[Engine, _PerEngine] = weakref.WeakKeyDictionary()
_PER_ENGINE_GUARD = threading.Lock()


def _of(engine: Engine) -> _PerEngine:
    with _PER_ENGINE_GUARD:
        shared = _PER_ENGINE.get(engine)
        if shared is None:
            shared = _PER_ENGINE[engine] = _PerEngine(engine)
        return shared


def gate(engine: Engine) -> _Gate:
    """The gate of ``engine`` (one per engine in this process)."""
    return _of(engine).gate


async def commit_batch(
    engine: Engine, *, integration_id: int, format: str, payload: str, items: int, now: datetime
) -> None:
    """Commit one accepted batch in its own (possibly shared) transaction before returning."""
    await _of(engine).committer.commit(_row(integration_id, format, payload, items, now))


def to_incoming(
    format: str, payload: str, *, integration_id: int, received_at: datetime
) -> list[Incoming]:
    """The stored items of a row as ``Incoming`` alerts (pure; raises on a corrupt row)."""
    data: Any = json.loads(payload)
    if format == AM_API:
        return [
            normalize.from_alertmanager_api(AMAlert.model_validate(a), received_at) for a in data
        ]
    if format == AM_WEBHOOK:
        return [
            normalize.from_alertmanager_webhook(AMWebhookAlert.model_validate(a), received_at)
            for a in data
        ]
    if format == PAGERDUTY:
        event = PDEvent.model_validate(data["event"])
        return [normalize.from_pagerduty(event, integration_id, str(data["dedup"]), received_at)]
    raise ValueError(f"unknown intake format {format!r}")


@dataclass(frozen=True)
class Processed:
    """What one processor pass did."""

    rows: int
    items: int
    queued: int
    received: list[tuple[str, Received]]
    """(source format, outcome) per item, for the intake metrics."""
    more: bool | None = None
    """Whether rows were left pending when the pass began (None: not known)."""


def _pending(session: Session, limit_items: int) -> tuple[list[IntakeBatch], bool]:
    """The oldest pending rows, up to ``limit_items`` items (at least one row), and whether
    more rows wait after them.

    Sizes are read first and only the rows taken are loaded: the payloads of the rows after
    them would be read for nothing.
    """
    sizes = session.execute(
        select(IntakeBatch.id, IntakeBatch.items)
        .where(IntakeBatch.failed_at.is_(None))
        .order_by(IntakeBatch.id)
        .limit(max(1, limit_items) + 1)
    ).all()
    ids: list[int] = []
    total = 0
    for row_id, items in sizes:
        if ids and total + items > limit_items:
            break
        ids.append(row_id)
        total += items
    if not ids:
        return [], False
    rows = session.scalars(
        select(IntakeBatch).where(IntakeBatch.id.in_(ids)).order_by(IntakeBatch.id)
    )
    return list(rows), len(ids) < len(sizes)


def _runs(rows: Sequence[IntakeBatch]) -> Iterator[list[IntakeBatch]]:
    """Consecutive rows of the same integration (order is kept across integrations)."""
    run: list[IntakeBatch] = []
    for row in rows:
        if run and run[-1].integration_id != row.integration_id:
            yield run
            run = []
        run.append(row)
    if run:
        yield run


def _serialise(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})


def _process_rows(
    session: Session,
    rows: Sequence[IntakeBatch],
    state: Any,
    now: datetime,
    *,
    more: bool | None = None,
) -> Processed:
    queued = 0
    received: list[tuple[str, Received]] = []
    for run in _runs(rows):
        integration = session.get(Integration, run[0].integration_id)
        items: list[Incoming] = []
        formats: list[str] = []
        for row in run:
            converted = to_incoming(
                row.format,
                row.payload,
                integration_id=row.integration_id,
                received_at=row.received_at,
            )
            items.extend(converted)
            formats.extend([row.format] * len(converted))
        got, n = dispatch.intake(
            session,
            items=items,
            integration=integration,
            routing=state.routing,
            now=now,
            public_url=state.settings.public_url,
        )
        queued += n
        received.extend(zip(formats, got, strict=True))
    session.execute(delete(IntakeBatch).where(IntakeBatch.id.in_([r.id for r in rows])))
    return Processed(len(rows), sum(r.items for r in rows), queued, received, more)


def process_once(state: Any, *, limit_items: int = BATCH_ITEMS) -> Processed:
    """Process the oldest pending rows (up to ``limit_items`` items) in one transaction.

    When that transaction fails, each of its rows is retried in a transaction of its own, and
    a row that fails :data:`MAX_ATTEMPTS` times is set aside (``failed_at``).
    """
    factory = state.session_factory
    now = state.clock.now()
    if gate(state.engine).processor_turn():
        limit_items = min(limit_items, BUSY_BATCH_ITEMS)  # short turns while requests arrive
    try:
        with write_lock(state.engine), factory() as session, session.begin():
            _serialise(session)
            rows, more = _pending(session, limit_items)
            if not rows:
                return Processed(0, 0, 0, [], more=False)
            return _process_rows(session, rows, state, now, more=more)
    except (OperationalError, InterfaceError):
        raise  # the database is away: the rows stay as they are, to be processed later
    except Exception:
        log.warning("intake batch failed; retrying its rows one by one", exc_info=True)
    return _process_singly(state, limit_items, now)


def _process_singly(state: Any, limit_items: int, now: datetime) -> Processed:
    factory = state.session_factory
    with factory() as session:
        ids = [r.id for r in _pending(session, limit_items)[0]]
    done = Processed(0, 0, 0, [])
    for row_id in ids:
        try:
            with write_lock(state.engine), factory() as session, session.begin():
                _serialise(session)
                row = session.get(IntakeBatch, row_id)
                if row is None or row.failed_at is not None:
                    continue
                one = _process_rows(session, [row], state, now)
        except (OperationalError, InterfaceError):
            raise  # not the row's fault: do not count it against the row
        except Exception as exc:  # a bad row must not stop the rows after it
            _record_failure(state, row_id, exc, now)
            continue
        done = Processed(
            done.rows + one.rows,
            done.items + one.items,
            done.queued + one.queued,
            done.received + one.received,
        )
    return done


def _record_failure(state: Any, row_id: int, exc: Exception, now: datetime) -> None:
    message = f"{type(exc).__name__}: {exc}"[:2000]
    with write_lock(state.engine), state.session_factory() as session, session.begin():
        row = session.get(IntakeBatch, row_id)
        if row is None:
            return
        attempts = row.attempts + 1
        dead = attempts >= MAX_ATTEMPTS
        session.execute(
            update(IntakeBatch)
            .where(IntakeBatch.id == row_id)
            .values(attempts=attempts, last_error=message, failed_at=now if dead else None)
        )
    if dead:
        log.error("intake batch %s set aside after %s failures: %s", row_id, attempts, message)
    else:
        log.warning("intake batch %s failed (attempt %s): %s", row_id, attempts, message)


def drain(state: Any, *, max_passes: int = 1000) -> Processed:
    """Process until nothing (that can be processed) is pending; push notifications."""
    total = Processed(0, 0, 0, [])
    for _ in range(max_passes):
        done = process_once(state)
        if done.rows:
            _after(state, done)
        total = Processed(
            total.rows + done.rows,
            total.items + done.items,
            total.queued + done.queued,
            total.received + done.received,
        )
        # A pass knows whether rows were left behind it; rows accepted since then wake the
        # processor again (or were processed by the request that accepted them). Only after
        # rows were retried one by one is the log looked at again.
        if done.rows == 0 or done.more is False:
            break
        if done.more is None and not _has_pending(state):
            break
    return total


def _has_pending(state: Any) -> bool:
    with state.session_factory() as session:
        return (
            session.scalar(select(IntakeBatch.id).where(IntakeBatch.failed_at.is_(None)).limit(1))
            is not None
        )


def _after(state: Any, done: Processed) -> None:
    metrics = getattr(state, "metrics", None)
    if metrics is not None:  # one increment per (source, outcome), not one per alert
        for (source, outcome), n in Counter((s, r.outcome) for s, r in done.received).items():
            metrics.alerts_received.labels(source, outcome).inc(n)
    runner = getattr(state, "engine_runner", None)
    if done.queued and runner is not None:
        runner.wake_delivery()


@dataclass(frozen=True)
class Backlog:
    """The intake log's state: what waits, since when, and what was set aside."""

    pending_batches: int
    pending_items: int
    oldest_received_at: datetime | None
    failed_batches: int


def backlog(session: Session) -> Backlog:
    """Counts of pending and failed rows."""
    pending = session.execute(
        select(
            func.count(IntakeBatch.id),
            func.coalesce(func.sum(IntakeBatch.items), 0),
            func.min(IntakeBatch.received_at),
        ).where(IntakeBatch.failed_at.is_(None))
    ).one()
    failed = session.scalar(
        select(func.count(IntakeBatch.id)).where(IntakeBatch.failed_at.is_not(None))
    )
    return Backlog(int(pending[0]), int(pending[1]), pending[2], int(failed or 0))


def failed(session: Session, *, limit: int = 100) -> list[IntakeBatch]:
    """Rows set aside after repeated failures, oldest first."""
    return list(
        session.scalars(
            select(IntakeBatch)
            .where(IntakeBatch.failed_at.is_not(None))
            .order_by(IntakeBatch.id)
            .limit(limit)
        )
    )


def retry_failed(session: Session) -> int:
    """Put set-aside rows back in line (after a fix); returns how many."""
    result = session.execute(
        update(IntakeBatch)
        .where(IntakeBatch.failed_at.is_not(None))
        .values(failed_at=None, attempts=0, last_error=None)
    )
    return int(getattr(result, "rowcount", 0) or 0)
