"""Outbox delivery against real peers on loopback: an HTTP receiver and an aiosmtpd server."""

from __future__ import annotations

import json
import random
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes, policy
from types import SimpleNamespace
from typing import Any

import aiosmtpd.controller as aiosmtpd_controller
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ninefold.config import Settings
from ninefold.core.clock import FrozenClock
from ninefold.integrations.notify.backoff import BackoffPolicy
from ninefold.integrations.notify.payloads import PayloadFormat, webhook_payload
from ninefold.integrations.notify.senders import SmtpSender, WebhookSender
from ninefold.integrations.notify.signing import verify_signature_header
from ninefold.notification import flows, jobs, store
from ninefold.notification.models import OutboxItem
from ninefold.system.metrics import make_metrics
from tests.receiver import WebhookReceiver
from tests.test_outbox import SECRET, T0, add_channel, note


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    r = WebhookReceiver().start()
    yield r
    r.stop()


@pytest.fixture
def senders() -> Iterator[flows.Senders]:
    with WebhookSender(timeout=3.0, clock=FrozenClock(T0)) as webhook:
        yield flows.Senders(webhook=webhook)


def closed_port() -> int:
    """A loopback port with nothing listening on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def enqueue(factory: sessionmaker[Session], channel: str, key: str = "alert-42:page:1") -> int:
    """Queue ``note(key)`` for ``channel``; return the outbox id."""
    with factory() as session, session.begin():
        return flows.enqueue(session, channel=channel, notification=note(key), now=T0).id


def row(factory: sessionmaker[Session], item_id: int) -> OutboxItem:
    """The outbox row, freshly read."""
    with factory() as session:
        item = session.get(OutboxItem, item_id)
        assert item is not None
        return item


def test_delivered_signed_with_the_idempotency_key(
    session_factory: sessionmaker[Session], receiver: WebhookReceiver, senders: flows.Senders
) -> None:
    add_channel(session_factory, target=receiver.url("/hook"))
    item_id = enqueue(session_factory, "ops-hook")
    report = flows.deliver_due(session_factory, now=T0, senders=senders)
    assert report == flows.DeliveryReport(claimed=1, sent=1)
    (hit,) = receiver.hits
    assert hit.headers["idempotency-key"] == "alert-42:page:1"
    assert json.loads(hit.body) == webhook_payload(note(), PayloadFormat.GENERIC)
    verify_signature_header(
        SECRET, hit.body, hit.headers["x-ninefold-signature"], now=int(T0.timestamp())
    )
    sent = row(session_factory, item_id)
    assert (sent.status, sent.attempts, sent.sent_at, sent.last_status_code) == ("sent", 1, T0, 200)
    assert sent.next_attempt_at is None
    # Nothing is due any more: a second run sends nothing.
    later = flows.deliver_due(session_factory, now=T0 + timedelta(hours=1), senders=senders)
    assert later.claimed == 0
    assert len(receiver.hits) == 1


@pytest.mark.parametrize(
    ("kind", "fmt"),
    [
        ("slack", PayloadFormat.SLACK),
        ("teams", PayloadFormat.TEAMS),
        ("mattermost", PayloadFormat.MATTERMOST),
    ],
)
def test_chat_channels_get_their_format(
    session_factory: sessionmaker[Session],
    receiver: WebhookReceiver,
    senders: flows.Senders,
    kind: str,
    fmt: PayloadFormat,
) -> None:
    add_channel(session_factory, kind, kind=kind, target=receiver.url(f"/{kind}"), secret=None)
    enqueue(session_factory, kind)
    assert flows.deliver_due(session_factory, now=T0, senders=senders).sent == 1
    (hit,) = receiver.hits
    assert (hit.path, json.loads(hit.body)) == (f"/{kind}", webhook_payload(note(), fmt))
    assert "x-ninefold-signature" not in hit.headers


def test_two_failures_then_sent_with_backoff(
    session_factory: sessionmaker[Session], receiver: WebhookReceiver, senders: flows.Senders
) -> None:
    receiver.script["/flaky"] = [500, 500]
    add_channel(session_factory, target=receiver.url("/flaky"))
    item_id = enqueue(session_factory, "ops-hook")
    rand = random.Random(3).random
    pol = BackoffPolicy(base=timedelta(seconds=10), cap=timedelta(minutes=10), max_attempts=5)

    now = T0
    schedule = []
    for attempt in (1, 2):
        report = flows.deliver_due(session_factory, now=now, senders=senders, policy=pol, rand=rand)
        assert report == flows.DeliveryReport(claimed=1, retried=1)
        item = row(session_factory, item_id)
        assert (item.status, item.attempts, item.last_status_code) == ("pending", attempt, 500)
        assert item.last_error is not None
        assert "HTTP 500" in item.last_error
        assert item.next_attempt_at is not None
        assert now < item.next_attempt_at <= now + pol.base * 2 ** (attempt - 1)
        # Not due before its time.
        early = flows.deliver_due(
            session_factory,
            now=item.next_attempt_at - timedelta(milliseconds=1),
            senders=senders,
            policy=pol,
            rand=rand,
        )
        assert early.claimed == 0
        schedule.append(item.next_attempt_at)
        now = item.next_attempt_at
    assert schedule[0] < schedule[1]
    final = flows.deliver_due(session_factory, now=now, senders=senders, policy=pol, rand=rand)
    assert final == flows.DeliveryReport(claimed=1, sent=1)
    item = row(session_factory, item_id)
    assert (item.status, item.attempts, item.sent_at) == ("sent", 3, now)
    assert receiver.counts() == {"alert-42:page:1": 3}
    bodies = {h.body for h in receiver.hits}
    assert len(bodies) == 1  # every retry carries the same body


def test_refused_until_dead_then_retried_through_the_api(
    session_factory: sessionmaker[Session],
    client: TestClient,
    receiver: WebhookReceiver,
    senders: flows.Senders,
    viewer_headers: dict[str, str],
    responder_headers: dict[str, str],
) -> None:
    from ninefold.notification.models import NotificationChannel

    add_channel(session_factory, target=f"http://127.0.0.1:{closed_port()}/hook")
    item_id = enqueue(session_factory, "ops-hook")
    pol = BackoffPolicy(base=timedelta(seconds=1), cap=timedelta(seconds=30), max_attempts=4)
    rand = random.Random(11).random
    now = T0
    outcomes = []
    for _ in range(4):
        report = flows.deliver_due(session_factory, now=now, senders=senders, policy=pol, rand=rand)
        outcomes.append((report.retried, report.dead))
        item = row(session_factory, item_id)
        now = item.next_attempt_at or now
    assert outcomes == [(1, 0), (1, 0), (1, 0), (0, 1)]
    dead = row(session_factory, item_id)
    assert (dead.status, dead.attempts, dead.next_attempt_at) == ("dead", 4, None)
    assert dead.last_error is not None
    assert dead.last_error.startswith("attempt 4:")

    letters = client.get(
        "/api/v1/notifications", params={"status": "dead"}, headers=viewer_headers
    ).json()
    assert letters["total"] == 1
    assert letters["items"][0]["id"] == item_id
    assert letters["items"][0]["attempts"] == 4

    # The receiver comes back; the operator points the channel at it and retries the letter.
    with session_factory() as session, session.begin():
        session.scalars(select(NotificationChannel)).one().target = receiver.url("/hook")
    retried = client.post(f"/api/v1/notifications/{item_id}/retry", headers=responder_headers)
    assert retried.status_code == 200, retried.text
    assert (retried.json()["status"], retried.json()["attempts"]) == ("pending", 0)
    assert (
        client.post(f"/api/v1/notifications/{item_id}/retry", headers=responder_headers).status_code
        == 409
    )
    # The API's clock is T0: the requeued letter is due at once.
    assert flows.deliver_due(session_factory, now=T0, senders=senders).sent == 1
    assert receiver.counts() == {"alert-42:page:1": 1}
    assert (
        client.get(
            "/api/v1/notifications", params={"status": "dead"}, headers=viewer_headers
        ).json()["total"]
        == 0
    )


def test_permanent_failure_is_dead_at_once(
    session_factory: sessionmaker[Session], receiver: WebhookReceiver, senders: flows.Senders
) -> None:
    receiver.script["/bad"] = [400]
    add_channel(session_factory, target=receiver.url("/bad"))
    item_id = enqueue(session_factory, "ops-hook")
    assert flows.deliver_due(session_factory, now=T0, senders=senders) == flows.DeliveryReport(
        claimed=1, dead=1
    )
    item = row(session_factory, item_id)
    assert (item.status, item.attempts, item.last_status_code) == ("dead", 1, 400)
    assert len(receiver.hits) == 1


def test_disabled_channel_and_missing_smtp(
    session_factory: sessionmaker[Session], receiver: WebhookReceiver, senders: flows.Senders
) -> None:
    add_channel(session_factory, "off", target=receiver.url("/off"), enabled=False)
    add_channel(session_factory, "mail", kind="email", target="ops@example.com", secret=None)
    off = enqueue(session_factory, "off", "k-off")
    mail = enqueue(session_factory, "mail", "k-mail")
    report = flows.deliver_due(session_factory, now=T0, senders=senders)
    assert (report.dead, report.retried) == (1, 1)
    assert row(session_factory, off).status == "dead"
    assert "disabled" in (row(session_factory, off).last_error or "")
    assert "SMTP" in (row(session_factory, mail).last_error or "")
    assert receiver.hits == []


def test_expired_lease_is_claimed_again_and_the_stale_result_ignored(
    session_factory: sessionmaker[Session], receiver: WebhookReceiver, senders: flows.Senders
) -> None:
    add_channel(session_factory, target=receiver.url("/hook"))
    item_id = enqueue(session_factory, "ops-hook")
    lease = timedelta(minutes=5)
    # A worker claims the row and "crashes" before sending.
    (claim,) = flows._claim(session_factory, now=T0, limit=10, lease=lease)
    assert row(session_factory, item_id).status == "sending"
    assert flows.deliver_due(session_factory, now=T0 + lease / 2, senders=senders).claimed == 0
    report = flows.deliver_due(session_factory, now=T0 + lease, senders=senders)
    assert report == flows.DeliveryReport(claimed=1, sent=1)
    assert row(session_factory, item_id).attempts == 2
    # The crashed worker wakes up and tries to record a failure: its lease is gone.
    from ninefold.integrations.notify.senders import DeliveryOutcome, DeliveryResult

    stale = DeliveryResult(DeliveryOutcome.RETRYABLE, "late")
    outcome = flows._record(
        session_factory, claim, stale, now=T0, policy=BackoffPolicy(), rand=random.random
    )
    assert outcome == "lost"
    assert row(session_factory, item_id).status == "sent"


def test_concurrent_deliveries_send_each_row_once(
    db_url: str, session_factory: sessionmaker[Session], receiver: WebhookReceiver
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("replicas share work only on PostgreSQL (SQLite is one process)")
    receiver.delay = 0.005
    add_channel(session_factory, target=receiver.url("/hook"))
    keys = [f"alert-{i}:page:1" for i in range(60)]
    with session_factory() as session, session.begin():
        for key in keys:
            flows.enqueue(session, channel="ops-hook", notification=note(key), now=T0)
    barrier = threading.Barrier(4)
    reports: list[flows.DeliveryReport] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with WebhookSender(timeout=5.0) as webhook:
                senders = flows.Senders(webhook=webhook)
                barrier.wait()
                while True:
                    report = flows.deliver_due(session_factory, now=T0, senders=senders, limit=4)
                    reports.append(report)
                    if report.claimed == 0:
                        return
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert receiver.counts() == dict.fromkeys(keys, 1)
    assert sum(r.sent for r in reports) == len(keys)
    with session_factory() as session:
        assert set(session.scalars(select(OutboxItem.status))) == {"sent"}


def test_claim_skips_rows_another_replica_holds(
    db_url: str, session_factory: sessionmaker[Session], receiver: WebhookReceiver
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("FOR UPDATE SKIP LOCKED is PostgreSQL's")
    add_channel(session_factory, target=receiver.url("/hook"))
    keys = [f"alert-{i}:page:1" for i in range(6)]
    with session_factory() as session, session.begin():
        for key in keys:
            flows.enqueue(session, channel="ops-hook", notification=note(key), now=T0)
    reports: list[flows.DeliveryReport] = []
    # Another replica is in the middle of claiming the three oldest rows (locks held).
    with session_factory() as other, other.begin():
        held = {r.idempotency_key for r in store.due_items(other, now=T0, limit=3)}
        assert len(held) == 3

        def replica() -> None:
            with WebhookSender(timeout=5.0) as webhook:
                reports.append(
                    flows.deliver_due(
                        session_factory, now=T0, senders=flows.Senders(webhook=webhook)
                    )
                )

        thread = threading.Thread(target=replica, daemon=True)
        thread.start()
        thread.join(timeout=10)
        assert not thread.is_alive(), "the claim waited for another replica's row locks"
        other.rollback()
    assert reports == [flows.DeliveryReport(claimed=3, sent=3)]
    assert set(receiver.counts()) == set(keys) - held


class Mailbox:
    """An aiosmtpd handler keeping every message."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


