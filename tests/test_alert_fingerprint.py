"""Fingerprints and group keys compared with a real Alertmanager, plus property tests."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ninefold.alert.fingerprint import (
    FNV_OFFSET_BASIS,
    fingerprint,
    fingerprint_hex,
    format_fingerprint,
    go_quote,
    group_key,
    group_labels,
    labelset_fingerprint,
    labelset_string,
    parse_fingerprint,
)
from tests.am import AlertmanagerServer, WebhookSink

LABEL_SETS: list[dict[str, str]] = [
    {"alertname": "HighLatency"},
    {"alertname": "HighLatency", "service": "api", "severity": "page"},
    {"alertname": "Ünïcödé", "team": "日本語チーム", "emoji": "🔥🚒", "greek": "αβγ"},
    {"alertname": "EmptyValue", "cluster": "", "zone": "eu-1"},
    {"alertname": "Quotes", "q": 'say "hi", \\o/', "nl": "line1\nline2", "tab": "a\tb"},
    {"alertname": "Many", **{f"label_{i:02d}": f"value-{i}" for i in range(40)}},
    {"alertname": "Case", "A": "1", "a": "2", "_": "3", "B_b": "4"},
    {"alertname": "x" * 300, "long": "y" * 2000},
    {"alertname": "Spaces", "s": "  padded  ", "z": " "},
    {"alertname": "Ctrl", "c": "\x01\x7f"},
]


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AlertmanagerServer]:
    """One real Alertmanager for the module, stopped by PID afterwards."""
    server = AlertmanagerServer(tmp_path_factory.mktemp("am")).start()
    try:
        yield server
    finally:
        server.stop()


def test_fingerprints_equal_alertmanagers(alertmanager: AlertmanagerServer) -> None:
    alertmanager.post_alerts([{"labels": labels} for labels in LABEL_SETS])
    theirs = alertmanager.alerts()
    assert len(theirs) == len(LABEL_SETS)
    for labels in LABEL_SETS:
        # Alertmanager stores the alert without empty-valued labels; find it by those labels.
        stored = {k: v for k, v in labels.items() if v}
        (alert,) = [a for a in theirs if a["labels"] == stored]
        assert alert["fingerprint"] == fingerprint_hex(labels), labels
        assert alert["fingerprint"] == format_fingerprint(labelset_fingerprint(stored))


@given(
    st.dictionaries(
        st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,12}", fullmatch=True),
        st.text(st.characters(blacklist_categories=["Cs"]), max_size=20),
        max_size=8,
    )
)
def test_fingerprint_is_independent_of_insertion_order(labels: dict[str, str]) -> None:
    reversed_labels = dict(reversed(list(labels.items())))
    assert fingerprint(labels) == fingerprint(reversed_labels)
    assert labelset_fingerprint(labels) == labelset_fingerprint(reversed_labels)
    assert len(fingerprint_hex(labels)) == 16
    assert parse_fingerprint(fingerprint_hex(labels)) == fingerprint(labels)


@given(
    st.dictionaries(
        st.from_regex(r"[a-z]{1,4}", fullmatch=True), st.text("ab", max_size=3), max_size=4
    ),
    st.dictionaries(
        st.from_regex(r"[a-z]{1,4}", fullmatch=True), st.text("ab", max_size=3), max_size=4
    ),
)
def test_distinct_label_sets_have_distinct_fingerprints(
    a: dict[str, str], b: dict[str, str]
) -> None:
    # Not a guarantee of FNV in general, but the separator byte makes these tiny sets collision
    # free; the point is that name/value boundaries matter ({ab: ""} vs {a: "b"}).
    if labelset_fingerprint(a) == labelset_fingerprint(b):
        assert a == b


def test_known_values() -> None:
    assert fingerprint({}) == FNV_OFFSET_BASIS
    assert fingerprint_hex({}) == "cbf29ce484222325"
    assert fingerprint({"a": ""}) == FNV_OFFSET_BASIS
    assert labelset_fingerprint({"a": ""}) != FNV_OFFSET_BASIS
    assert labelset_fingerprint({"ab": "c"}) != labelset_fingerprint({"a": "bc"})
    assert format_fingerprint(1) == "0000000000000001"


@pytest.mark.parametrize("bad", ["", "xyz", "12345678901234567", "-1"])
def test_parse_fingerprint_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match="fingerprint"):
        parse_fingerprint(bad)


def test_format_fingerprint_rejects_out_of_range() -> None:
    with pytest.raises(ValueError, match="64-bit"):
        format_fingerprint(1 << 64)


def test_group_labels() -> None:
    labels = {"alertname": "A", "cluster": "", "team": "db", "x": "1"}
    assert group_labels(labels, ["team", "cluster", "missing"]) == {"team": "db"}
    assert group_labels(labels, [], group_by_all=True) == {"alertname": "A", "team": "db", "x": "1"}
    assert group_labels(labels, []) == {}


def test_go_quote() -> None:
    assert go_quote('a"b\\c') == '"a\\"b\\\\c"'
    assert go_quote("日本\n\t\x01\x7f\u200b") == '"日本\\n\\t\\x01\\x7f\\u200b"'
    assert go_quote("\U000e0001") == '"\\U000e0001"'
    assert labelset_string({"b": "2", "a": "1"}) == '{a="1", b="2"}'


def test_group_key_equals_alertmanagers_webhook_group_key(tmp_path: Path) -> None:
    sink = WebhookSink().start()
    config = (
        "route:\n"
        "  receiver: hook\n"
        "  group_by: [team, q]\n"
        "  group_wait: 0s\n"
        "  group_interval: 1s\n"
        "  routes:\n"
        "    - receiver: hook\n"
        "      matchers: ['team=\"db\"', 'q=~\".+\"']\n"
        "receivers:\n"
        "  - name: hook\n"
        "    webhook_configs:\n"
        f"      - url: {sink.url}\n"
    )
    server = AlertmanagerServer(tmp_path, config=config).start()
    try:
        server.post_alerts(
            [
                {"labels": {"alertname": "A", "team": "db", "q": 'x "y" \\ 日本'}},
                {"labels": {"alertname": "B", "team": "web"}},
            ]
        )
        deadline = time.monotonic() + 20
        while len({p["groupKey"] for p in sink.received()}) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        server.stop()
        sink.stop()
    keys = {p["groupKey"] for p in sink.received()}
    ours = {
        group_key('{}/{q=~".+",team="db"}', {"team": "db", "q": 'x "y" \\ 日本'}),
        group_key("{}", {"team": "web"}),
    }
    assert keys == ours
