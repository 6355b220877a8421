"""PromQL building for SLO specs (pure; evaluation is covered with promtool and a real server)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from ninefold.catalog.spec import SLOSpec
from ninefold.errors import InvalidInput
from ninefold.slo import promql


def slo(sli: dict[str, Any], **extra: Any) -> SLOSpec:
    return SLOSpec.model_validate(
        {
            "name": "api-errors",
            "service": "shop",
            "objective": 0.99,
            "source": "prometheus",
            "sli": sli,
            **extra,
        }
    )


PLAIN = slo({"ratio": {"bad": 'http_requests_total{code=~"5.."}', "total": "http_requests_total"}})
TEMPLATED = slo(
    {
        "ratio": {
            "good": 'sum(rate(http_requests_total{code!~"5.."}[{{.window}}]))',
            "total": "sum(rate(http_requests_total[{{ .window }}]))",
        }
    }
)


def test_template_detection_and_rendering() -> None:
    assert promql.is_templated("sum(rate(x[{{.window}}]))")
    assert promql.is_templated("sum(rate(x[{{ .window }}]))")
    assert not promql.is_templated('x{a="b"}')
    assert promql.render_window("rate(x[{{.window}}]) / rate(y[{{ .window }}])", "5m") == (
        "rate(x[5m]) / rate(y[5m])"
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("http_requests_total", True),
        ('http_requests_total{job="api",code!~"5.."}', True),
        ('{__name__="up"}', True),
        ('x{path="/a{b}"}', True),
        ("sum(x)", False),
        ("x + y", False),
        ("rate(x[5m])", False),
        ("", False),
    ],
)
def test_selector_detection(query: str, expected: bool) -> None:
    assert promql.is_selector(query) is expected


def test_plain_counters_become_increases_over_whole_seconds() -> None:
    exprs = promql.event_exprs(PLAIN, 30 * 86400)
    assert exprs.good is None
    assert exprs.bad == 'sum(increase(http_requests_total{code=~"5.."}[2592000s]))'
    assert exprs.total == "sum(increase(http_requests_total[2592000s]))"


def test_templated_rates_are_rendered_and_scaled_to_events() -> None:
    exprs = promql.event_exprs(TEMPLATED, 3600)
    assert exprs.bad is None
    assert exprs.good is not None
    for expr in (exprs.good, exprs.total):
        assert "{{" not in expr
        assert "[3600s]" in expr
        assert expr.endswith("* 3600")


def test_latency_counts_buckets_at_the_threshold() -> None:
    spec = slo(
        {
            "latency": {
                "histogram": "http_request_duration_seconds",
                "threshold": 0.3,
                "selector": 'job="api"',
            }
        }
    )
    exprs = promql.event_exprs(spec, 300)
    assert exprs.good == (
        'sum(increase(http_request_duration_seconds_bucket{job="api",le="0.3"}[300s]))'
    )
    assert exprs.total == 'sum(increase(http_request_duration_seconds_count{job="api"}[300s]))'


def test_integral_threshold_matches_both_go_and_python_spellings() -> None:
    matcher = promql.le_matcher(1.0)
    pattern = re.fullmatch(r'le=~"(.*)"', matcher)
    assert pattern is not None
    regex = pattern.group(1).replace("\\\\", "\\")  # PromQL string unescaping
    assert re.fullmatch(regex, "1")
    assert re.fullmatch(regex, "1.0")
    assert not re.fullmatch(regex, "10")
    assert not re.fullmatch(regex, "1.5")


def test_availability_counts_probe_samples() -> None:
    spec = slo({"availability": {"probe": 'probe_success{job="blackbox"}'}})
    exprs = promql.event_exprs(spec, 600)
    assert exprs.good == 'sum(sum_over_time(probe_success{job="blackbox"}[600s]))'
    assert exprs.total == 'sum(count_over_time(probe_success{job="blackbox"}[600s]))'


def test_sloth_template_keeps_the_placeholder() -> None:
    for spec in (PLAIN, TEMPLATED):
        template = promql.sli_error_template(spec)
        assert promql.is_templated(template)
        rendered = promql.render_window(template, "5m")
        assert rendered == promql.error_ratio_expr(spec, "5m")
        assert "[5m]" in rendered


def test_error_ratio_is_guarded_against_zero_traffic_and_missing_bad_series() -> None:
    expr = promql.error_ratio_expr(PLAIN, "1h")
    assert "or vector(0)" in expr
    assert "> 0)" in expr


def test_expressions_that_cannot_be_counted_are_rejected_with_the_slo_name() -> None:
    spec = slo({"ratio": {"bad": "x + y", "total": "z"}})
    with pytest.raises(InvalidInput, match="api-errors") as info:
        promql.event_exprs(spec, 60)
    assert "{{.window}}" in info.value.message
    with pytest.raises(InvalidInput, match="probe"):
        promql.event_exprs(slo({"availability": {"probe": "avg(probe_success)"}}), 60)


def test_push_slo_has_no_queries() -> None:
    spec = SLOSpec.model_validate(
        {"name": "x", "service": "s", "objective": 0.9, "sli": {"ratio": {}}}
    )
    with pytest.raises(InvalidInput, match="no PromQL"):
        promql.event_exprs(spec, 60)


def test_range_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        promql.range_of(0)
