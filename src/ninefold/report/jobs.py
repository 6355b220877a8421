"""Scheduled reports: once per period, render a team's scorecard and queue it to a channel.

The schedule is YAML (``NINEFOLD_REPORTS_FILE``, or ``state.report_schedules`` already parsed)::

    reports:
      - name: payments-monthly      # optional, default <team or all>-<period>
        period: monthly             # or weekly
        team: payments              # optional; also service, tier
        channel: payments-email     # a notification channel

Each run looks at the last *complete* week or month. The outbox idempotency key
``report:<name>:<period label>:<channel>`` makes the delivery once per period: a key already
queued is skipped before any number is computed, and a concurrent duplicate enqueue adds nothing.

The outbound notification formats escape their summary (email HTML included), so the message
carries the Markdown summary as its text and a link to the full HTML report
(``GET /api/v1/reports/scorecard?…&format=html``) as its view link.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field
from ruamel.yaml import YAML
from sqlalchemy.orm import Session

from ninefold.db.engine import write_lock
from ninefold.errors import ConfigError, NinefoldError
from ninefold.integrations.notify.message import (
    Notification,
    NotificationKind,
    NotificationLinks,
    Severity,
)
from ninefold.notification import store as outbox_store
from ninefold.notification.flows import enqueue
from ninefold.report import render
from ninefold.report.flows import scorecard
from ninefold.report.period import Period, previous_period

log = logging.getLogger("ninefold.report")

ENV_FILE = "NINEFOLD_REPORTS_FILE"


class ReportSchedule(BaseModel):
    """One scheduled report."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=100)
    period: Literal["weekly", "monthly"]
    team: str | None = None
    service: str | None = None
    tier: int | None = None
    channel: str = Field(min_length=1, max_length=100)

    @property
    def key_name(self) -> str:
        """The name used in idempotency keys."""
        return self.name or f"{self.team or self.service or 'all'}-{self.period}"


class ReportsFile(BaseModel):
    """The ``reports:`` document."""

    model_config = ConfigDict(extra="forbid")

    reports: list[ReportSchedule] = Field(default_factory=list)


def load_schedules(path: Path) -> list[ReportSchedule]:
    """Parse a reports YAML file; ConfigError names what is wrong."""
    try:
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8")) or {}
        return ReportsFile.model_validate(data).reports
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read reports file: {exc.strerror}") from None
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _schedules(state: Any) -> list[ReportSchedule]:
    given = getattr(state, "report_schedules", None)
    if given is not None:
        return list(given)
    path = os.environ.get(ENV_FILE)
    return load_schedules(Path(path)) if path else []


def _kind(period: str) -> str:
    return "week" if period == "weekly" else "month"


def idempotency_key(schedule: ReportSchedule, period: Period) -> str:
    """The outbox key of one report delivery."""
    return f"report:{schedule.key_name}:{period.label}:{schedule.channel}"


@dataclass(frozen=True)
class Delivery:
    """What one run did for one schedule."""

    key: str
    queued: bool
    error: str | None = None


def deliver(
    session: Session, schedule: ReportSchedule, *, now: datetime, public_url: str
) -> Delivery:
    """Queue the report of the last complete period unless it was queued already."""
    period = previous_period(_kind(schedule.period), now)
    key = idempotency_key(schedule, period)
    if outbox_store.item_by_key(session, idempotency_key=key) is not None:
        return Delivery(key, False)
    card = scorecard(
        session,
        period=period,
        now=now,
        team=schedule.team,
        service=schedule.service,
        tier=schedule.tier,
    )
    params = {"period": period.label, "format": "html"}
    for name in ("team", "service", "tier"):
        value = getattr(schedule, name)
        if value is not None:
            params[name] = str(value)
    link = f"{public_url.rstrip('/')}/api/v1/reports/scorecard?{urlencode(params)}"
    o, d, i = card.slo.overall, card.dora, card.incidents
    note = Notification(
        idempotency_key=key,
        kind=NotificationKind.REPORT,
        title=render.title(card),
        summary=render.to_markdown(card),
        severity=Severity.INFO,
        service=schedule.team or schedule.service or "all services",
        occurred_at=now,
        annotations={
            "SLO attainment": render.pct(o.attainment),
            "incidents": str(i.total),
            "median time to resolve": render.duration(i.time_to_resolve.median),
            "change failure rate": render.pct(d.change_failure_rate),
        },
        links=NotificationLinks(view=link),
    )
    enqueue(session, channel=schedule.channel, notification=note, now=now)
    return Delivery(key, True)


def run(
    session: Session, *, schedules: list[ReportSchedule], now: datetime, public_url: str
) -> list[Delivery]:
    """Deliver every due scheduled report; one failing schedule does not stop the others."""
    out = []
    for schedule in schedules:
        try:
            with session.begin_nested():
                out.append(deliver(session, schedule, now=now, public_url=public_url))
        except NinefoldError as exc:
            log.warning("scheduled report %s: %s", schedule.key_name, exc.message)
            out.append(Delivery(schedule.key_name, False, exc.message))
    return out


def run_with_state(state: Any) -> list[Delivery]:
    """Engine entry point: deliver due scheduled reports in one transaction."""
    schedules = _schedules(state)
    if not schedules:
        return []
    with write_lock(state.engine), state.session_factory() as session, session.begin():
        return run(
            session,
            schedules=schedules,
            now=state.clock.now(),
            public_url=state.settings.public_url,
        )
