"""The engine stores every SLO's status after each evaluation; the console's overview reads that
copy instead of evaluating thousands of SLOs in every web process, evaluates afresh only the
SLOs changed since, and ignores a copy too old to trust (engine off or behind)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session, sessionmaker

from ninefold.app import create_app
from ninefold.config import Settings
from ninefold.core.clock import FrozenClock
from ninefold.slo import jobs as slo_jobs
from ninefold.slo import store as slo_store
from ninefold.slo.models import SLO
from tests.test_web_console import login
from tests.web_seed import BURNING_SLO, HEALTHY_SLO, seed

LATER = timedelta(minutes=2)


@pytest.fixture
def seeded(
    settings: Settings,
    engine: Engine,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
) -> Iterator[TestClient]:
    """The seeded console two minutes on, after an engine evaluation at that time."""
    seed(session_factory, clock.now())
    clock.advance(LATER)
    with session_factory() as session, session.begin():
        slo_jobs.evaluate(session, clock.now())
    app = create_app(settings, clock=clock, engine=engine, start_engine=False)
    with TestClient(app, base_url="http://testserver") as tc:
        login(tc, "frank")
        yield tc


def _doctor(factory: sessionmaker[Session], slo: str, status: str) -> None:
    """Change one SLO's status in the stored copy only (what the engine would have seen)."""
    with factory() as session, session.begin():
        found = slo_store.latest_snapshot(session)
        assert found is not None
        at, text, versions = found
        statuses = json.loads(text)
        for st in statuses:
            if st["name"] == slo:
                st["status"] = status
        slo_store.save_snapshot(session, at=at, statuses=json.dumps(statuses), versions=versions)


def _current(
    factory: sessionmaker[Session], now: datetime, max_age: timedelta = timedelta(seconds=60)
) -> tuple[datetime, dict[str, str]]:
    """What the overview would show: (evaluated at, status by SLO name)."""
    with factory() as session:
        at, statuses = slo_jobs.current_statuses(session, now, max_age=max_age, prometheus=None)
    return at, {st.name: st.status for st in statuses}


def test_evaluation_stores_every_slo_and_is_replaced_each_time(
    seeded: TestClient, session_factory: sessionmaker[Session], clock: FrozenClock
) -> None:
    with session_factory() as session:
        found = slo_store.latest_snapshot(session)
        names = [name for name, _ in slo_store.slo_versions(session)]
    assert found is not None
    assert found[0] == clock.now()
    stored = {st["name"]: st["status"] for st in json.loads(found[1])}
    assert sorted(stored) == names
    assert stored[BURNING_SLO] in ("critical", "exhausted", "warning")
    assert stored[HEALTHY_SLO] == "healthy"
    clock.advance(timedelta(seconds=30))
    with session_factory() as session, session.begin():
        slo_jobs.evaluate(session, clock.now())
    with session_factory() as session:
        again = slo_store.latest_snapshot(session)
    assert again is not None
    assert again[0] == clock.now()


def test_current_statuses_take_the_stored_copy_and_evaluate_only_what_changed(
    seeded: TestClient, session_factory: sessionmaker[Session], clock: FrozenClock
) -> None:
    _doctor(session_factory, HEALTHY_SLO, "exhausted")
    _doctor(session_factory, BURNING_SLO, "healthy")
    at, by_name = _current(session_factory, clock.now())
    assert at == clock.now()
    assert by_name[HEALTHY_SLO] == "exhausted"  # the stored copy, not a new evaluation
    # The SLO is edited after the evaluation, stamped with an earlier time (as a replica with a
    # slow clock would): it is evaluated afresh, the others are not.
    with session_factory() as session, session.begin():
        session.execute(
            update(SLO)
            .where(SLO.name == HEALTHY_SLO)
            .values(updated_at=clock.now() - timedelta(hours=1))
        )
    _, by_name = _current(session_factory, clock.now())
    assert by_name[HEALTHY_SLO] == "healthy"
    assert by_name[BURNING_SLO] == "healthy"  # still the stored copy
    # A copy older than max_age is not used at all: every SLO is evaluated here.
    clock.advance(timedelta(seconds=61))
    at, by_name = _current(session_factory, clock.now())
    assert at == clock.now()
    assert by_name[BURNING_SLO] != "healthy"


def test_overview_shows_the_engine_s_evaluation(
    seeded: TestClient, session_factory: sessionmaker[Session]
) -> None:
    _doctor(session_factory, HEALTHY_SLO, "exhausted")
    seeded.app.state.web_health_cache = None  # type: ignore[attr-defined]  # forget the login's
    html = seeded.get("/ui/").text
    row = html.split('href="/ui/services/catalog"', 1)[1].split("</tr>", 1)[0]
    assert "s-exhausted" in row, row


def test_an_older_evaluation_does_not_replace_a_newer_one(
    seeded: TestClient, session_factory: sessionmaker[Session], clock: FrozenClock
) -> None:
    with session_factory() as session, session.begin():
        slo_jobs.evaluate(session, clock.now() - timedelta(hours=1))  # e.g. slo evaluate --at
    with session_factory() as session:
        found = slo_store.latest_snapshot(session)
    assert found is not None
    assert found[0] == clock.now()


def test_an_unreadable_stored_row_means_evaluating_here(
    seeded: TestClient, session_factory: sessionmaker[Session], clock: FrozenClock
) -> None:
    with session_factory() as session, session.begin():
        slo_store.save_snapshot(
            session, at=clock.now(), statuses='[{"name": "from another version"}]', versions="{}"
        )
    _, by_name = _current(session_factory, clock.now())
    assert by_name[HEALTHY_SLO] == "healthy"
    assert by_name[BURNING_SLO] != "healthy"
    seeded.app.state.web_health_cache = None  # type: ignore[attr-defined]
    assert seeded.get("/ui/").status_code == 200


def test_an_unchanged_stored_evaluation_is_not_parsed_again(
    seeded: TestClient, session_factory: sessionmaker[Session], clock: FrozenClock
) -> None:
    """A refresh that finds the same stored evaluation, SLO versions and services keeps the
    snapshot (and its rendered fragments); any of the three changing makes a new one."""
    from ninefold.catalog.models import Service
    from ninefold.web.health import HealthCache

    state = seeded.app.state  # type: ignore[attr-defined]
    cache = HealthCache()
    first = cache.get(state, clock.now())
    assert first.mark is not None
    clock.advance(cache.ttl)
    again = cache._compute(state, clock.now())
    assert again.tiers is first.tiers
    assert again.fetched == clock.now()
    with session_factory() as session, session.begin():  # a service moves to another tier
        svc = session.query(Service).filter_by(name="checkout").one()
        svc.tier = 3
    moved = cache._compute(state, clock.now())
    assert moved.tiers is not first.tiers
    assert "checkout" in [r["name"] for r in moved.rows(3)]
    cache._value = moved
    _doctor(session_factory, HEALTHY_SLO, "critical")  # the same time, other statuses
    with session_factory() as session, session.begin():  # ... and a new evaluation time
        found = slo_store.latest_snapshot(session)
        assert found is not None
        later = found[0] + timedelta(seconds=1)
        slo_store.save_snapshot(session, at=later, statuses=found[1], versions=found[2])
    newer = cache._compute(state, clock.now())
    assert newer.at == later
    assert HEALTHY_SLO in [s.name for s in newer.burning]
