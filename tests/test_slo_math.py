"""Pure SLO math: windows, bucket decomposition, budget, burn rates, alert decisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ninefold.catalog.spec import SLOSpec
from ninefold.slo.alerting import decide, thresholds
from ninefold.slo.budget import evaluate
from ninefold.slo.sources import Counts
from ninefold.slo.windows import decompose, slo_window

DAY = 86400
BASE = 1_790_000_000 // DAY * DAY  # a UTC midnight in 2026


@given(
    st.integers(min_value=0, max_value=60 * DAY // 60),
    st.integers(min_value=0, max_value=60 * DAY // 60),
)
def test_decompose_covers_range_exactly(a: int, b: int) -> None:
    start, end = BASE + 60 * min(a, b), BASE + 60 * max(a, b)
    parts = decompose(start, end)
    covered = sorted((lo, hi) for _res, lo, hi in parts)
    # contiguous, disjoint, exactly [start, end)
    pos = start
    for lo, hi in covered:
        assert lo == pos
        assert hi > lo
        pos = hi
    assert pos == end or (start == end and not parts)
    for res, lo, hi in parts:
        assert lo % res == 0
        assert hi % res == 0
    # cost does not grow with the window: bounded number of buckets for any length
    buckets = sum((hi - lo) // res for res, lo, hi in parts)
    assert buckets <= 2 * (9 + 5 + 23) + 60


def test_decompose_rejects_unaligned() -> None:
    with pytest.raises(ValueError, match="minutes"):
        decompose(BASE + 1, BASE + 120)


def _spec(**kw: object) -> SLOSpec:
    base = {"name": "x", "service": "s", "objective": 0.99, "sli": {"ratio": {}}}
    base.update(kw)
    return SLOSpec.model_validate(base)


def test_rolling_window_bounds() -> None:
    at = datetime(2026, 11, 20, 12, 34, 56, tzinfo=UTC)
    bounds = slo_window(_spec(window={"rolling": "28d"}), at)
    assert bounds.end == datetime(2026, 11, 20, 12, 34, tzinfo=UTC)
    assert bounds.end - bounds.start == timedelta(days=28)
    assert bounds.period_seconds == 28 * DAY


def test_calendar_month_in_time_zone_across_dst() -> None:
    # Berlin leaves summer time on 2026-10-25; October has 31 days and one extra hour.
    spec = _spec(window={"calendar": "month", "timezone": "Europe/Berlin"})
    bounds = slo_window(spec, datetime(2026, 10, 30, 12, tzinfo=UTC))
    assert bounds.start == datetime(2026, 9, 30, 22, tzinfo=UTC)  # 1 Oct 00:00 CEST
    assert bounds.period_seconds == 31 * DAY + 3600
    # 31 Oct 23:30 UTC is already November in Berlin (00:30 CET)
    nov = slo_window(spec, datetime(2026, 10, 31, 23, 30, tzinfo=UTC))
    assert nov.start == datetime(2026, 10, 31, 23, tzinfo=UTC)
    assert nov.period_seconds == 30 * DAY


def test_calendar_quarter_and_week() -> None:
    q = slo_window(
        _spec(window={"calendar": "quarter", "timezone": "UTC"}), datetime(2026, 11, 21, tzinfo=UTC)
    )
    assert q.start == datetime(2026, 10, 1, tzinfo=UTC)
    assert q.period_seconds == 92 * DAY
    w = slo_window(
        _spec(window={"calendar": "week", "timezone": "America/New_York"}),
        datetime(2026, 11, 21, 12, tzinfo=UTC),
    )
    assert w.start == datetime(2026, 11, 16, 5, tzinfo=UTC)  # Monday 00:00 EST


def _eval(
    window: Counts | None, rates: dict[str, Counts | None] | None = None, **kw: object
) -> object:
    args: dict[str, object] = {
        "objective": 0.99,
        "budgeting": "occurrences",
        "window": window,
        "burn_windows": rates or {},
        "recent": window,
        "period_seconds": 30 * DAY,
        "nominal_period_seconds": 30 * DAY,
    }
    args.update(kw)
    return evaluate(**args)  # type: ignore[arg-type]


def test_sli_is_weighted_by_events_not_averaged() -> None:
    # Two halves: 1,000 requests with 10% errors and 9,000 with none. Averaging ratios gives 95%;
    # weighting by events gives 99%.
    window = Counts(good=900 + 9000, total=10_000)
    ev = _eval(window)
    assert ev.sli == pytest.approx(0.99)  # type: ignore[attr-defined]
    assert ev.consumed_fraction == pytest.approx(1.0)  # type: ignore[attr-defined]
    assert ev.budget_total == pytest.approx(100.0)  # type: ignore[attr-defined]
    assert ev.status == "exhausted"  # type: ignore[attr-defined]


def test_zero_traffic_is_no_data_not_nan_or_perfect() -> None:
    for window in (None, Counts(0, 0)):
        ev = _eval(window)
        assert ev.status == "no_data"  # type: ignore[attr-defined]
        assert ev.sli is None  # type: ignore[attr-defined]
        assert ev.remaining_fraction is None  # type: ignore[attr-defined]
        assert ev.objective_met is None  # type: ignore[attr-defined]


def test_budget_remaining_and_time_to_exhaustion() -> None:
    window = Counts(good=99_500, total=100_000)  # 500 bad of 1,000 allowed
    hour = Counts(good=980, total=1000)  # 2% errors: burn rate 2
    ev = _eval(window, {"1h": hour})
    assert ev.remaining_fraction == pytest.approx(0.5)  # type: ignore[attr-defined]
    assert ev.budget_remaining == pytest.approx(500)  # type: ignore[attr-defined]
    assert ev.burn_rates["1h"] == pytest.approx(2.0)  # type: ignore[attr-defined]
    # half the budget left at burn 2: 0.5 × 30d / 2 = 7.5 days
    assert ev.time_to_exhaustion_seconds == pytest.approx(7.5 * DAY)  # type: ignore[attr-defined]
    assert ev.status == "healthy"  # type: ignore[attr-defined]


def test_stale_when_recent_data_missing() -> None:
    ev = _eval(Counts(999, 1000), recent=None)
    assert ev.status == "stale"  # type: ignore[attr-defined]
    assert [a.firing for a in ev.alerts if a.severity == "no_data"] == [True]  # type: ignore[attr-defined]


def test_timeslices_budget_counts_slices() -> None:
    window = Counts(good=0, total=1000, good_slices=95, total_slices=100)
    ev = _eval(window, budgeting="timeslices", objective=0.9)
    assert ev.sli == pytest.approx(0.95)  # type: ignore[attr-defined]
    assert ev.unit == "timeslices"  # type: ignore[attr-defined]
    assert ev.remaining_fraction == pytest.approx(0.5)  # type: ignore[attr-defined]


def test_thresholds_match_sre_workbook_for_30d_and_scale_for_28d() -> None:
    assert [round(t[3], 6) for t in thresholds(30 * DAY)] == [14.4, 6.0, 3.0, 1.0]
    assert [round(t[3], 6) for t in thresholds(28 * DAY)] == [13.44, 5.6, 2.8, 0.933333]


@pytest.mark.parametrize(
    ("rates", "page", "ticket"),
    [
        ({"1h": 15.0, "5m": 15.0}, True, False),
        ({"1h": 15.0, "5m": 10.0}, False, False),  # short window recovered: no page
        ({"1h": 10.0, "5m": 20.0}, False, False),  # long window below
        ({"6h": 6.0, "30m": 7.0}, True, False),
        ({"1d": 3.1, "2h": 3.5}, False, True),
        ({"3d": 1.2, "6h": 1.1}, False, True),
        ({"3d": 1.2, "6h": None}, False, False),  # no data is not burning
        ({"1h": 14.4, "5m": 14.4, "1d": 14.4, "2h": 14.4}, True, True),
    ],
)
def test_multiwindow_decisions(rates: dict[str, float | None], page: bool, ticket: bool) -> None:
    got = {a.severity: a.firing for a in decide(rates, 30 * DAY)}
    assert got["page"] is page
    assert got["ticket"] is ticket
    assert got["no_data"] is False


def test_page_reason_names_windows_and_rates() -> None:
    (page, *_rest) = decide({"1h": 20.0, "5m": 30.0}, 30 * DAY)
    assert "1h" in page.reason
    assert "5m" in page.reason
    assert "14.4" in page.reason
    assert "2%" in page.reason


@given(
    st.integers(min_value=1, max_value=10**6),
    st.integers(min_value=0, max_value=10**6),
    st.sampled_from([0.9, 0.99, 0.995, 0.999, 0.9999]),
)
def test_budget_identities(total: int, bad: int, objective: float) -> None:
    bad = min(bad, total)
    ev = _eval(Counts(total - bad, total), objective=objective)
    assert ev.sli == pytest.approx((total - bad) / total)  # type: ignore[attr-defined]
    assert ev.budget_consumed + ev.budget_remaining == pytest.approx(ev.budget_total)  # type: ignore[attr-defined]
    assert ev.remaining_fraction == pytest.approx(1 - (1 - ev.sli) / (1 - objective))  # type: ignore[attr-defined]
    assert ev.objective_met == (ev.sli >= objective)  # type: ignore[attr-defined]
    assert (ev.status == "exhausted") == (ev.remaining_fraction <= 0)  # type: ignore[attr-defined]
