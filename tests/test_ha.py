"""High availability on PostgreSQL with real processes: three ``ninefold serve`` replicas, 1,000
alerts that escalate, the ``pager`` leader killed with SIGKILL twice (see ``tests.ha_scenario``).

Every alert that got a 2xx is stored once; every page (group notification, level 1, level 2
one minute later) reaches the loopback receiver under exactly one idempotency key; a survivor
takes the pager module over within 10 seconds. Takes about three minutes.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.cluster import fresh_postgres
from tests.ha_scenario import run_ha

PG_URL = os.environ.get("NINEFOLD_TEST_POSTGRES_URL")

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(not PG_URL, reason="NINEFOLD_TEST_POSTGRES_URL not set"),
]


def test_three_replicas_survive_two_leader_kills(tmp_path: Path) -> None:
    assert PG_URL is not None
    with fresh_postgres(PG_URL) as url:
        outcome = run_ha(url, tmp_path, alerts=1000)
    print(outcome.summary())
    assert outcome.problems == [], outcome.summary()
    assert outcome.kills == 2
    assert outcome.alerts_acknowledged == 1000
    assert (outcome.alerts_lost, outcome.alerts_duplicated) == (0, 0)
    assert outcome.notifications_distinct == outcome.notifications_expected == 3000
    assert (outcome.notifications_lost, outcome.notifications_duplicated) == (0, 0)
    assert all(t["pager"] <= 10 for t in outcome.takeovers), outcome.takeovers
