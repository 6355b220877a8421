"""Queries for SLO tables: pushed-event ingestion into multi-resolution buckets, window sums,
alert state. Keyword-only arguments, Session first; never commits."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, and_, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ninefold.catalog.models import Service
from ninefold.errors import Conflict, NotFound
from ninefold.identity.models import Team
from ninefold.slo.models import SLO, SloAlertEvent, SloAlertState, SloBucket, SloEventBatch
from ninefold.slo.sources import Counts
from ninefold.slo.windows import RESOLUTIONS, decompose

#: Above this many SLOs a window query scans all SLOs instead of filtering by id.
_ID_FILTER_LIMIT = 64


@dataclass(frozen=True)
class MinuteEvents:
    """Summed events of one minute (epoch seconds of the minute start)."""

    minute: int
    good: float
    total: float


def get_slo(session: Session, *, name: str) -> SLO:
    """The SLO called ``name``."""
    slo = session.scalar(select(SLO).where(SLO.name == name))
    if slo is None:
        raise NotFound(f"SLO {name!r} not found")
    return slo


def slo_query(
    *, service: str | None = None, team: str | None = None, tier: int | None = None
) -> Select[SLO]:
    """SELECT of SLOs filtered by service name, owner team name and tier."""
    stmt = select(SLO).join(Service, SLO.service_id == Service.id)
    if service:
        stmt = stmt.where(Service.name == service)
    if tier is not None:
        stmt = stmt.where(Service.tier == tier)
    if team:
        stmt = stmt.join(Team, Service.owner_team_id == Team.id).where(Team.name == team)
    return stmt


def list_slos(
    session: Session,
    *,
    service: str | None = None,
    team: str | None = None,
    tier: int | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> tuple[Sequence[SLO], int]:
    """A page of SLOs ordered by name, and the total count."""
    stmt = slo_query(service=service, team=team, tier=tier)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    stmt = stmt.order_by(SLO.name).offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    return session.scalars(stmt).all(), total


def lock_slo(session: Session, *, slo_id: int) -> None:
    """Serialise ingestion per SLO (row lock on PostgreSQL; SQLite has one writer anyway)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(SLO.id).where(SLO.id == slo_id).with_for_update())


def find_batch(session: Session, *, slo_id: int, batch_id: str) -> SloEventBatch | None:
    """A previously stored batch."""
    return session.get(SloEventBatch, (slo_id, batch_id))


def add_batch(
    session: Session, *, slo_id: int, batch_id: str, digest: str, events: int, now: datetime
) -> None:
    """Remember a batch id (its primary key makes a concurrent duplicate fail)."""
    existing = find_batch(session, slo_id=slo_id, batch_id=batch_id)
    if existing is not None:
        raise Conflict(f"batch {batch_id!r} was already stored")
    session.add(
        SloEventBatch(
            slo_id=slo_id, batch_id=batch_id, digest=digest, events=events, received_at=now
        )
    )
    session.flush()


_UPSERT_CACHE: dict[str, Any] = {}


def _upsert_statement(dialect: str) -> Any:
    """INSERT … ON CONFLICT DO UPDATE adding to the counters, built once per dialect."""
    stmt = _UPSERT_CACHE.get(dialect)
    if stmt is None:
        table = cast(Table, SloBucket.__table__)
        ins = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
        stmt = ins.on_conflict_do_update(
            index_elements=["res", "start", "slo_id"],
            set_={
                "good": table.c.good + ins.excluded.good,
                "total": table.c.total + ins.excluded.total,
                "slice_good": table.c.slice_good + ins.excluded.slice_good,
                "slice_total": table.c.slice_total + ins.excluded.slice_total,
            },
        )
        _UPSERT_CACHE[dialect] = stmt
    return stmt


