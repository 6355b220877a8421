"""Table tests of the pure report formulas: periods, statistics, SLO attainment, incident
response, on-call health, DORA and its levels, and the SVG charts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import pytest

from ninefold.errors import InvalidInput
from ninefold.report import dora, svg
from ninefold.report import incident_metrics as im
from ninefold.report import oncall_metrics as om
from ninefold.report import slo_metrics as sm
from ninefold.report.period import buckets, parse_period, previous_period
from ninefold.report.stats import percentile, summarize

H = 3600.0


def t(day: int, hour: float = 0, month: int = 10) -> datetime:
    return datetime(2026, month, day, tzinfo=UTC) + timedelta(hours=hour)


# --- periods ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "start", "end", "kind"),
    [
        ("2026-10", t(1), t(1, month=11), "month"),
        ("2026-12", datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC), "month"),
        ("2026-W43", t(19), t(26), "week"),
        ("2026-W01", datetime(2025, 12, 29, tzinfo=UTC), datetime(2026, 1, 5, tzinfo=UTC), "week"),
        ("2026-Q4", t(1), datetime(2027, 1, 1, tzinfo=UTC), "quarter"),
        ("2026-Q1", datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC), "quarter"),
        ("2026-10-05..2026-10-07", t(5), t(7), "range"),
        ("2026-10-05T12:00:00+02:00..2026-10-06T00:00:00Z", t(5, 10), t(6), "range"),
    ],
)
def test_parse_period(text: str, start: datetime, end: datetime, kind: str) -> None:
    p = parse_period(text)
    assert (p.start, p.end, p.kind) == (start, end, kind)


@pytest.mark.parametrize(
    "text",
    [
        "2026-13",
        "2026-W54",
        "2026-Q5",
        "yesterday",
        "2026-10-07..2026-10-05",
        "2026-10-01T00:00..2026-10-02",
    ],
)
def test_parse_period_rejects(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_period(text)


def test_buckets_and_previous_period() -> None:
    month = buckets(parse_period("2026-10"))
    assert [b.label for b in month] == ["W40", "W41", "W42", "W43", "W44"]
    assert month[0].start == t(1)
    assert month[0].end == t(5)
    assert month[-1].end == t(1, month=11)
    assert len(buckets(parse_period("2026-W43"))) == 7
    assert [b.label for b in buckets(parse_period("2026-Q4"))] == ["2026-10", "2026-11", "2026-12"]
    assert previous_period("month", t(21, month=11)).label == "2026-10"
    assert previous_period("week", t(21, month=11)).label == "2026-W46"


# --- statistics ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "count", "mean", "median", "p90"),
    [
        ([], 0, None, None, None),
        ([5.0], 1, 5.0, 5.0, 5.0),
        ([1, 2, 3, 4], 4, 2.5, 2.5, 3.7),
        ([10, 0, 20], 3, 10.0, 10.0, 18.0),
        (list(range(1, 11)), 10, 5.5, 5.5, 9.1),
    ],
)
def test_summarize(
    values: list[float], count: int, mean: float | None, median: float | None, p90: float | None
) -> None:
    s = summarize(values)
    assert s.count == count
    assert s.mean == pytest.approx(mean) if mean is not None else s.mean is None
    assert s.median == pytest.approx(median) if median is not None else s.median is None
    assert s.p90 == pytest.approx(p90) if p90 is not None else s.p90 is None


def test_percentile_empty() -> None:
    with pytest.raises(ValueError):
        percentile([], 0.5)


# --- SLOs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("good", "total", "objective", "sli", "met", "consumed"),
    [
        (999, 1000, 0.999, 0.999, True, 1.0),  # exactly on objective: met, budget spent
        (998, 1000, 0.999, 0.998, False, 2.0),
        (1000, 1000, 0.99, 1.0, True, 0.0),
        (0, 0, 0.99, None, None, None),  # zero traffic: no data, neither met nor missed
        (950, 1000, 0.9, 0.95, True, 0.5),
        (1200, 1000, 0.9, 1.0, True, 0.0),  # good > total is clamped
    ],
)
def test_slo_result(
    good: float,
    total: float,
    objective: float,
    sli: float | None,
    met: bool | None,
    consumed: float | None,
) -> None:
    r = sm.slo_result(sm.SloInput("s", "svc", "team", 1, objective, good, total))
    assert r.met is met
    if sli is None:
        assert r.sli is None
        assert r.budget_consumed is None
    else:
        assert r.sli == pytest.approx(sli)
        assert r.budget_consumed == pytest.approx(consumed)


def test_attainment_groups_skip_no_data() -> None:
    rs = [
        sm.slo_result(sm.SloInput("a", "api", "pay", 1, 0.99, 995, 1000)),
        sm.slo_result(sm.SloInput("b", "api", "pay", 1, 0.99, 900, 1000)),
        sm.slo_result(sm.SloInput("c", "web", "shop", 2, 0.99, 0, 0)),
        sm.slo_result(sm.SloInput("d", "web", "shop", 2, 0.9, 95, 100)),
    ]
    overall = sm.attainment("all", rs)
    assert (overall.slos, overall.with_data, overall.met, overall.missed) == (4, 3, 2, 1)
    assert overall.attainment == pytest.approx(2 / 3)
    by_service = {a.group: a.attainment for a in sm.attainment_by(rs, "service")}
    assert by_service == {"api": 0.5, "web": 1.0}
    by_tier = {a.group: (a.with_data, a.met) for a in sm.attainment_by(rs, "tier")}
    assert by_tier == {"1": (2, 1), "2": (1, 1)}
    only_no_data = sm.attainment("x", [rs[2]])
    assert only_no_data.attainment is None
    assert sm.budget_consumed(5, 1000, 0.99) == pytest.approx(0.5)
    assert sm.budget_consumed(5, 0, 0.99) is None


# --- incidents -------------------------------------------------------------------------------


def inc(
    id_: int,
    start: datetime,
    *,
    detect: float = 0.0,
    ack: float | None = None,
    mitigate: float | None = None,
    resolve: float | None = None,
    sev: str = "SEV2",
    services: tuple[str, ...] = ("api",),
) -> im.IncidentInput:
    def at(h: float | None) -> datetime | None:
        return None if h is None else start + timedelta(hours=h)

    return im.IncidentInput(
        id_,
        sev,
        start,
        start + timedelta(hours=detect),
        at(ack),
        at(mitigate),
        at(resolve),
        services,
        tuple(sorted({"team-" + s for s in services})),
    )


def test_response_times_edge_cases() -> None:
    incidents = [
        inc(1, t(2), detect=0.5, ack=1, mitigate=2, resolve=4),
        inc(2, t(3), detect=1, ack=None, mitigate=None, resolve=None),  # open, never acked
        inc(3, t(31, 20), detect=0, ack=0.25, mitigate=None, resolve=10),  # spans the period end
        inc(4, t(30, 23, month=9), detect=0, ack=1, resolve=3),  # started before the period
        inc(5, t(4), detect=0, ack=-1, resolve=2),  # ack corrected before detection: 0
    ]
    p = parse_period("2026-10")
    incs = im.in_period(incidents, p.start, p.end)
    assert [i.id for i in incs] == [1, 2, 3, 5]
    rt = im.response_times(incs)
    assert rt.detect.count == 4
    assert rt.detect.mean == pytest.approx(1.5 * H / 4)
    # acknowledge = ack - detect: 0.5h, 0.25h, 0 (clamped); #2 was never acknowledged
    assert rt.acknowledge.count == 3
    assert rt.acknowledge.median == pytest.approx(0.25 * H)
    # mitigate falls back to resolve: 2h, 10h, 2h; the open one has none
    assert sorted([im.time_to_mitigate(i) for i in incs if im.time_to_mitigate(i) is not None]) == [
        2 * H,
        2 * H,
        10 * H,
    ]
    # resolve is not clipped at the period end: #3 counts its full 10 hours
    assert rt.resolve.count == 3
    assert rt.resolve.median == pytest.approx(4 * H)
    assert rt.resolve.p90 == pytest.approx((4 + 0.8 * 6) * H)
    assert rt.resolve.mean == pytest.approx(16 / 3 * H)
    assert im.open_count(incs) == 1
    assert im.unacknowledged_count(incs) == 1


def test_counts_and_time_between_failures() -> None:
    incs = [
        inc(1, t(1), sev="SEV1", services=("api", "db")),
        inc(2, t(3), sev="SEV2", services=("api",)),
        inc(3, t(8), sev="SEV2", services=("api",)),
        inc(4, t(9), sev="SEV3", services=()),
    ]
    assert im.counts_by(incs, "severity") == {"SEV1": 1, "SEV2": 2, "SEV3": 1}
    assert im.counts_by(incs, "service") == {"api": 3, "db": 1}
    assert im.counts_by(incs, "team") == {"team-api": 3, "team-db": 1}
    tbf = im.time_between_failures(incs)
    assert tbf["api"].count == 2
    assert tbf["api"].mean == pytest.approx(3.5 * 86400)
    assert tbf["db"].count == 0
    assert im.repeat_rate(incs, {2, 99}) == pytest.approx(0.25)
    assert im.repeat_rate([], set()) is None


def test_postmortem_and_action_items() -> None:
    pms = [
        im.PostmortemInput(1, t(1), t(3)),
        im.PostmortemInput(2, t(1), t(7)),  # 6 days: late for 5
        im.PostmortemInput(3, t(1), None),
    ]
    f = im.postmortem_completion(pms, 5)
    assert (f.numerator, f.denominator) == (1, 3)
    assert im.postmortem_completion([], 5).rate is None
    end_of = lambda d: datetime(2026, 10, d, 23, 59, 59, 999999, tzinfo=UTC)  # noqa: E731
    items = [
        im.ActionItemInput(1, end_of(10), "done", t(10, 15)),  # on the due day: on time
        im.ActionItemInput(2, end_of(10), "done", t(11, 1)),
        im.ActionItemInput(3, end_of(10), "wont_do", t(9)),
        im.ActionItemInput(4, end_of(10), "open", None),
    ]
    f = im.action_items_on_time(items)
    assert (f.numerator, f.denominator, f.rate) == (1, 4, 0.25)


# --- on-call ---------------------------------------------------------------------------------


def page(
    user: str, at: datetime, ack: bool = True, attached: bool = True, alert: int = 1
) -> om.PageInput:
    return om.PageInput(alert, user, at, ack, attached)


def test_working_hours_by_time_zone() -> None:
    hours = om.WorkingHours()
    # Tue 2026-10-06 08:30 UTC = 10:30 in Berlin (CEST), 04:30 in New York (EDT)
    at = t(6, 8.5)
    assert om.is_working_time(at, "Europe/Berlin", hours)
    assert not om.is_working_time(at, "America/New_York", hours)
    assert not om.is_working_time(t(10, 12), "UTC", hours)  # Saturday
    assert not om.is_working_time(t(6, 17), "UTC", hours)  # 17:00 is after hours
    assert om.is_working_time(t(6, 9), "UTC", hours)
    assert om.is_working_time(t(6, 9), "Not/AZone", hours)  # unknown zone: UTC
    pages = [page("ana", at), page("bob", at), page("zed", t(10, 12))]
    assert om.outside_hours(pages, {"ana": "Europe/Berlin", "bob": "America/New_York"}, hours) == (
        2,
        3,
    )


def test_pages_per_shift_and_person() -> None:
    shifts = [
        om.ShiftInput("primary", "ana", t(1), t(8)),
        om.ShiftInput("primary", "bob", t(8), t(15)),
        om.ShiftInput("primary", "ana", t(15), t(22)),
        om.ShiftInput("secondary", "bob", t(1), t(8)),
    ]
    pages = [
        page("ana", t(2)),
        page("ana", t(3)),
        page("bob", t(9)),
        page("ana", t(16)),
        page("bob", t(2)),  # bob on the secondary
        page("cat", t(2)),  # not on any shift
        page("ana", t(8)),  # ana's shift ended at 8: outside
    ]
    load = om.pages_per_shift(pages, shifts)
    assert load.shifts == 4
    assert load.pages_in_shifts == 5
    assert load.pages_outside_shifts == 2
    assert load.counts == (2, 1, 1, 1)
    assert load.per_shift.median == pytest.approx(1.0)
    assert load.per_shift.max == 2
    assert om.pages_per_person(pages) == {"ana": 4, "bob": 2, "cat": 1}
    assert om.pages_per_shift([], []).per_shift.count == 0


def test_actionability_noisy_flapping() -> None:
    pages = [
        page("a", t(1)),
        page("a", t(1), ack=False),
        page("a", t(1), attached=False),
        page("a", t(1)),
    ]
    assert om.actionability(pages) == 0.5
    assert om.actionability([]) is None
    counts = [
        om.AlertCount("Disk", "db", 3),
        om.AlertCount("CPU", "api", 7),
        om.AlertCount("Apdex", "web", 3),
    ]
    assert [c.alertname for c in om.noisiest(counts, 2)] == ["CPU", "Apdex"]
    assert [c.alertname for c in om.flapping(counts, 5)] == ["CPU"]


# --- DORA ------------------------------------------------------------------------------------


def dep(
    id_: int, service: str, at: datetime, commit_h: float | None = None, outcome: str = "success"
) -> dora.DeployInput:
    return dora.DeployInput(
        id_, service, at, None if commit_h is None else at - timedelta(hours=commit_h), outcome
    )


def test_dora_metrics() -> None:
    deploys = [
        dep(1, "api", t(1, 10), commit_h=2),
        dep(2, "api", t(1, 12), commit_h=30),  # followed by an incident 5 h later
        dep(3, "api", t(2, 10), outcome="rollback"),  # no commit time
        dep(4, "web", t(3, 10), commit_h=6, outcome="failure"),
        dep(5, "web", t(20, 10), commit_h=1),
    ]
    incidents = [
        dora.ChangeIncident(10, "api", t(1, 17), t(1, 19)),
        dora.ChangeIncident(11, "web", t(25), None),  # 5 days after deploy 5: not a change failure
        dora.ChangeIncident(12, "api", t(1, 11), t(1, 11.5)),  # 1 h after deploy 1 (and before 2)
    ]
    f = dora.frequency(deploys, 31)
    assert f.deploys == 5
    assert f.per_day == pytest.approx(5 / 31)
    assert f.per_service_median_per_day == pytest.approx(2.5 / 31)
    lt = dora.lead_time(deploys)
    assert lt.without_commit_time == 1
    assert lt.summary.count == 4
    assert lt.summary.median == pytest.approx(4 * H)
    cf = dora.change_failures(deploys, incidents, timedelta(hours=24))
    # 1 (incident 12 and 10), 2 (incident 10), 3 (rollback, and 10? no: 10 is before), 4 (failure)
    assert cf.failed_ids == frozenset({1, 2, 3, 4})
    assert cf.rate == pytest.approx(0.8)
    assert cf.caused_incidents == frozenset({10, 12})
    restore, open_ = dora.time_to_restore(incidents, cf.caused_incidents)
    assert open_ == 0
    assert restore.count == 2
    assert restore.median == pytest.approx(1.25 * H)
    # rework within 4 h: 1 (followed by 2 after 2 h), 3 (rollback)
    n, rate = dora.rework(deploys, deploys, timedelta(hours=4))
    assert (n, rate) == (2, pytest.approx(0.4))
    # a follow-up after the period end still counts
    n, _ = dora.rework([deploys[4]], [deploys[4], dep(6, "web", t(20, 12))], timedelta(hours=4))
    assert n == 1
    empty = dora.frequency([], 0)
    assert empty.per_day is None


def test_dora_edge_cases() -> None:
    assert dora.lead_time([]).summary.count == 0
    only_no_commit = dora.lead_time([dep(1, "a", t(1))])
    assert only_no_commit.without_commit_time == 1
    assert only_no_commit.summary.median is None
    cf = dora.change_failures([], [], timedelta(hours=24))
    assert cf.rate is None


@pytest.mark.parametrize(
    ("metric", "value", "level"),
    [
        ("deployment_frequency", 3.0, "elite"),
        ("deployment_frequency", 1.0, "elite"),
        ("deployment_frequency", 0.5, "high"),
        ("deployment_frequency", 0.1, "medium"),
        ("deployment_frequency", 0.01, "low"),
        ("lead_time", 2.0, "elite"),
        ("lead_time", 48.0, "high"),
        ("lead_time", 300.0, "medium"),
        ("lead_time", 2000.0, "low"),
        ("lead_time", 9000.0, "low"),
        ("change_failure_rate", 0.04, "elite"),
        ("change_failure_rate", 0.08, "medium"),
        ("change_failure_rate", 0.15, "high"),
        ("change_failure_rate", 0.5, "low"),
        ("time_to_restore", 0.5, "elite"),
        ("time_to_restore", 5.0, "high"),
        ("time_to_restore", 100.0, "low"),
        ("lead_time", None, None),
    ],
)
def test_dora_levels_from_data(metric: str, value: float | None, level: str | None) -> None:
    levels = dora.load_levels()
    assert levels.year == 2024
    assert "2024" in levels.source
    assert dora.classify(levels, metric, value) == level


# --- SVG ---------------------------------------------------------------------------------------


def test_svg_charts_are_well_formed_and_escaped() -> None:
    bar = svg.bar_chart(
        "Incidents <by> severity", ["W1", "W2"], [("SEV1", [1.0, None]), ("S&2", [2.0, 3.0])]
    )
    root = ElementTree.fromstring(bar)  # noqa: S314 - our own output
    assert root.tag.endswith("svg")
    assert len([e for e in root.iter() if e.tag.endswith("rect")]) == 3 + 2  # bars + legend
    assert "&lt;by&gt;" in bar
    assert "S&amp;2" in bar
    line = svg.line_chart("MTTR", ["a", "b", "c"], [("resolve", [1.0, None, 2.0])])
    root = ElementTree.fromstring(line)  # noqa: S314 - our own output
    assert not [e for e in root.iter() if e.tag.endswith("polyline")]  # the gap breaks the line
    assert len([e for e in root.iter() if e.tag.endswith("circle")]) == 2
    empty = svg.line_chart("nothing", [], [])
    ElementTree.fromstring(empty)  # noqa: S314 - our own output
    side = svg.bar_chart("x", ["a"], [("p", [1.0]), ("q", [2.0])], stacked=False)
    ElementTree.fromstring(side)  # noqa: S314 - our own output
