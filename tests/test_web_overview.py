"""The overview of a larger organisation: worst services first, "show more" pages, the shared
SLO health snapshot (its staleness and refresh), the lists shared for a second (alerts: fresh at
once after this process changes them) and what is never cached (CSRF tokens)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session, sessionmaker

from ninefold.app import create_app
from ninefold.config import Settings
from ninefold.core.clock import FrozenClock
from ninefold.identity.models import Team, User
from ninefold.slo import flows as slo_flows
from ninefold.slo import store as slo_store
from ninefold.slo.flows import IngestLimits
from ninefold.slo.models import SloSnapshot
from ninefold.slo.schemas import Event, EventBatch
from ninefold.web import pages
from ninefold.web.health import Health, HealthCache, health_cache
from ninefold.web.viewcache import LIVE_TTL, VIEW_TTL, TtlCache
from tests import factories
from tests.test_web_console import firing_alert, login
from tests.web_seed import HEALTHY_SLO, seed

BULK = 25
"""Extra tier-2 services, more than a tier shows at first."""
_LIMITS = IngestLimits(max_age=timedelta(days=40), max_future=timedelta(minutes=5))


def _push_bad(session: Session, slo_name: str, now: datetime, *, tag: str) -> None:
    """Two hours of events, half of them bad: the SLO burns."""
    slo = slo_store.get_slo(session, name=slo_name)
    start = now.replace(second=0, microsecond=0) - timedelta(minutes=120)
    events = [
        Event(timestamp=start + timedelta(minutes=i), bad=500.0, total=1000.0) for i in range(120)
    ]
    batch = EventBatch(batch_id=f"bad-{slo_name}-{tag}", events=events)
    slo_flows.ingest_batch(session, slo=slo, batch=batch, now=now, limits=_LIMITS)


@pytest.fixture
def big(
    settings: Settings,
    engine: Engine,
    session_factory: sessionmaker[Session],
    clock: FrozenClock,
) -> Iterator[TestClient]:
    """The seeded console plus 25 tier-2 services; the last by name has a burning SLO."""
    now = clock.now()
    seed(session_factory, now)
    with session_factory() as session, session.begin():
        owner = session.query(Team).order_by(Team.id).first()
        assert owner is not None
        for i in range(BULK):
            svc = factories.service(session, f"bulk-{i:02d}", owner, now, tier=2)
            if i == BULK - 1:
                factories.slo(session, svc, now, name="bulk-24-ok", objective=0.99)
    with session_factory() as session, session.begin():
        _push_bad(session, "bulk-24-ok", now, tag="seed")
    app = create_app(settings, clock=clock, engine=engine, start_engine=False)
    with TestClient(app, base_url="http://testserver") as tc:
        yield tc


def _tier_rows(html: str, tier: int) -> list[str]:
    """Service names in the order the tier's table lists them."""
    table = html.split(f'id="tier-{tier}"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<td><a href="/ui/services/([^"]+)">', table)


def _status_of(html: str, service: str) -> str:
    found = re.search(
        rf'<a href="/ui/services/{service}">[^<]*</a></td>\s*<td><span class="badge s-(\w+)"', html
    )
    assert found is not None, service
    return found.group(1)


def test_tiers_show_the_worst_services_first_and_page_the_rest(big: TestClient) -> None:
    login(big, "frank")
    html = big.get("/ui/").text
    rows = _tier_rows(html, 2)
    assert len(rows) == pages.PER_TIER
    assert rows[0] == "bulk-24"  # its SLO burns: first although last by name
    assert _status_of(html, "bulk-24") in ("exhausted", "critical")
    total = BULK + 2  # the acme catalog has two tier-2 services
    assert f"({total})" in html.split('id="tier-2"', 1)[1].split("</h3>", 1)[0]
    more = f'hx-get="/ui/overview/tiers/2?offset={pages.PER_TIER}"'
    assert more in html
    assert f"{total - pages.PER_TIER} of {total} not shown" in html
    # htmx "show more": the remaining rows, no further "show more"
    frag = big.get(f"/ui/overview/tiers/2?offset={pages.PER_TIER}", headers={"HX-Request": "1"})
    assert frag.status_code == 200
    rest = re.findall(r'<td><a href="/ui/services/([^"]+)">', frag.text)
    assert len(rest) == total - pages.PER_TIER
    assert not set(rest) & set(rows)
    assert "<html" not in frag.text
    assert "hx-get" not in frag.text
    # without JavaScript the link shows that tier in full; ?all=1 shows every tier in full
    assert len(_tier_rows(big.get("/ui/?tier=2").text, 2)) == total
    assert len(_tier_rows(big.get("/ui/?all=1").text, 2)) == total
    # tiers with few services show them all and no "show more"
    assert "tiers/0?offset" not in html


def test_show_more_rejects_bad_input_with_4xx(big: TestClient) -> None:
    login(big, "frank")
    r = big.get("/ui/overview/tiers/7")
    assert r.status_code == 404
    assert "no services in tier 7" in r.text
    for bad in ("-1", "x", "99999999999"):
        r = big.get(f"/ui/overview/tiers/2?offset={bad}")
        assert r.status_code == 422, bad
        assert "offset" in r.text
    assert big.get("/ui/?tier=-3").status_code == 422
    assert big.get("/ui/overview/tiers/2", follow_redirects=False).status_code == 200
    big.cookies.clear()
    r = big.get("/ui/overview/tiers/2", follow_redirects=False)
    assert r.status_code == 303  # login first