def test_email_through_a_real_smtp_server(session_factory: sessionmaker[Session]) -> None:
    mailbox = Mailbox()
    port = closed_port()
    controller = aiosmtpd_controller.Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        add_channel(session_factory, "mail", kind="email", target="ops@example.com", secret=None)
        item_id = enqueue(session_factory, "mail")
        smtp = SmtpSender(host="127.0.0.1", port=port, from_address="ninefold@example.com")
        with WebhookSender() as webhook:
            senders = flows.Senders(webhook=webhook, email=smtp)
            assert flows.deliver_due(session_factory, now=T0, senders=senders).sent == 1
    finally:
        controller.stop()
    ((mail_from, rcpts, raw),) = mailbox.messages
    assert (mail_from, rcpts) == ("ninefold@example.com", ["ops@example.com"])
    message = message_from_bytes(raw, policy=policy.default)
    assert note().title in str(message["Subject"])
    assert row(session_factory, item_id).status == "sent"


def test_engine_job_uses_real_senders_and_counts(
    session_factory: sessionmaker[Session], receiver: WebhookReceiver, db_url: str
) -> None:
    receiver.script["/hook"] = [503]
    add_channel(session_factory, target=receiver.url("/hook"))
    for i in range(jobs.BATCH + 5):
        enqueue(session_factory, "ops-hook", f"k{i}")
    clock = FrozenClock(T0)
    state = SimpleNamespace(
        settings=Settings(database_url=db_url, engine_enabled=False),
        session_factory=session_factory,
        clock=clock,
        metrics=make_metrics(),
    )
    report = jobs.run_with_state(state)
    assert (report.claimed, report.sent, report.retried) == (jobs.BATCH + 5, jobs.BATCH + 4, 1)
    assert (
        state.metrics.registry.get_sample_value("ninefold_notifications_total", {"result": "sent"})
        == jobs.BATCH + 4
    )
    assert isinstance(state.notification_senders, flows.Senders)
    state.notification_senders.webhook.close()
