"""ninefold's own Prometheus metrics, held in a per-application registry."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class Metrics:
    """The metrics one ninefold application exposes at /metrics."""

    registry: CollectorRegistry
    http_requests: Counter
    http_duration: Histogram
    slo_events: Counter
    slo_batches: Counter
    evaluations: Counter
    evaluation_duration: Histogram
    slo_budget_remaining: Gauge
    slo_sli: Gauge
    slo_burn_rate: Gauge
    alerts_firing: Gauge
    alerts_received: Counter
    notifications: Counter
    engine_leader: Gauge


def make_metrics() -> Metrics:
    """Create a fresh registry and every metric in it."""
    reg = CollectorRegistry()
    return Metrics(
        registry=reg,
        http_requests=Counter(
            "ninefold_http_requests",
            "HTTP requests served",
            ["method", "route", "status"],
            registry=reg,
        ),
        http_duration=Histogram(
            "ninefold_http_request_duration_seconds",
            "HTTP request latency",
            ["route"],
            registry=reg,
        ),
        slo_events=Counter(
            "ninefold_slo_events_ingested", "pushed SLO events stored", registry=reg
        ),
        slo_batches=Counter(
            "ninefold_slo_event_batches", "pushed SLO event batches", ["result"], registry=reg
        ),
        evaluations=Counter(
            "ninefold_slo_evaluations", "SLO engine evaluation runs", ["result"], registry=reg
        ),
        evaluation_duration=Histogram(
            "ninefold_slo_evaluation_duration_seconds", "time for one full evaluation", registry=reg
        ),
        slo_budget_remaining=Gauge(
            "ninefold_slo_error_budget_remaining_ratio",
            "remaining error budget fraction at the last evaluation",
            ["slo", "service"],
            registry=reg,
        ),
        slo_sli=Gauge(
            "ninefold_slo_sli_ratio", "SLI over the SLO window", ["slo", "service"], registry=reg
        ),
        slo_burn_rate=Gauge(
            "ninefold_slo_burn_rate",
            "burn rate per window",
            ["slo", "service", "window"],
            registry=reg,
        ),
        alerts_received=Counter(
            "ninefold_alerts_received",
            "inbound alerts by source and outcome",
            ["source", "outcome"],
            registry=reg,
        ),
        notifications=Counter(
            "ninefold_notifications",
            "outbox delivery attempts by result (sent, retried, dead, lost)",
            ["result"],
            registry=reg,
        ),
        alerts_firing=Gauge(
            "ninefold_slo_alerts_firing", "burn-rate alerts firing", ["severity"], registry=reg
        ),
        engine_leader=Gauge(
            "ninefold_engine_leader",
            "1 while this replica runs the engine module (holds its advisory lock), else 0",
            ["module"],
            registry=reg,
        ),
    )
