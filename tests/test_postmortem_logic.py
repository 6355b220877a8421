"""Pure postmortem logic: policy, states, repeat similarity, closure rate, drafts, budget math."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from ninefold.postmortem import draft, states
from ninefold.postmortem.closure import ItemDates, closure_stats
from ninefold.postmortem.policy import PostmortemPolicy, required_reason
from ninefold.postmortem.similarity import IncidentShape, jaccard, match, title_similarity, words
from ninefold.slo.impact import consumed_fraction
from ninefold.slo.sources import Counts

T = datetime(2026, 11, 1, tzinfo=UTC)
D = date(2026, 11, 10)


@pytest.mark.parametrize(
    ("severity", "consumed", "policy", "required"),
    [
        ("SEV1", {}, PostmortemPolicy(severities=("SEV1", "SEV2")), True),
        ("sev2", {"a": 0.0}, PostmortemPolicy(severities=("SEV1", "SEV2")), True),
        ("SEV3", {"a": 0.199}, PostmortemPolicy(), False),
        ("SEV3", {"a": 0.2}, PostmortemPolicy(), True),
        ("SEV4", {"a": None, "b": 0.5}, PostmortemPolicy(), True),
        ("SEV4", {"a": None}, PostmortemPolicy(), False),
        ("SEV3", {"a": 0.3}, PostmortemPolicy(budget_threshold=0.5), False),
        ("SEV3", {}, PostmortemPolicy(severities=("SEV1", "SEV2", "SEV3")), True),
        ("P1", {}, PostmortemPolicy(severities=("P1",)), True),
    ],
)
def test_policy(
    severity: str, consumed: dict[str, float | None], policy: PostmortemPolicy, required: bool
) -> None:
    rank = int(severity[-1]) if severity[-1].isdigit() else None
    assert (required_reason(severity, consumed, policy, rank=rank) is not None) is required


@pytest.mark.parametrize(("rank", "required"), [(1, True), (2, True), (3, False), (None, False)])
def test_default_policy_goes_by_rank(rank: int | None, required: bool) -> None:
    """Without a severity list, the two worst levels (whatever the catalog calls them) need one."""
    reason = required_reason("P-x", {}, PostmortemPolicy(), rank=rank)
    assert (reason is not None) is required


def test_policy_reason_names_the_worst_slo() -> None:
    reason = required_reason("SEV4", {"a": 0.25, "b": 0.61}, PostmortemPolicy())
    assert reason == "consumed 61.0% of the error budget of SLO b (threshold 20%)"


@pytest.mark.parametrize(
    ("current", "new", "ok"),
    [
        ("draft", "in_review", True),
        ("draft", "published", False),
        ("draft", "draft", False),
        ("in_review", "draft", True),
        ("in_review", "published", True),
        ("published", "draft", False),
        ("published", "in_review", False),
        ("draft", "archived", False),
    ],
)
def test_postmortem_transitions(current: str, new: str, ok: bool) -> None:
    if ok:
        assert states.check_transition(current, new) == new
    else:
        with pytest.raises(states.StateError, match="status"):
            states.check_transition(current, new)


@pytest.mark.parametrize(
    ("given", "want"),
    [
        ("P1", "P1"),
        ("p3", "P3"),
        ("high", "P2"),
        ("Medium", "P3"),
        ("low", "P4"),
        ("critical", "P1"),
    ],
)
def test_priorities(given: str, want: str) -> None:
    assert states.normalise_priority(given) == want


def test_bad_priority() -> None:
    with pytest.raises(states.StateError, match="priority"):
        states.normalise_priority("P9")


@pytest.mark.parametrize(
    ("a", "b", "score"),
    [
        ("Checkout API returns 500 errors", "checkout api 500 errors", 0.8),
        ("Checkout API returns 500 errors", "Checkout API returns 500 errors!", 1.0),
        ("Database is down", "database down", 1.0),  # "is" is a stop word
        ("Login slow", "Checkout slow", 1 / 3),
        ("Payments: webhook queue backlog", "payments webhook backlog in queue", 1.0),
        ("", "", 0.0),
        ("a", "the", 0.0),  # only stop words and single letters
        ("Disk full on db-1", "Disk full on db-2", 0.6),
    ],
)
def test_title_similarity(a: str, b: str, score: float) -> None:
    assert title_similarity(a, b) == pytest.approx(score)


def test_words_and_jaccard() -> None:
    assert words("The DB-1 is DOWN, again_now") == {"db", "1", "down", "again", "now"}
    assert jaccard([], []) == 0.0
    assert jaccard({"a"}, {"a", "b"}) == 0.5


def _shape(title: str, services: set[int], fps: set[str] = frozenset()) -> IncidentShape:  # type: ignore[assignment]
    return IncidentShape(title, frozenset(services), frozenset(fps))


@pytest.mark.parametrize(
    ("new", "past", "reason"),
    [
        # same fingerprint on a shared service: a repeat whatever the titles say
        (
            _shape("Latency up", {1}, {"abc"}),
            _shape("Something else", {1, 2}, {"abc"}),
            "fingerprint",
        ),
        # similar title on a shared service
        (
            _shape("Checkout API 500 errors", {1}),
            _shape("checkout api returns 500 errors", {1}),
            "title",
        ),
        # similar title but no shared service: not a repeat
        (_shape("Checkout API 500 errors", {1}), _shape("Checkout API 500 errors", {2}), None),
        # same fingerprint, other service: not a repeat
        (_shape("x", {1}, {"abc"}), _shape("y", {2}, {"abc"}), None),
        # shared service, dissimilar title, other fingerprints
        (_shape("Login slow", {1}, {"a"}), _shape("Checkout slow", {1}, {"b"}), None),
        # just under the threshold: 2 of 4 words
        (_shape("disk full db", {1}), _shape("disk full cache", {1}), None),
    ],
)
def test_repeat_match(new: IncidentShape, past: IncidentShape, reason: str | None) -> None:
    found = match(new, past)
    assert (found.reason if found else None) == reason


def _item(due: date | None, status: str, closed: datetime | None = None) -> ItemDates:
    return ItemDates(due, status, closed)


@pytest.mark.parametrize(
    ("items", "due", "on_time", "late", "still", "rate"),
    [
        ([], 0, 0, 0, 0, None),
        ([_item(D, "done", datetime(2026, 11, 10, 23, 59, tzinfo=UTC))], 1, 1, 0, 0, 1.0),
        ([_item(D, "done", datetime(2026, 11, 11, 0, 0, tzinfo=UTC))], 1, 0, 1, 0, 0.0),
        ([_item(D, "wont_do", datetime(2026, 11, 2, tzinfo=UTC))], 1, 1, 0, 0, 1.0),
        ([_item(D, "open"), _item(D, "in_progress")], 2, 0, 0, 2, 0.0),
        # outside the period (before start, after end) or undated: not counted
        ([_item(date(2026, 10, 31), "open"), _item(date(2026, 12, 1), "done", T), _item(None, "open")], 0, 0, 0, 0, None),
        # 3 due in the period: one on time, one late, one open → 1/3
        (
            [
                _item(date(2026, 11, 1), "done", datetime(2026, 10, 30, tzinfo=UTC)),
                _item(date(2026, 11, 30), "done", datetime(2026, 12, 2, tzinfo=UTC)),
                _item(date(2026, 11, 15), "open"),
            ],
            3, 1, 1, 1, 1 / 3,
        ),
        # closed at 23:30 on the due date in UTC-5 is already the next day in UTC: late
        ([_item(D, "done", datetime(2026, 11, 10, 23, 30, tzinfo=UTC) + timedelta(hours=5))], 1, 0, 1, 0, 0.0),
    ],
)  # fmt: skip
def test_closure_rate(
    items: list[ItemDates], due: int, on_time: int, late: int, still: int, rate: float | None
) -> None:
    s = closure_stats(items, start=date(2026, 11, 1), end=date(2026, 11, 30))
    assert (s.due, s.closed_on_time, s.closed_late, s.still_open) == (due, on_time, late, still)
    assert s.rate == (pytest.approx(rate) if rate is not None else None)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "—"),
        (0, "0s"),
        (42, "42s"),
        (60, "1m"),
        (125, "2m 05s"),
        (3900, "1h 05m"),
        (90061, "1d 1h 01m"),
    ],
)
def test_human(seconds: int | None, text: str) -> None:
    assert draft.human(None if seconds is None else timedelta(seconds=seconds)) == text


def test_timings() -> None:
    stamps = {
        "started_at": T,
        "detected_at": T + timedelta(minutes=10),
        "acknowledged_at": T + timedelta(minutes=15),
        "mitigated_at": T + timedelta(minutes=25),
        "resolved_at": None,
    }
    got = {t["label"]: t["seconds"] for t in draft.timings(stamps)}
    assert got == {
        "Time to detect": 600,
        "Time to acknowledge": 300,
        "Time to mitigate": 900,
        "Time to resolve": None,
        "Impact duration": None,
    }


def test_sections_round_trip() -> None:
    md = "intro\n## Summary\n\nText\n## What went well\n- a\n## Summary\nagain\n"
    sections = draft.split_sections(md)
    assert [(s.key, s.heading, s.body) for s in sections] == [
        ("preamble", "", "intro"),
        ("summary", "Summary", "Text"),
        ("what_went_well", "What went well", "- a"),
        ("summary_2", "Summary", "again"),
    ]
    out = draft.to_markdown(title="T", status="draft", meta=[("Incident", "#1")], sections=sections)
    assert out.startswith("# Postmortem: T\n\n- **Status:** draft\n- **Incident:** #1\n")
    assert "## What went well\n\n- a\n" in out


def test_blameless_check_flags_blame() -> None:
    sections = [
        draft.Section(
            "contributing_factors",
            "Contributing factors",
            "Bob was careless and should have known.",
        ),
        draft.Section(
            "went_well", "What went well", "The failover failed to nothing; fault tolerance held."
        ),
    ]
    assert draft.blame_findings(sections) == [
        'contributing_factors: "careless"',
        'contributing_factors: "should have known"',
        'contributing_factors: "should have"',
    ]


def test_default_template_renders_every_section() -> None:
    facts = {
        "incident": {"id": 1, "title": "t", "severity": "SEV2", "summary": "", "started_at": T,
                     "detected_at": T, "acknowledged_at": None, "mitigated_at": None,
                     "resolved_at": T + timedelta(hours=1)},
        "services": ["api"],
        "budgets": [{"slo": "a", "service": "api", "objective": 0.999, "unit": "events",
                     "bad": 5.0, "budget": 20.0, "consumed_fraction": 0.25}],
    }  # fmt: skip
    text = draft.render(draft.default_template(), draft.template_values(facts))
    keys = [s.key for s in draft.split_sections(text)]
    assert keys == [
        "summary", "impact", "timeline", "detection_and_response", "contributing_factors",
        "what_went_well", "what_went_poorly", "where_we_got_lucky", "action_items",
    ]  # fmt: skip
    assert (
        "a (api, objective 99.9%): 25.0% of the error budget (5 bad events of a 20 budget)" in text
    )
    assert draft.blame_findings(draft.split_sections(text)) == []


def test_broken_template_names_the_problem() -> None:
    with pytest.raises(draft.TemplateProblem, match="postmortem template"):
        draft.render("## X\n{{ nope.missing }}", {})


@pytest.mark.parametrize(
    ("during", "window", "objective", "want"),
    [
        (Counts(750, 1000), Counts(119750, 120000), 0.99, (250, 1200, 250 / 1200)),
        (None, Counts(100, 100), 0.99, (0.0, 1.0, 0.0)),
        (Counts(0, 10), None, 0.99, (10, None, None)),
        (None, None, 0.99, (None, None, None)),
    ],
)
def test_consumed_fraction(
    during: Counts | None, window: Counts | None, objective: float, want: tuple[object, ...]
) -> None:
    got = consumed_fraction(
        during=during, window=window, objective=objective, budgeting="occurrences"
    )
    assert got == pytest.approx(want) if want[2] is not None else got == want


def test_consumed_fraction_timeslices() -> None:
    got = consumed_fraction(
        during=Counts(0, 0, 2, 5),
        window=Counts(0, 0, 990, 1000),
        objective=0.99,
        budgeting="timeslices",
    )
    assert got == pytest.approx((3, 10, 0.3))
