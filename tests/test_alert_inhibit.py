"""Inhibition and silences: Alertmanager semantics as tables, then checked on a real Alertmanager."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from ninefold.alert.fingerprint import fingerprint_hex
from ninefold.alert.inhibit import (
    InhibitRule,
    inhibited,
    inhibiting_source,
    parse_inhibit_rule,
    parse_inhibit_rules,
)
from ninefold.alert.matchers import parse_matcher, parse_matchers
from ninefold.alert.silence import (
    Silence,
    SilenceState,
    active,
    check_new,
    from_api,
    is_silenced,
    silenced_by,
    state,
)
from tests.am import AlertmanagerServer

RULE = parse_inhibit_rule(
    {
        "source_matchers": ['severity="critical"'],
        "target_matchers": ['severity=~"warning|info"'],
        "equal": ["cluster", "service"],
    }
)
BOTH_SIDES = parse_inhibit_rule(
    {"source_match": {"alertname": "Down"}, "target_match_re": {"alertname": "Down|Slow"}}
)


@pytest.mark.parametrize(
    ("rule", "target", "sources", "want"),
    [
        # Source and target on the same cluster/service: inhibited.
        (
            RULE,
            {"severity": "warning", "cluster": "a", "service": "db"},
            [{"severity": "critical", "cluster": "a", "service": "db"}],
            True,
        ),
        # A different equal label value: not inhibited.
        (
            RULE,
            {"severity": "warning", "cluster": "a", "service": "db"},
            [{"severity": "critical", "cluster": "b", "service": "db"}],
            False,
        ),
        # Equal labels missing on both sides count as equal.
        (RULE, {"severity": "info"}, [{"severity": "critical"}], True),
        # Missing on one side, present on the other: not equal.
        (RULE, {"severity": "info", "cluster": "a"}, [{"severity": "critical"}], False),
        # Missing and empty are the same thing.
        (RULE, {"severity": "info", "cluster": ""}, [{"severity": "critical"}], True),
        # The target does not match the target matchers.
        (RULE, {"severity": "critical"}, [{"severity": "critical"}], False),
        # No source firing.
        (RULE, {"severity": "warning"}, [], False),
        (RULE, {"severity": "warning"}, [{"severity": "warning"}], False),
        # Matching both sides: an alert does not inhibit itself ...
        (BOTH_SIDES, {"alertname": "Down"}, [{"alertname": "Down"}], False),
        # ... nor another alert that also matches both sides ...
        (BOTH_SIDES, {"alertname": "Down", "i": "1"}, [{"alertname": "Down", "i": "2"}], False),
        # ... but it does inhibit a target that matches only the target side.
        (BOTH_SIDES, {"alertname": "Slow"}, [{"alertname": "Down"}], True),
        # Empty source matchers match every alert (still not the target itself here).
        (InhibitRule((), tuple(parse_matchers("x=1"))), {"x": "1"}, [{"y": "2"}], True),
        (InhibitRule((), tuple(parse_matchers("x=1"))), {"x": "1"}, [{"x": "1"}], False),
    ],
)
def test_inhibition_table(
    rule: InhibitRule, target: dict[str, str], sources: list[dict[str, str]], want: bool
) -> None:
    assert inhibited(target, sources, rule) is want
    assert inhibited(target, sources, [rule]) is want


def test_inhibiting_source_and_several_rules() -> None:
    sources = [{"severity": "critical", "cluster": "x"}, {"alertname": "Down"}]
    assert inhibiting_source({"alertname": "Slow"}, sources, [RULE, BOTH_SIDES]) == {
        "alertname": "Down"
    }
    assert inhibiting_source({"alertname": "Fast"}, sources, [RULE, BOTH_SIDES]) is None
    assert not inhibited({"severity": "warning"}, sources, [])


@pytest.mark.parametrize(
    ("node", "message"),
    [
        ({"equal": ["a-b"]}, "invalid label name"),
        ({"equal": "cluster"}, "list of label names"),
        ({"source_matchers": ["a=~("]}, "invalid regular expression"),
        ({"target_match": ["a"]}, "must be a mapping"),
        ({"sources": []}, "unknown field"),
    ],
)
def test_invalid_inhibit_rules(node: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_inhibit_rules([node])


T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _silence(text: str, start: int = 0, end: int = 60) -> Silence:
    return Silence(
        tuple(parse_matchers(text)),
        T0 + timedelta(minutes=start),
        T0 + timedelta(minutes=end),
        "alice",
        "maintenance",
    )


def test_silence_window() -> None:
    s = _silence('service="db"')
    assert state(s, T0 - timedelta(seconds=1)) is SilenceState.PENDING
    assert state(s, T0) is SilenceState.ACTIVE  # start inclusive
    assert active(s, T0 + timedelta(minutes=59))
    assert state(s, T0 + timedelta(minutes=60)) is SilenceState.EXPIRED  # end exclusive
    assert not active(s, T0 + timedelta(minutes=60))


@pytest.mark.parametrize(
    ("matchers", "labels", "want"),
    [
        ('service="db"', {"service": "db", "x": "1"}, True),
        ('service="db"', {"service": "web"}, False),
        ('{service="db", env!="prod"}', {"service": "db"}, True),  # missing env is ""
        ('{service="db", env!="prod"}', {"service": "db", "env": "prod"}, False),
        ('{service=~"db|cache", team=""}', {"service": "cache"}, True),
        ('{service=~"db|cache", team=""}', {"service": "cache", "team": "a"}, False),
        ('instance=~"host-\\\\d+"', {"instance": "host-12"}, True),
    ],
)
def test_silence_matching(matchers: str, labels: dict[str, str], want: bool) -> None:
    s = _silence(matchers)
    assert is_silenced(labels, [s], T0) is want
    assert (silenced_by(labels, [s], T0) == [s]) is want
    assert not is_silenced(labels, [s], T0 + timedelta(hours=2))


def test_silenced_by_lists_only_active_matching_ones() -> None:
    a, b = _silence("a=1"), _silence("a=~.+", start=10)
    c = _silence("a=2")
    assert silenced_by({"a": "1"}, [a, b, c], T0) == [a]
    assert silenced_by({"a": "1"}, [a, b, c], T0 + timedelta(minutes=10)) == [a, b]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"matchers": ()}, "at least one matcher"),
        (
            {"matchers": tuple(parse_matchers('{a="", b=~".*", c!="x"}'))},
            "must not match the empty string",
        ),
        ({"ends_at": T0}, "start time must be before end time"),
        ({"starts_at": datetime(2026, 11, 1)}, "timezone-aware"),
        ({"created_by": " "}, "created_by"),
        ({"comment": ""}, "comment"),
    ],
)
def test_silence_validation(kwargs: dict[str, Any], message: str) -> None:
    fields: dict[str, Any] = {
        "matchers": (parse_matcher("a=1"),),
        "starts_at": T0,
        "ends_at": T0 + timedelta(hours=1),
        "created_by": "alice",
        "comment": "why",
    }
    with pytest.raises(ValueError, match=message):
        Silence(**{**fields, **kwargs})


def test_silence_api_form() -> None:
    s = from_api(
        {
            "matchers": [{"name": "a", "value": "1", "isRegex": False}],
            "startsAt": "2026-11-01T12:00:00Z",
            "endsAt": "2026-11-01T13:00:00.000Z",
            "createdBy": "bob",
            "comment": "deploy",
        }
    )
    assert s.starts_at == T0
    assert s.matchers == (parse_matcher("a=1"),)
    check_new(s, T0)
    with pytest.raises(ValueError, match="past"):
        check_new(s, T0 + timedelta(hours=1))
    with pytest.raises(ValueError, match=r"matchers\[0\]"):
        from_api({**_api_silence(), "matchers": [{"name": "a"}]})
    with pytest.raises(ValueError, match="RFC 3339"):
        from_api({**_api_silence(), "startsAt": "yesterday"})


def _api_silence() -> dict[str, Any]:
    return {
        "matchers": [{"name": "a", "value": "1"}],
        "startsAt": "2026-11-01T12:00:00Z",
        "endsAt": "2026-11-01T13:00:00Z",
        "createdBy": "bob",
        "comment": "x",
    }


INHIBIT_RULES: list[dict[str, Any]] = [
    {
        "source_matchers": ['severity="critical"'],
        "target_matchers": ['severity="warning"'],
        "equal": ["cluster"],
    },
    {"source_match": {"alertname": "Down"}, "target_match_re": {"alertname": "Down|Slow"}},
]
ALERTS = [
    {"alertname": "A", "severity": "critical", "cluster": "c1"},
    {"alertname": "B", "severity": "warning", "cluster": "c1"},
    {"alertname": "C", "severity": "warning", "cluster": "c2"},
    {"alertname": "D", "severity": "warning"},
    {"alertname": "Down", "i": "1"},
    {"alertname": "Down", "i": "2"},
    {"alertname": "Slow", "service": "db"},
    {"alertname": "Slow", "service": "web", "env": "prod"},
    {"alertname": "E", "severity": "critical"},
]
SILENCES = [
    '{service="db"}',
    '{alertname=~"[A-C]", cluster!="c2"}',
    '{env="prod", alertname="Nope"}',
]


def test_inhibition_and_silences_equal_alertmanagers(tmp_path: Path) -> None:
    config = {
        "route": {"receiver": "default", "group_wait": "0s", "group_by": ["..."]},
        "receivers": [{"name": "default"}],
        "inhibit_rules": INHIBIT_RULES,
    }
    server = AlertmanagerServer(tmp_path, config=json.dumps(config)).start()
    now = datetime.now(UTC)
    try:
        ids = {}
        for text in SILENCES:
            body = {
                "matchers": [m.to_api() for m in parse_matchers(text)],
                "startsAt": (now - timedelta(minutes=1)).isoformat(),
                "endsAt": (now + timedelta(hours=1)).isoformat(),
                "createdBy": "test",
                "comment": text,
            }
            response = httpx.post(f"{server.url}/api/v2/silences", json=body, timeout=10)
            assert response.status_code == 200, response.text
            ids[response.json()["silenceID"]] = text
        server.post_alerts([{"labels": labels} for labels in ALERTS])
        rules = parse_inhibit_rules(INHIBIT_RULES)
        silences = [
            Silence(
                tuple(parse_matchers(t)),
                now - timedelta(minutes=1),
                now + timedelta(hours=1),
                "t",
                t,
            )
            for t in SILENCES
        ]
        want = {
            fingerprint_hex(labels): (
                inhibited(labels, ALERTS, rules),
                sorted(s.comment for s in silenced_by(labels, silences, now)),
            )
            for labels in ALERTS
        }
        deadline = time.monotonic() + 15
        while True:
            got = {
                a["fingerprint"]: (
                    bool(a["status"]["inhibitedBy"]),
                    sorted(ids[i] for i in a["status"]["silencedBy"]),
                )
                for a in server.alerts()
            }
            if got == want or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        server.stop()
    assert got == want
    assert any(inh for inh, _ in want.values())
    assert any(sil for _, sil in want.values())