def _upsert_add(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert bucket rows, adding to the counters of rows that already exist."""
    if not rows:
        return
    conn = session.connection()
    conn.execute(_upsert_statement(conn.dialect.name), rows)


def add_events(session: Session, *, slo_id: int, minutes: Iterable[MinuteEvents]) -> int:
    """Add per-minute event sums to the buckets of every resolution; returns minutes touched."""
    per_res: dict[int, dict[int, list[float]]] = {
        res: defaultdict(lambda: [0.0, 0.0]) for res in RESOLUTIONS
    }
    count = 0
    for m in minutes:
        count += 1
        for res in RESOLUTIONS:
            acc = per_res[res][m.minute // res * res]
            acc[0] += m.good
            acc[1] += m.total
    rows = [
        {
            "res": res,
            "start": start,
            "slo_id": slo_id,
            "good": g,
            "total": t,
            "slice_good": 0,
            "slice_total": 0,
        }
        for res in sorted(RESOLUTIONS)
        for start, (g, t) in sorted(per_res[res].items())
    ]
    _upsert_add(session, rows)
    return count


def update_timeslices(
    session: Session, *, slo_id: int, slice_starts: Iterable[int], length: int, target: float
) -> None:
    """Recompute the good/with-data flags of the given slices and propagate changes upwards.

    A slice's flags live in the minute bucket at its start; the coarser buckets hold the
    sums of those flags, so that slices are counted by their start at every resolution.
    """
    starts = sorted(set(slice_starts))
    if not starts:
        return
    lo, hi = starts[0], starts[-1] + length
    sums: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0])
    flags: dict[int, tuple[int, int]] = {}
    rows = session.execute(
        select(
            SloBucket.start,
            SloBucket.good,
            SloBucket.total,
            SloBucket.slice_good,
            SloBucket.slice_total,
        )
        .where(SloBucket.slo_id == slo_id, SloBucket.res == 60)
        .where(SloBucket.start >= lo, SloBucket.start < hi)
    )
    for start, good, total, sg, st in rows:
        acc = sums[start // length * length]
        acc[0] += good
        acc[1] += total
        flags[int(start)] = (int(sg), int(st))
    deltas: list[dict[str, Any]] = []
    for start in starts:
        good, total = sums.get(start, (0.0, 0.0))
        has_data = 1 if total > 0 else 0
        is_good = 1 if total > 0 and good / total >= target else 0
        old_good, old_total = flags.get(start, (0, 0))
        d_good, d_total = is_good - old_good, has_data - old_total
        if d_good == 0 and d_total == 0:
            continue
        deltas.extend(
            {
                "res": res,
                "start": start // res * res,
                "slo_id": slo_id,
                "good": 0.0,
                "total": 0.0,
                "slice_good": d_good,
                "slice_total": d_total,
            }
            for res in RESOLUTIONS
        )
    _upsert_add(session, deltas)


def window_counts(
    session: Session, *, start: int, end: int, slo_ids: Sequence[int] | None = None
) -> dict[int, Counts]:
    """Summed buckets per SLO over [start, end) (epoch seconds, minute aligned).

    SLOs without any bucket in the range are absent from the result (no data).
    """
    parts = decompose(start, end)
    if not parts:
        return {}
    cond = or_(
        *(
            and_(SloBucket.res == res, SloBucket.start >= lo, SloBucket.start < hi)
            for res, lo, hi in parts
        )
    )
    stmt = (
        select(
            SloBucket.slo_id,
            func.sum(SloBucket.good),
            func.sum(SloBucket.total),
            func.sum(SloBucket.slice_good),
            func.sum(SloBucket.slice_total),
        )
        .where(cond)
        .group_by(SloBucket.slo_id)
    )
    wanted = set(slo_ids) if slo_ids is not None else None
    if slo_ids is not None and len(slo_ids) <= _ID_FILTER_LIMIT:
        stmt = stmt.where(SloBucket.slo_id.in_(list(slo_ids)))
    out: dict[int, Counts] = {}
    for slo_id, good, total, sg, st in session.execute(stmt):
        if wanted is not None and slo_id not in wanted:
            continue
        out[int(slo_id)] = Counts(float(good), float(total), int(sg), int(st))
    return out


def alert_states(
    session: Session, *, slo_ids: Sequence[int] | None = None
) -> dict[tuple[int, str], SloAlertState]:
    """Current alert state rows keyed by (slo_id, severity)."""
    stmt = select(SloAlertState)
    if slo_ids is not None and len(slo_ids) <= _ID_FILTER_LIMIT:
        stmt = stmt.where(SloAlertState.slo_id.in_(list(slo_ids)))
    return {(s.slo_id, s.severity): s for s in session.scalars(stmt)}


def record_transition(
    session: Session,
    *,
    slo_id: int,
    severity: str,
    state: str,
    at: datetime,
    burn_rates: dict[str, float | None],
    reason: str,
    current: SloAlertState | None,
) -> SloAlertEvent:
    """Store an alert transition and move the alert's current state."""
    if current is None:
        session.add(
            SloAlertState(slo_id=slo_id, severity=severity, state=state, since=at, evaluated_at=at)
        )
    else:
        current.state = state
        current.since = at
        current.evaluated_at = at
    event = SloAlertEvent(
        slo_id=slo_id, severity=severity, state=state, at=at, burn_rates=burn_rates, reason=reason
    )
    session.add(event)
    return event


def alert_events(
    session: Session, *, slo_id: int | None = None, limit: int = 100, offset: int = 0
) -> tuple[Sequence[SloAlertEvent], int]:
    """Recorded alert transitions, newest first."""
    stmt = select(SloAlertEvent)
    if slo_id is not None:
        stmt = stmt.where(SloAlertEvent.slo_id == slo_id)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(SloAlertEvent.at.desc(), SloAlertEvent.id.desc()).limit(limit).offset(offset)
    ).all()
    return rows, total
