"""A prepared console database: the acme catalog, one burning SLO with its alert firing, a
deploy, and people with passwords (alice admin, bob responder, frank viewer)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from ninefold.catalog import flows as catalog_flows
from ninefold.deploy import flows as deploy_flows
from ninefold.deploy.schemas import DeploymentCreate
from ninefold.slo import flows as slo_flows
from ninefold.slo import jobs as slo_jobs
from ninefold.slo import store as slo_store
from ninefold.slo.flows import IngestLimits
from ninefold.slo.schemas import Event, EventBatch
from ninefold.web import auth

ACME = Path(__file__).resolve().parent.parent / "examples" / "acme"
PASSWORDS = {
    "alice": "alice-password-1",
    "bob": "bob-password-12",
    "frank": "frank-password-1",
}
BURNING_SLO = "checkout-success"
HEALTHY_SLO = "catalog-availability"
MINUTES = 3 * 24 * 60
_LIMITS = IngestLimits(max_age=timedelta(days=40), max_future=timedelta(minutes=5))


def _push(session: Session, name: str, now: datetime, *, bad_last_minutes: int) -> None:
    """Three days of 1,000 events a minute; 2% bad over the last ``bad_last_minutes``."""
    slo = slo_store.get_slo(session, name=name)
    start = now.replace(second=0, microsecond=0) - timedelta(minutes=MINUTES)
    events = []
    for i in range(MINUTES):
        at = start + timedelta(minutes=i)
        bad = 20.0 if i >= MINUTES - bad_last_minutes else 0.0
        events.append(Event(timestamp=at, bad=bad, total=1000.0))
    batch = EventBatch(batch_id=f"seed-{name}", events=events)
    slo_flows.ingest_batch(session, slo=slo, batch=batch, now=now, limits=_LIMITS)


def seed(factory: sessionmaker[Session], now: datetime) -> None:
    """Fill a migrated, empty database."""
    with factory() as session, session.begin():
        catalog_flows.apply_directory(session, ACME, dry_run=False, now=now)
    with factory() as session, session.begin():
        _push(session, BURNING_SLO, now, bad_last_minutes=60)
        _push(session, HEALTHY_SLO, now, bad_last_minutes=0)
        deploy = DeploymentCreate(
            service="checkout", version="v2.14.0", deployed_at=now - timedelta(minutes=70)
        )
        deploy_flows.record(session, body=deploy, actor="ci", now=now)
        for name, password in PASSWORDS.items():
            auth.set_password(session, user_name=name, password=password, now=now)
    with factory() as session, session.begin():
        slo_jobs.evaluate(session, now)
