"""``ninefold demo``: apply the example catalog, backfill history, push live traffic, serve."""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from rich.progress import Progress
from sqlalchemy.orm import Session, sessionmaker

from ninefold.core.clock import SystemClock
from ninefold.demo.traffic import minute_traffic, minutes
from ninefold.slo import flows, store
from ninefold.slo.schemas import Event, EventBatch

log = logging.getLogger("ninefold.demo")


def _batch(
    name: str, objective: float, start: datetime, end: datetime, anchor: datetime, batch_id: str
) -> EventBatch | None:
    events = []
    for m in minutes(start, end):
        tr = minute_traffic(name, objective, m, anchor)
        events.append(Event(timestamp=m, good=tr.good, total=tr.total))
    return EventBatch(batch_id=batch_id, events=events) if events else None


def backfill(factory: sessionmaker[Session], *, days: int, anchor: datetime) -> int:
    """Push ``days`` of per-minute history for every push SLO (idempotent batch ids)."""
    limits = flows.IngestLimits(max_age=timedelta(days=days + 1), max_future=timedelta(minutes=5))
    start = (anchor - timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    end = anchor.replace(second=0, microsecond=0)
    with factory() as session:
        slos = [(s.name, s.objective, s.source) for s in store.list_slos(session)[0]]
    pushed = 0
    hours = int((end - start).total_seconds() // 3600) + 1
    with Progress() as progress:
        task = progress.add_task("backfilling demo history", total=len(slos) * hours)
        for name, objective, source in slos:
            if source != "push":
                progress.advance(task, hours)
                continue
            with factory() as session, session.begin():
                slo = store.get_slo(session, name=name)
                t = start
                while t < end:
                    nxt = min(t + timedelta(hours=1), end)
                    batch = _batch(
                        name, objective, t, nxt, anchor, f"demo-{anchor:%Y%m%d%H%M}-{t:%Y%m%d%H}"
                    )
                    if batch is not None:
                        pushed += flows.ingest_batch(
                            session, slo=slo, batch=batch, now=anchor, limits=limits
                        ).accepted
                    t = nxt
                    progress.advance(task)
    return pushed


class LiveTraffic:
    """Pushes each finished minute of traffic to the running server through its public API."""

    def __init__(
        self, base_url: str, token: str, slos: list[tuple[str, float]], anchor: datetime
    ) -> None:
        self._base = base_url
        self._headers = {"Authorization": f"Bearer {token}"}
        self._slos = slos
        self._anchor = anchor
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="demo-traffic", daemon=True)

    def start(self) -> None:
        """Start pushing in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop pushing."""
        self._stop.set()

    def _loop(self) -> None:
        clock = SystemClock()
        sent_until = self._anchor.replace(second=0, microsecond=0)
        with httpx.Client(base_url=self._base, headers=self._headers, timeout=10) as client:
            while not self._stop.wait(5):
                now = clock.now().replace(second=0, microsecond=0)
                if now <= sent_until:
                    continue
                try:
                    for name, objective in self._slos:
                        batch = _batch(
                            name,
                            objective,
                            sent_until,
                            now,
                            self._anchor,
                            f"live-{name}-{sent_until:%Y%m%d%H%M}",
                        )
                        if batch is not None:
                            client.post(
                                f"/api/v1/slos/{name}/events", content=batch.model_dump_json()
                            ).raise_for_status()
                    sent_until = now
                except httpx.HTTPError as exc:
                    log.warning("demo traffic push failed, will retry: %s", exc)


def example_dir() -> Path:
    """The bundled example organisation (examples/acme in the source tree)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "examples" / "acme"
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("examples/acme not found; pass --config-dir")


def wait_until_up(base_url: str, timeout: float = 30) -> bool:
    """Poll /healthz until the server answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            time.sleep(0.2)
    return False
