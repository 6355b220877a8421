"""Scheduled reports: once per period per schedule through the notification outbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from ninefold.config import Settings
from ninefold.core.clock import FrozenClock
from ninefold.errors import ConfigError
from ninefold.integrations.notify.payloads import email_message
from ninefold.notification import store as outbox_store
from ninefold.notification.flows import notification_from_document
from ninefold.notification.models import OutboxItem
from ninefold.report.jobs import ReportSchedule, load_schedules, run_with_state
from tests import factories

NOW = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)


def test_scheduled_reports_once_per_period(
    engine: Engine, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    with session_factory() as s, s.begin():
        team = factories.team(s, "payments", NOW)
        factories.service(s, "checkout", team, NOW)
        outbox_store.add_channel(
            s,
            name="payments-email",
            kind="email",
            target="team@example.com",
            secret=None,
            enabled=True,
            now=NOW,
        )
    clock = FrozenClock(NOW)
    state = SimpleNamespace(
        engine=engine,
        session_factory=session_factory,
        clock=clock,
        settings=settings,
        report_schedules=[
            ReportSchedule(period="monthly", team="payments", channel="payments-email"),
            ReportSchedule(name="org", period="weekly", channel="payments-email"),
            ReportSchedule(name="broken", period="weekly", channel="nope"),
        ],
    )
    first = run_with_state(state)
    assert [(d.key, d.queued) for d in first[:2]] == [
        ("report:payments-monthly:2026-10:payments-email", True),
        ("report:org:2026-W44:payments-email", True),
    ]
    assert first[2].queued is False
    assert first[2].error is not None
    # the same periods again: nothing new
    clock.advance(timedelta(hours=1))
    assert [d.queued for d in run_with_state(state)[:2]] == [False, False]
    # a week later: a new weekly report, the monthly one stays sent
    clock.advance(timedelta(days=7))
    assert [d.queued for d in run_with_state(state)[:2]] == [False, True]
    with session_factory() as s:
        items = s.scalars(select(OutboxItem).order_by(OutboxItem.id)).all()
        assert len(items) == 3
        note = notification_from_document(items[0].notification)
    assert note.title == "Reliability scorecard 2026-10 — team payments"
    assert note.summary.startswith("# Reliability scorecard 2026-10")
    assert note.links.view is not None
    assert "format=html" in note.links.view
    assert "team=payments" in note.links.view
    msg = email_message(note, sender="ninefold@example.com", recipients=["team@example.com"])
    assert "Report" in msg["Subject"]


def test_reports_file(tmp_path: Path) -> None:
    path = tmp_path / "reports.yaml"
    path.write_text(
        "reports:\n  - {period: weekly, team: payments, channel: mail}\n", encoding="utf-8"
    )
    (only,) = load_schedules(path)
    assert only.key_name == "payments-weekly"
    path.write_text("reports:\n  - {period: daily, channel: mail}\n", encoding="utf-8")
    with pytest.raises(ConfigError):
        load_schedules(path)
    with pytest.raises(ConfigError):
        load_schedules(tmp_path / "missing.yaml")
