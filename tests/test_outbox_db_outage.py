"""Delivery while the database goes away between sending and recording: the result is recorded
once the database answers again (inside the lease), so the notification is not sent twice; past
the lease the error propagates and the row is left to be claimed again. And the retry settings."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ninefold.config import Settings
from ninefold.integrations.notify.senders import RecordingSender
from ninefold.notification import flows
from ninefold.notification.jobs import retry_policy
from tests.test_outbox import T0, add_channel
from tests.test_outbox_delivery import enqueue, row


class _Away:
    """What a session factory hands out while the database is unreachable."""

    def __enter__(self) -> Any:
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("database away"))

    def __exit__(self, *_: object) -> None:
        return None


class Flaky:
    """A session factory whose calls ``away`` (1-based) fail as if the database were down."""

    def __init__(self, factory: sessionmaker[Session], away: set[int]) -> None:
        self.factory, self.away, self.calls = factory, away, 0

    def __call__(self) -> Any:
        self.calls += 1
        return _Away() if self.calls in self.away else self.factory()


def test_result_recorded_when_the_database_is_back(
    session_factory: sessionmaker[Session],
) -> None:
    add_channel(session_factory, "hook")
    item_id = enqueue(session_factory, "hook")
    sender = RecordingSender()
    flaky = Flaky(session_factory, away={2, 3})  # call 1 claims; 2 and 3 would record
    report = flows.deliver_due(
        flaky,  # type: ignore[arg-type]
        now=T0,
        senders=flows.Senders(webhook=sender),
        lease=timedelta(seconds=30),
    )
    assert (report.sent, len(sender.deliveries), flaky.calls) == (1, 1, 4)
    assert row(session_factory, item_id).status == "sent"


def test_past_the_lease_the_error_propagates_and_the_row_stays_claimed(
    session_factory: sessionmaker[Session],
) -> None:
    add_channel(session_factory, "hook")
    item_id = enqueue(session_factory, "hook")
    flaky = Flaky(session_factory, away=set(range(2, 100)))
    with pytest.raises(OperationalError):
        flows.deliver_due(
            flaky,  # type: ignore[arg-type]
            now=T0,
            senders=flows.Senders(webhook=RecordingSender()),
            lease=timedelta(seconds=1),
        )
    item = row(session_factory, item_id)
    assert (item.status, item.next_attempt_at) == ("sending", T0 + timedelta(seconds=1))


def test_retry_policy_from_settings() -> None:
    policy = retry_policy(
        Settings(notification_retry_base_seconds=0.5, notification_max_attempts=4)
    )
    assert (policy.base, policy.max_attempts) == (timedelta(seconds=0.5), 4)
    assert policy.cap == timedelta(minutes=15)
    wide = retry_policy(Settings(notification_retry_base_seconds=3600))
    assert wide.cap == wide.base == timedelta(hours=1)
    with pytest.raises(ValueError, match="notification_max_attempts"):
        Settings(notification_max_attempts=0)
