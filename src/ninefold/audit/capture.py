"""Capture every ORM change into ``audit_log``, generically, from the session's flushes.

:func:`install` hooks ``after_flush`` on a session factory (``make_session_factory`` does it for
every factory ninefold builds). At that point ``session.new``/``dirty``/``deleted`` and the
attribute history still describe what the flush just wrote, and new rows have their ids, so one
INSERT on the flush's own connection records the changes in the same transaction: a change and
its audit entry commit or roll back together.

What is left out, and why (see also README "Audit log"):

* machine tables written at high volume: :data:`EXCLUDED_TABLES`;
* tables that machines and people both write: :data:`HUMAN_ONLY_TABLES` are audited only when the
  actor is a person (``token:``, ``user:``, ``cli:``, ``link:``), so an acknowledge or resolve by someone
  is recorded, the thousands of alerts Prometheus sends are not;
* bookkeeping columns that change on every use: :data:`VOLATILE_COLUMNS` (an update touching only
  those is not recorded);
* rows written with Core ``insert()``/``update()`` (hot intake paths) are not seen by ORM events;
  human-facing writes that take such a path call :func:`record` themselves.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import event, insert, inspect
from sqlalchemy.orm import InstanceState, Mapper, Session, UOWTransaction, sessionmaker

from ninefold.audit import context
from ninefold.audit.models import AuditEntry
from ninefold.system.logsafe import mask_url

EXCLUDED_TABLES: frozenset[str] = frozenset(
    {
        "audit_log",  # itself
        "alert_events",  # per-alert history (received, updated …); the alert keeps it
        "alert_groups",  # group timers, rewritten on every flush of the pager tick
        "alert_group_members",  # membership of alerts in groups
        "notification_outbox",  # one row per notification and delivery attempt
        "slo_buckets",  # pushed SLI event counts
        "slo_event_batches",  # idempotency records of pushed batches
        "slo_alert_states",  # burn-rate evaluation state, rewritten every evaluation
        "slo_alert_events",  # burn-rate transitions (kept in their own table)
        "slo_snapshots",  # every SLO's latest evaluation, rewritten every evaluation
    }
)
"""Tables never audited: machine data written at high volume."""

HUMAN_ONLY_TABLES: frozenset[str] = frozenset({"alerts", "escalations"})
"""Tables audited only when a person acts (acknowledge, resolve, snooze, reassign, manual alert)."""

VOLATILE_COLUMNS: Mapping[str, frozenset[str]] = {
    "api_tokens": frozenset({"last_used_at"}),
    "heartbeat_monitors": frozenset({"last_beat_at", "deadline_at", "beat_count", "status"}),
    "web_sessions": frozenset({"last_seen_at"}),
}
"""Per table, columns whose changes alone are not audited (they change on every use)."""

ALWAYS_IGNORED = frozenset({"updated_at"})
"""Columns left out of update diffs everywhere: the entry's own time says when."""

REDACTED = "***"
_SECRET_NAME = re.compile(r"(^|_)(secret|password|passwd|token|hash|api_key|private_key)s?$", re.I)
_SECRET_COLUMNS: Mapping[str, frozenset[str]] = {"app_secrets": frozenset({"value"})}
_URL_COLUMNS: Mapping[str, frozenset[str]] = {"notification_channels": frozenset({"target"})}
_NAME_COLUMNS = ("name", "title", "summary", "user_name")


def install(factory: sessionmaker[Session]) -> None:
    """Audit every flush of sessions made by ``factory`` (idempotent)."""
    if not event.contains(factory, "after_flush", _after_flush):
        event.listen(factory, "after_flush", _after_flush)


def record(
    session: Session,
    *,
    action: str,
    object_type: str,
    object_id: object,
    object_name: str | None = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    actor: str | None = None,
) -> None:
    """Record a change made without the ORM (a Core INSERT on a human-facing path)."""
    box = context.current()
    session.add(
        AuditEntry(
            at=box.now(),
            actor=actor or box.actor,
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            object_name=object_name,
            before=redact(object_type, before) if before is not None else None,
            after=redact(object_type, after) if after is not None else None,
        )
    )


