"""Build the SLI sources a deployment is configured with."""

from __future__ import annotations

from datetime import timedelta

from ninefold.config import Settings
from ninefold.slo.flows import IngestLimits
from ninefold.slo.sources import Source


def prometheus_source(settings: Settings) -> Source | None:
    """The configured Prometheus source, or None when NINEFOLD_PROMETHEUS_URL is unset."""
    if not settings.prometheus_url:
        return None
    from ninefold.slo.prometheus import PrometheusSource

    return PrometheusSource(settings.prometheus_url, timeout=settings.prometheus_timeout_seconds)


def ingest_limits(settings: Settings) -> IngestLimits:
    """Accepted event age and clock skew from settings."""
    return IngestLimits(
        max_age=timedelta(days=settings.max_event_age_days),
        max_future=timedelta(seconds=settings.max_event_future_seconds),
    )
