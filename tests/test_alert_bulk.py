"""Bulk INSERTs of the intake path store what the ORM would, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast

import pytest
from sqlalchemy import Table, select
from sqlalchemy.orm import Session, sessionmaker

from ninefold.alert import bulk
from ninefold.alert.models import Alert, AlertEvent
from tests.conftest import T0


def _row(key: str, **extra: Any) -> dict[str, Any]:
    return {
        "dedup_key": key,
        "fingerprint": "0123456789abcdef",
        "source": "alertmanager",
        "integration_id": None,
        "service_id": None,
        "status": "firing",
        "severity": "critical",
        "summary": 'quote " backslash \\ comma , brace { newline \n ünïcode',
        "labels": {"alertname": key, "empty": ""},
        "annotations": {},
        "details": {"nested": {"list": [1, 2.5, None, True], "text": "x"}},
        "generator_url": None,
        "starts_at": T0,
        "ends_at": None,
        "last_received_at": T0 + timedelta(seconds=1),
        "receive_count": 1,
        "created_at": T0,
        **extra,
    }


def test_rows_are_stored_as_given_and_their_ids_returned(
    session_factory: sessionmaker[Session],
) -> None:
    later = datetime(2026, 11, 1, 3, 0, tzinfo=timezone(timedelta(hours=2)))  # 01:00 UTC
    rows = [
        _row("a"),
        _row("b", ends_at=later, generator_url="http://x/?a=1&b=2"),
        _row("c", receive_count=7),
    ]
    table = cast(Table, Alert.__table__)
    with session_factory() as s, s.begin():
        returned = bulk.insert_rows(s, table, rows, returning=("id", "dedup_key"))
        ids = {key: alert_id for alert_id, key in returned}
        assert sorted(ids) == ["a", "b", "c"]
        bulk.insert_rows(
            s,
            cast(Table, AlertEvent.__table__),
            [
                {"alert_id": ids[k], "kind": "created", "at": T0, "actor": None, "details": {}}
                for k in ids
            ],
        )
    with session_factory() as s:
        stored = {a.dedup_key: a for a in s.scalars(select(Alert))}
        assert {k: a.id for k, a in stored.items()} == ids
        b = stored["b"]
        assert b.summary == rows[1]["summary"]
        assert b.labels == {"alertname": "b", "empty": ""}
        assert b.details == {"nested": {"list": [1, 2.5, None, True], "text": "x"}}
        assert b.annotations == {}
        assert b.ends_at == datetime(2026, 11, 1, 1, 0, tzinfo=UTC)
        assert b.ends_at.tzinfo is not None
        assert b.generator_url == "http://x/?a=1&b=2"
        assert stored["a"].ends_at is None
        assert stored["a"].generator_url is None
        assert stored["c"].receive_count == 7
        assert stored["a"].last_received_at == T0 + timedelta(seconds=1)
        # Stored timestamps compare with the ORM's own (SQLite compares their text).
        assert s.scalar(select(Alert.dedup_key).where(Alert.ends_at > T0)) == "b"
        events = s.scalars(select(AlertEvent).order_by(AlertEvent.alert_id)).all()
        assert [(e.alert_id, e.kind, e.at, e.actor) for e in events] == [
            (ids[k], "created", T0, None) for k in sorted(ids, key=ids.__getitem__)
        ]


def test_nothing_to_insert_runs_no_statement(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as s:
        assert bulk.insert_rows(s, cast(Table, Alert.__table__), [], returning=("id",)) == []


def test_naive_datetimes_are_refused(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as s, pytest.raises(Exception, match="naive"):
        bulk.insert_rows(
            s, cast(Table, Alert.__table__), [_row("a", starts_at=datetime(2026, 11, 1))]
        )
