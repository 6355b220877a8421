"""Queries for SLO tables: pushed-event ingestion into multi-resolution buckets, window sums,
alert state. Keyword-only arguments, Session first; never commits."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Select, Table, and_, bindparam, func, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, joinedload

from ninefold.catalog.models import Service
from ninefold.errors import Conflict, NotFound
from ninefold.identity.models import Team
from ninefold.slo.models import (
    SLO,
    SloAlertEvent,
    SloAlertState,
    SloBucket,
    SloEventBatch,
    SloSnapshot,
)
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
    # Statuses need each SLO's service and owner team: load them in the same query.
    stmt = stmt.options(joinedload(SLO.service).joinedload(Service.owner))
    stmt = stmt.order_by(SLO.name).offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    return session.scalars(stmt).all(), total


def slo_versions(session: Session) -> list[tuple[str, datetime]]:
    """(name, updated_at) of every SLO, by name."""
    rows = session.execute(select(SLO.name, SLO.updated_at).order_by(SLO.name))
    return [(name, updated) for name, updated in rows]


def slos_named(session: Session, names: Sequence[str]) -> list[SLO]:
    """The SLOs of these names, with service and owner (for statuses), by name."""
    stmt = (
        select(SLO)
        .where(SLO.name.in_(names))
        .options(joinedload(SLO.service).joinedload(Service.owner))
        .order_by(SLO.name)
    )
    return list(session.scalars(stmt).unique())


def service_exists(session: Session, *, name: str) -> bool:
    """Whether the catalog has a service called ``name``."""
    return session.scalar(select(Service.id).where(Service.name == name)) is not None


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


#: Filter a window query by an explicit id list only up to this many ids (bound parameters).
_ID_LIST_MAX = 2000


def window_counts(
    session: Session, *, start: int, end: int, slo_ids: Sequence[int] | None = None
) -> dict[int, Counts]:
    """Summed buckets per SLO over [start, end) (epoch seconds, minute aligned).

    SLOs without any bucket in the range are absent from the result (no data).

    One query sums, per SLO, the few bucket ranges :func:`decompose` splits the window into.
    Requested ids restrict the rows before they are grouped: by the id list when there are few
    of them or they are sparse in their span, otherwise by their min/max (free on the key).
    """
    parts = decompose(start, end)
    if not parts:
        return {}
    wanted = set(slo_ids) if slo_ids is not None else None
    if wanted is not None and not wanted:
        return {}
    params: dict[str, Any] = {}
    for i, (res, lo, hi) in enumerate(parts):
        params[f"res{i}"], params[f"lo{i}"], params[f"hi{i}"] = res, lo, hi
    few = wanted is not None and len(wanted) <= _ID_FILTER_LIMIT
    id_range = id_list = False
    if wanted is not None:
        params["ids"] = sorted(wanted)
        params["id_lo"], params["id_hi"] = params["ids"][0], params["ids"][-1]
        span = params["id_hi"] - params["id_lo"] + 1
        id_range = not few
        id_list = few or (len(wanted) <= _ID_LIST_MAX and 2 * len(wanted) < span)
    dialect = session.get_bind().dialect.name
    stmt = _window_statement(dialect, len(parts), id_range, id_list, few)
    rows: Sequence[Any]
    if dialect == "postgresql":
        rows = _without_parallel_plan(session, stmt, params)
    else:
        rows = session.execute(stmt, params).all()
    out: dict[int, Counts] = {}
    for slo_id, good, total, sg, st in rows:
        if wanted is not None and slo_id not in wanted:
            continue
        out[int(slo_id)] = Counts(float(good), float(total), int(sg), int(st))
    return out


@lru_cache(maxsize=128)
def _window_statement(dialect: str, parts: int, id_range: bool, id_list: bool, few: bool) -> Any:
    """The window query for ``parts`` bucket ranges, with bound parameters, built once.

    PostgreSQL gets one scan with an OR of the ranges (a BitmapOr over the primary key). SQLite
    gets a UNION ALL of one primary-key range scan per part: with an OR it runs a MULTI-INDEX OR
    that de-duplicates every row through a temporary index, about 1.5× slower. For a few SLOs
    (``few``) SQLite is told to seek ``ix_slo_buckets_slo`` (slo_id, res, start) per SLO and
    range: without ANALYZE statistics it would scan every SLO's buckets of the range instead.
    """
    table = SloBucket.__table__.c
    ids_lo: Any = bindparam("id_lo")
    ids_hi: Any = bindparam("id_hi")
    ids: Any = bindparam("ids", expanding=True)
    id_conds: list[Any] = []
    if id_range:
        id_conds += [table.slo_id >= ids_lo, table.slo_id <= ids_hi]
    if id_list:
        id_conds.append(table.slo_id.in_(ids))

    def part(i: int) -> Any:
        return and_(
            table.res == bindparam(f"res{i}"),
            table.start >= bindparam(f"lo{i}"),
            table.start < bindparam(f"hi{i}"),
        )

    if dialect == "postgresql":
        return (
            select(
                table.slo_id,
                func.sum(table.good),
                func.sum(table.total),
                func.sum(table.slice_good),
                func.sum(table.slice_total),
            )
            .where(or_(*(part(i) for i in range(parts))), *id_conds)
            .group_by(table.slo_id)
        )
    # SQLite: written out, as SQLAlchemy does not render SQLite's INDEXED BY
    where = ""
    if id_range:
        where += " AND slo_id >= :id_lo AND slo_id <= :id_hi"
    if id_list:
        where += " AND slo_id IN :ids"
    source = "slo_buckets INDEXED BY ix_slo_buckets_slo" if few else "slo_buckets"
    legs = " UNION ALL ".join(
        f"SELECT slo_id, good, total, slice_good, slice_total FROM {source} "
        f"WHERE res = :res{i} AND start >= :lo{i} AND start < :hi{i}{where}"
        for i in range(parts)
    )
    sql = text(
        "SELECT slo_id, sum(good), sum(total), sum(slice_good), sum(slice_total) "
        f"FROM ({legs}) GROUP BY slo_id"
    )
    return sql.bindparams(ids) if id_list else sql


_PLAN_SETTINGS = text(
    "SELECT current_setting('max_parallel_workers_per_gather'), current_setting('jit')"
)
_SET_PLAN = text(
    "SELECT set_config('max_parallel_workers_per_gather', :workers, true), "
    "set_config('jit', :jit, true)"
)


def _without_parallel_plan(session: Session, stmt: Any, params: dict[str, Any]) -> list[Any]:
    """Run a window query on PostgreSQL without parallel workers and JIT, then restore both.

    The planner costs a 30-day window over 1,000 SLOs (≈70,000 rows) high enough to start two
    parallel workers and JIT-compile the aggregate, which on a small server takes 3× longer
    than the plain index scans. The settings are transaction-local and put back afterwards.
    """
    workers, jit = session.execute(_PLAN_SETTINGS).one()
    session.execute(_SET_PLAN, {"workers": "0", "jit": "off"})
    rows = session.execute(stmt, params).all()
    session.execute(_SET_PLAN, {"workers": workers, "jit": jit})
    return list(rows)


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


def save_snapshot(session: Session, *, at: datetime, statuses: str, versions: str) -> None:
    """Replace the stored evaluation of every SLO (JSON texts) unless a later one is stored
    (an evaluation of a past time, or a replica that lost the engine lease mid-evaluation)."""
    dialect = session.get_bind().dialect.name
    ins = (postgresql if dialect == "postgresql" else sqlite).insert(SloSnapshot)
    session.execute(
        ins.values(
            id=1, evaluated_at=at, statuses=statuses, versions=versions
        ).on_conflict_do_update(
            index_elements=[SloSnapshot.id],
            set_={"evaluated_at": at, "statuses": statuses, "versions": versions},
            where=SloSnapshot.evaluated_at <= ins.excluded.evaluated_at,
        )
    )


def snapshot_time(session: Session) -> datetime | None:
    """When the stored evaluation was made (None without one)."""
    return session.scalar(select(SloSnapshot.evaluated_at).where(SloSnapshot.id == 1))


def latest_snapshot(session: Session) -> tuple[datetime, str, str] | None:
    """When the stored evaluation was made, its statuses and versions (JSON), or None."""
    row = session.execute(
        select(SloSnapshot.evaluated_at, SloSnapshot.statuses, SloSnapshot.versions).where(
            SloSnapshot.id == 1
        )
    ).first()
    return None if row is None else (row[0], row[1], row[2])