def redact(table: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` made safe to keep: secrets as ``***``, webhook URLs cut to scheme and host."""
    secret_cols = _SECRET_COLUMNS.get(table, frozenset())
    url_cols = _URL_COLUMNS.get(table, frozenset())
    out: dict[str, Any] = {}
    for key, value in values.items():
        if value is not None and (key in secret_cols or _SECRET_NAME.search(key)):
            out[key] = REDACTED
        elif key in url_cols and isinstance(value, str):
            out[key] = mask_url(value)  # credential in the path (Slack, Teams): host only
        else:
            out[key] = _scrub(_jsonable(value))
    return out


def _scrub(value: Any) -> Any:
    """Redact secret-looking keys inside JSON documents (integration configs, details …)."""
    if isinstance(value, dict):
        return {
            k: (REDACTED if v is not None and _SECRET_NAME.search(str(k)) else _scrub(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, enum.Enum):
        return _jsonable(value.value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return str(value)


def _columns(mapper: Mapper[Any]) -> list[str]:
    return [prop.key for prop in mapper.column_attrs]


def _identity(mapper: Mapper[Any], state: InstanceState[Any]) -> str:
    keys = [mapper.get_property_by_column(col).key for col in mapper.primary_key]
    return ",".join(str(state.dict.get(k)) for k in keys)


def _name(state: InstanceState[Any], columns: Iterable[str]) -> str | None:
    cols = set(columns)
    for key in _NAME_COLUMNS:
        if key in cols:
            value = state.dict.get(key)
            if isinstance(value, str):
                return value[:300]
    return None


def _snapshot(state: InstanceState[Any], columns: Iterable[str]) -> dict[str, Any]:
    """The loaded, non-null column values of a row (nothing is loaded during the flush)."""
    return {k: state.dict[k] for k in columns if state.dict.get(k) is not None}


def _diff(
    table: str, state: InstanceState[Any], columns: Iterable[str]
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Changed fields before and after, or None when nothing worth recording changed."""
    volatile = VOLATILE_COLUMNS.get(table, frozenset()) | ALWAYS_IGNORED
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for key in columns:
        if key in volatile:
            continue
        hist = state.attrs[key].history
        if not hist.added and not hist.deleted:
            continue
        old = hist.deleted[0] if hist.deleted else None
        new = hist.added[0] if hist.added else None
        if old == new:
            continue
        before[key] = old
        after[key] = new
    return (before, after) if after or before else None


def _entries(session: Session, box: context.ActorBox) -> list[dict[str, Any]]:
    actor = box.actor
    human = context.is_human(actor)
    at = box.now()
    rows: list[dict[str, Any]] = []
    changes: list[tuple[str, Any]] = [
        *(("create", o) for o in session.new),
        *(("update", o) for o in session.dirty),
        *(("delete", o) for o in session.deleted),
    ]
    for action, obj in changes:
        state: InstanceState[Any] = inspect(obj)
        mapper = state.mapper
        table = mapper.local_table.name  # type: ignore[attr-defined]
        if table in EXCLUDED_TABLES or (table in HUMAN_ONLY_TABLES and not human):
            continue
        columns = _columns(mapper)
        before: dict[str, Any] | None = None
        after: dict[str, Any] | None = None
        if action == "create":
            after = _snapshot(state, columns)
        elif action == "delete":
            before = _snapshot(state, columns)
        else:
            diff = _diff(table, state, columns)
            if diff is None:
                continue
            before, after = diff
        rows.append(
            {
                "at": at,
                "actor": actor[:200],
                "action": action,
                "object_type": table,
                "object_id": _identity(mapper, state)[:200],
                "object_name": _name(state, columns),
                "before": redact(table, before) if before is not None else None,
                "after": redact(table, after) if after is not None else None,
            }
        )
    return rows


def _after_flush(session: Session, _flush_context: UOWTransaction) -> None:
    rows = _entries(session, context.current())
    if rows:
        session.connection().execute(insert(AuditEntry), rows)