def test_health_is_a_shared_snapshot_with_bounded_staleness(
    big: TestClient, session_factory: sessionmaker[Session], clock: FrozenClock
) -> None:
    # No engine evaluation stored (engine off): the process evaluates the SLOs itself.
    with session_factory() as session, session.begin():
        session.execute(delete(SloSnapshot))
    login(big, "frank")
    before = big.get("/ui/").text
    assert _status_of(before, "catalog") == "healthy"
    with session_factory() as session, session.begin():
        _push_bad(session, HEALTHY_SLO, clock.now(), tag="later")
    # within the lifetime every request reads the same snapshot: not recomputed yet
    assert _status_of(big.get("/ui/").text, "catalog") == "healthy"
    # the SLO's own page evaluates it live
    assert "s-healthy" not in big.get(f"/ui/slos/{HEALTHY_SLO}").text.split("<h2", 1)[0]
    # older than the lifetime: the old snapshot still answers while one is computed behind it
    cache = health_cache(big.app.state)  # type: ignore[attr-defined]
    clock.advance(cache.ttl + timedelta(seconds=1))
    assert _status_of(big.get("/ui/").text, "catalog") == "healthy"
    deadline = time.monotonic() + 30
    while cache._refreshing and time.monotonic() < deadline:
        time.sleep(0.05)
    after = big.get("/ui/").text
    assert _status_of(after, "catalog") in ("exhausted", "critical")
    assert "SLO status as of 2026-11-01 00:00 UTC" in after
    # nobody looked for longer than max_stale: recomputed before answering
    with session_factory() as session, session.begin():
        _push_bad(session, "bulk-24-ok", clock.now(), tag="again")
    clock.advance(cache.max_stale + timedelta(seconds=1))
    fresh = big.get("/ui/").text
    assert f"SLO status as of {clock.now():%Y-%m-%d %H:%M} UTC" in fresh


def test_acknowledging_shows_at_once_and_tokens_are_never_shared(
    big: TestClient, session_factory: sessionmaker[Session]
) -> None:
    bob_token = login(big, "bob")
    other = TestClient(big.app, base_url="http://testserver")
    alice_token = login(other, "alice")
    assert bob_token != alice_token
    alert_id = firing_alert(session_factory)
    link = f'href="/ui/alerts/{alert_id}"'
    page = big.get("/ui/").text
    assert link in page
    assert "acked" not in page.split(link, 1)[1].split("</p>", 1)[0]
    r = big.post(f"/ui/alerts/{alert_id}/acknowledge", data={"csrf_token": bob_token})
    assert r.status_code == 200
    # the same snapshot of SLO health; this process acknowledged: acked at once, for everyone
    for client, mine, theirs in ((big, bob_token, alice_token), (other, alice_token, bob_token)):
        page = client.get("/ui/").text
        assert "acked" in page.split(link, 1)[1].split("</p>", 1)[0]
        assert mine in page
        assert theirs not in page
        frag = client.get(f"/ui/overview/tiers/2?offset={pages.PER_TIER}").text
        assert mine not in frag
        assert "csrf" not in frag.lower()


def test_lists_changed_by_another_process_show_within_a_second(
    big: TestClient, session_factory: sessionmaker[Session], clock: FrozenClock
) -> None:
    """The overview's lists are shared for one second per process: a change this process did
    not make (the test's own sessions stand for another worker or replica) shows after it."""
    from ninefold.alert.models import Alert

    login(big, "bob")
    alert_id = firing_alert(session_factory)
    link = f'href="/ui/alerts/{alert_id}"'

    def acked() -> bool:
        page = big.get("/ui/").text
        return "acked" in page.split(link, 1)[1].split("</p>", 1)[0]

    assert not acked()
    with session_factory() as session, session.begin():
        row = session.get(Alert, alert_id)
        assert row is not None
        row.acknowledged_at = clock.now()
    assert not acked()  # at most LIVE_TTL old
    clock.advance(LIVE_TTL)
    assert acked()


class _Counting(HealthCache):
    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.computed = 0

    def _compute(self, state: Any, now: datetime) -> Health:
        self.computed += 1
        time.sleep(0.2)
        return Health(now, now, [], [])


