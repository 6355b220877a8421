"""Multi-row INSERTs for the intake path, as few and as cheap statements as each database allows.

On PostgreSQL the rows go in as one JSON document read by ``json_to_recordset``: one statement
of a few hundred characters and one parameter whatever the number of rows. A multi-row
``VALUES`` list (SQLAlchemy's "insertmanyvalues") is a statement of hundreds of kilobytes that
the driver parses again on every execution (too long for its cache), which cost more than the
database's own work for a batch of alerts; one array per column through ``unnest`` cost about
as much in the driver's array encoding. On SQLite the rows go through SQLAlchemy's batched
multi-row INSERT (with ``RETURNING`` where ids are needed), a handful of statements per batch.

``RETURNING`` order is not guaranteed by either database, so callers get the returned columns
as rows and map them by a column they know is unique among the inserted rows. Timestamps must
be timezone-aware (as ``UTCDateTime`` requires); JSON columns are stored as given.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Column, Integer, Table, insert, text
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator


def _pg_type(column: Column[Any]) -> str:
    """The PostgreSQL type ``column``'s values are read as from the JSON document."""
    kind = column.type
    if isinstance(kind, TypeDecorator):
        kind = kind.impl_instance
    if isinstance(kind, JSON):
        return "json"
    if isinstance(kind, Boolean):
        return "boolean"
    if isinstance(kind, Integer):
        return "bigint"
    if kind.python_type is datetime:
        return "timestamptz"
    return "text"


def _pg_statement(table: Table, columns: Sequence[str], returning: Sequence[str]) -> str:
    names = ", ".join(f'"{c}"' for c in columns)
    record = ", ".join(f'"{c}" {_pg_type(table.c[c])}' for c in columns)
    sql = (
        f'INSERT INTO "{table.name}" ({names}) SELECT {names} '
        f"FROM json_to_recordset(CAST(:rows AS json)) AS r({record})"
    )
    if returning:
        sql += " RETURNING " + ", ".join(f'"{c}"' for c in returning)
    return sql


def _json_default() -> Callable[[Any], Any]:
    """``json.dumps``'s ``default`` for one document: timestamps as ISO 8601 text, each distinct
    one formatted once (most rows of a pass share the pass's own time)."""
    formatted: dict[datetime, str] = {}

    def default(value: Any) -> Any:
        if isinstance(value, datetime):
            text = formatted.get(value)
            if text is None:
                if value.tzinfo is None:
                    raise ValueError("naive datetime given to a UTC column")
                text = formatted[value] = value.isoformat()
            return text
        raise TypeError(f"cannot store {type(value).__name__} in a bulk insert")

    return default


def insert_rows(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    returning: Sequence[str] = (),
) -> list[tuple[Any, ...]]:
    """INSERT ``rows`` (dicts with the same keys) into ``table``; the ``returning`` columns of
    every inserted row, in no particular order."""
    if not rows:
        return []
    columns = list(rows[0])
    if session.get_bind().dialect.name == "postgresql":
        document = json.dumps(list(rows), default=_json_default())
        result = session.execute(text(_pg_statement(table, columns, returning)), {"rows": document})
        return [tuple(r) for r in result] if returning else []
    if returning:
        ins = insert(table).returning(*(table.c[name] for name in returning))
        return [tuple(r) for r in session.execute(ins, list(rows))]
    session.execute(insert(table), list(rows))
    return []
