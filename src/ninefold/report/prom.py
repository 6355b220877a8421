"""Headline report figures per team as Prometheus gauges at ``/metrics``, over the last 30 days,
computed on scrape and cached for 60 s."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from prometheus_client.core import GaugeMetricFamily

from ninefold.report.flows import TeamHeadline, team_headlines
from ninefold.report.period import period_between

log = logging.getLogger("ninefold.report")

WINDOW = timedelta(days=30)
CACHE_SECONDS = 60.0

_FAMILIES = (
    (
        "ninefold_report_slo_attainment_ratio",
        "SLOs that met their objective / SLOs with data, last 30 days",
    ),
    (
        "ninefold_report_time_to_resolve_median_seconds",
        "median incident time to resolve, last 30 days",
    ),
    ("ninefold_report_deploys_per_day", "deploys per day, last 30 days"),
    ("ninefold_report_change_failure_ratio", "failed deploys / deploys, last 30 days"),
    ("ninefold_report_incidents", "incidents started in the last 30 days"),
)


class ReportCollector:
    """A prometheus_client collector reading the database through the app state."""

    def __init__(self, state: Any) -> None:
        self._state = state
        self._lock = threading.Lock()
        self._cached: tuple[float, list[TeamHeadline]] | None = None

    def describe(self) -> list[GaugeMetricFamily]:
        """The families, without touching the database at registration."""
        return [GaugeMetricFamily(n, h, labels=["team"]) for n, h in _FAMILIES]

    def _headlines(self) -> list[TeamHeadline]:
        with self._lock:
            if self._cached is not None and time.monotonic() - self._cached[0] < CACHE_SECONDS:
                return self._cached[1]
            now = self._state.clock.now()
            end = now.replace(second=0, microsecond=0)
            with self._state.session_factory() as session:
                rows = team_headlines(session, period=period_between(end - WINDOW, end))
            self._cached = (time.monotonic(), rows)
            return rows

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """One sample per team and family; nothing when the database cannot be read."""
        try:
            rows = self._headlines()
        except Exception:  # a scrape must not fail because a report query did
            log.exception("report gauges: could not compute")
            return
        fams = [GaugeMetricFamily(n, h, labels=["team"]) for n, h in _FAMILIES]
        for r in rows:
            for fam, value in zip(
                fams,
                (
                    r.slo_attainment,
                    r.time_to_resolve_median,
                    r.deploys_per_day,
                    r.change_failure_rate,
                    float(r.incidents),
                ),
                strict=True,
            ):
                if value is not None:
                    fam.add_metric([r.team], value)
        yield from fams
