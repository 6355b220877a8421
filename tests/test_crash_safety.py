"""Crash safety with real processes: ``ninefold serve`` killed with SIGKILL while a client pushes
alerts, SLO event batches and incident updates (timeline notes, published and unpublished
stakeholder updates) at load, then restarted on the same database (SQLite file or PostgreSQL).
Everything that got a 2xx is there once; every alert's page is delivered under one idempotency
key (a re-send after the short lease expired is counted, and deduplicable); the public status
JSON shows exactly the stored published updates. An incident update whose answer the kill
swallowed is not retried (the API has no idempotency key for them): it may be stored at most once.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.cluster import fresh_postgres
from tests.ha_scenario import run_crash

PG_URL = os.environ.get("NINEFOLD_TEST_POSTGRES_URL")

pytestmark = pytest.mark.cluster


def _check(outcome_summary: str, problems: list[str]) -> None:
    print(outcome_summary)
    assert problems == [], outcome_summary


def test_sqlite_kill9_under_load_loses_nothing(tmp_path: Path) -> None:
    outcome = run_crash(f"sqlite:///{tmp_path / 'ninefold.db'}", tmp_path)
    _check(outcome.summary(), outcome.problems)
    assert outcome.alerts_acknowledged == outcome.alerts_sent
    assert (outcome.alerts_lost, outcome.alerts_duplicated, outcome.batches_lost) == (0, 0, 0)
    assert outcome.notifications_distinct == outcome.alerts_stored
    assert outcome.batches_acknowledged > 0
    assert (outcome.updates_lost, outcome.updates_duplicated) == (0, 0)
    assert outcome.updates_acknowledged > 0


@pytest.mark.skipif(not PG_URL, reason="NINEFOLD_TEST_POSTGRES_URL not set")
def test_postgresql_kill9_under_load_loses_nothing(tmp_path: Path) -> None:
    assert PG_URL is not None
    with fresh_postgres(PG_URL, prefix="ninefold_crash") as url:
        outcome = run_crash(url, tmp_path)
    _check(outcome.summary(), outcome.problems)
    assert outcome.alerts_acknowledged == outcome.alerts_sent
    assert (outcome.alerts_lost, outcome.alerts_duplicated, outcome.batches_lost) == (0, 0, 0)
    assert outcome.notifications_distinct == outcome.alerts_stored
    assert outcome.batches_acknowledged > 0
    assert (outcome.updates_lost, outcome.updates_duplicated) == (0, 0)
    assert outcome.updates_acknowledged > 0