def test_cache_computes_once_for_concurrent_requests_and_refreshes_in_the_background() -> None:
    t0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    cache = _Counting(ttl=timedelta(seconds=15))
    got: list[Health] = []
    threads = [threading.Thread(target=lambda: got.append(cache.get(None, t0))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert cache.computed == 1
    assert len({id(h) for h in got}) == 1
    # within the lifetime: no computation
    assert cache.get(None, t0 + timedelta(seconds=14)) is got[0]
    assert cache.computed == 1
    # stale: the old value at once, one refresh behind it
    started = time.monotonic()
    assert cache.get(None, t0 + timedelta(seconds=20)) is got[0]
    assert cache.get(None, t0 + timedelta(seconds=21)) is got[0]
    assert time.monotonic() - started < 0.15
    deadline = time.monotonic() + 5
    while cache.computed < 2 or cache._refreshing:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert cache.computed == 2
    assert cache.get(None, t0 + timedelta(seconds=22)).at == t0 + timedelta(seconds=20)
    # far too old: recomputed before answering
    late = t0 + timedelta(hours=1)
    assert cache.get(None, late).at == late
    assert cache.computed == 3


def test_fragments_are_built_once_per_snapshot_and_bounded() -> None:
    at = datetime(2026, 11, 1, tzinfo=UTC)
    h = Health(at, at, [], [])
    calls = []

    def build() -> str:
        calls.append(1)
        return "<p>x</p>"

    assert h.fragment(("a",), build) == h.fragment(("a",), build)
    assert len(calls) == 1
    for i in range(100):
        h.fragment(("n", i), build)
    assert len(h._fragments) <= 64


def test_slo_page_shares_its_evaluation_for_a_few_seconds(
    big: TestClient, session_factory: sessionmaker[Session], clock: FrozenClock
) -> None:
    login(big, "frank")

    def heading() -> str:
        html = big.get(f"/ui/slos/{HEALTHY_SLO}").text
        found = re.search(r"<h1>.*?badge s-(\w+)", html)
        assert found is not None
        return found.group(1)

    assert heading() == "healthy"
    with session_factory() as session, session.begin():
        _push_bad(session, HEALTHY_SLO, clock.now(), tag="cached")
    assert heading() == "healthy"  # the evaluation of a moment ago
    clock.advance(VIEW_TTL + timedelta(seconds=1))
    assert heading() in ("exhausted", "critical")


def test_incident_pick_lists_are_shared_for_a_few_seconds(
    big: TestClient, session_factory: sessionmaker[Session], clock: FrozenClock
) -> None:
    token = login(big, "bob")
    r = big.post("/ui/incidents/declare", data={"csrf_token": token, "title": "Checkout down"})
    assert r.status_code == 200
    url = str(r.url).split("?")[0]
    assert "<option>newcomer</option>" not in big.get(url).text
    with session_factory() as session, session.begin():
        session.add(User(name="newcomer", role="responder", created_at=clock.now()))
    # the incident itself is read live: a note shows at once
    r = big.post(f"{url}/note", data={"csrf_token": token, "message": "looking at the LB"})
    assert "looking at the LB" in big.get(url).text
    assert "<option>newcomer</option>" not in big.get(url).text
    clock.advance(VIEW_TTL + timedelta(seconds=1))
    assert "<option>newcomer</option>" in big.get(url).text


def test_ttl_cache_is_bounded_and_expires() -> None:
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    cache: TtlCache[int] = TtlCache(timedelta(seconds=5), max_entries=3)
    calls: list[str] = []

    def value(key: str, n: int) -> int:
        def compute() -> int:
            calls.append(key)
            return len(calls)

        return cache.get(key, t0 + timedelta(seconds=n), compute)

    assert value("a", 0) == 1
    assert value("a", 4) == 1  # within the lifetime
    assert value("a", 5) == 2  # expired
    for key in ("b", "c", "d"):
        value(key, 5)
    assert len(cache) == 3
    assert value("a", 6) == 6  # least recently used, dropped for "d"
    assert value("d", 6) == 5


def test_an_expired_value_is_recomputed_by_one_request_while_the_others_get_it() -> None:
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    cache: TtlCache[str] = TtlCache(timedelta(seconds=1), max_entries=4)
    assert cache.get("k", t0, lambda: "old") == "old"
    computing, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def slow() -> str:
        calls.append(1)
        computing.set()
        release.wait(5)
        return "new"

    later = t0 + timedelta(seconds=1.5)  # expired, younger than twice the lifetime
    got: list[str] = []
    first = threading.Thread(target=lambda: got.append(cache.get("k", later, slow)))
    first.start()
    assert computing.wait(5)
    # meanwhile: the expired value at once, no second computation
    assert [cache.get("k", later, slow) for _ in range(5)] == ["old"] * 5
    release.set()
    first.join(5)
    assert got == ["new"]
    assert calls == [1]
    assert cache.get("k", later, slow) == "new"


def test_a_value_long_expired_is_never_handed_out_while_another_request_recomputes() -> None:
    """After a quiet spell (older than twice the lifetime) every request waits for fresh data:
    responders opening the overview when an incident starts never see an hour-old list."""
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    cache: TtlCache[str] = TtlCache(timedelta(seconds=1), max_entries=4)
    assert cache.get("k", t0, lambda: "an hour ago") == "an hour ago"
    computing, release = threading.Event(), threading.Event()

    def slow() -> str:
        computing.set()
        release.wait(5)
        return "now"

    later = t0 + timedelta(hours=1)
    first = threading.Thread(target=lambda: cache.get("k", later, slow))
    first.start()
    assert computing.wait(5)
    try:
        assert cache.get("k", later, lambda: "now") == "now"
    finally:
        release.set()
        first.join(5)
