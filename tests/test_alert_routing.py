"""Routing tree: compared with ``amtool config routes test``, plus inheritance and timing tables."""

from __future__ import annotations

import itertools
import json
import random
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ninefold.alert.routing import (
    RouteOpts,
    flushes_on_insert,
    match_routes,
    needs_notification,
    next_flush,
    next_repeat,
    parse_config,
    parse_go_duration,
    parse_route,
    receivers,
)
from tests.am import amtool_check_config, amtool_routes

CONFIG: dict[str, Any] = {
    "route": {
        "receiver": "default",
        "group_by": ["alertname"],
        "group_wait": "10s",
        "routes": [
            {
                "receiver": "db-team",
                "matchers": ['team="db"'],
                "group_by": ["alertname", "instance"],
                "repeat_interval": "1h",
                "routes": [
                    {
                        "receiver": "db-pager",
                        "matchers": ['severity=~"page|critical"'],
                        "continue": True,
                    },
                    {"receiver": "db-mysql", "match": {"service": "mysql"}},
                    {
                        "receiver": "db-pg",
                        "match_re": {"service": "postgres.*"},
                        "group_wait": "0s",
                    },
                ],
            },
            {
                "receiver": "audit",
                "matchers": ['env!="dev"', 'severity!~"info|debug"'],
                "continue": True,
            },
            {
                "receiver": "web-team",
                "matchers": ['team=~"web|frontend"'],
                "group_by": ["..."],
                "routes": [
                    {"receiver": "web-eu", "matchers": ['region=~"eu-.*"', 'region!="eu-test"']},
                    {"receiver": "web-any", "matchers": ['{region=~".+"}'], "continue": True},
                    {"receiver": "web-page", "matchers": ["severity=page"]},
                ],
            },
            {"receiver": "no-team", "matchers": ['team=""', 'alertname=~"(?i)disk.*"']},
            {"receiver": "unicode", "matchers": ['team="日本, チーム"']},
            {"receiver": "quoted", "matchers": ['team="a\\"b"', 'service=~"x\\\\d+"']},
        ],
    },
    "receivers": [
        {"name": n}
        for n in [
            "default",
            "db-team",
            "db-pager",
            "db-mysql",
            "db-pg",
            "audit",
            "web-team",
            "web-eu",
            "web-any",
            "web-page",
            "no-team",
            "unicode",
            "quoted",
        ]
    ],
}

POOLS: dict[str, list[str | None]] = {
    "alertname": [None, "DiskFull", "diskio", "HighLatency"],
    "team": [None, "", "db", "web", "frontend", "日本, チーム", 'a"b', "dbx"],
    "severity": [None, "page", "critical", "info", "warning"],
    "service": [None, "mysql", "postgres-main", "postgres", "x12", "x1a"],
    "env": [None, "dev", "prod"],
    "region": [None, "eu-west", "eu-test", "us-east"],
}


def _label_sets() -> list[dict[str, str]]:
    names = list(POOLS)
    combos = list(itertools.product(*POOLS.values()))
    rng = random.Random(20261121)
    picked = rng.sample(combos, 250)
    picked += [(None,) * len(names)]
    return [{n: v for n, v in zip(names, combo, strict=True) if v is not None} for combo in picked]


def test_match_routes_equals_amtool(tmp_path: Path) -> None:
    path = tmp_path / "alertmanager.yml"
    # JSON is YAML: Alertmanager reads it as its config format.
    path.write_text(json.dumps(CONFIG, ensure_ascii=False), encoding="utf-8")
    check = amtool_check_config(path)
    assert check.returncode == 0, check.stdout + check.stderr
    tree = parse_config(CONFIG)
    sets = _label_sets()
    with ThreadPoolExecutor(max_workers=8) as pool:
        theirs = list(pool.map(lambda labels: amtool_routes(path, labels), sets))
    mismatches = [
        (labels, receivers(tree, labels), want)
        for labels, want in zip(sets, theirs, strict=True)
        if receivers(tree, labels) != want
    ]
    assert not mismatches, mismatches[:5]
    # The sample exercises every receiver and multi-receiver (continue) results.
    seen = {r for result in theirs for r in result}
    assert seen == {r["name"] for r in CONFIG["receivers"]}
    assert any(len(result) > 1 for result in theirs)


def test_inheritance_and_effective_settings() -> None:
    tree = parse_config(CONFIG)
    (pg,) = match_routes(tree, {"team": "db", "service": "postgres-1"})
    assert pg.receiver == "db-pg"
    assert pg.opts.group_by == ("alertname", "instance")
    assert pg.opts.group_wait == timedelta(0)
    assert pg.opts.group_interval == timedelta(minutes=5)
    assert pg.opts.repeat_interval == timedelta(hours=1)
    assert pg.route.path == (0, 2)
    assert pg.route.key == '{}/{team="db"}/{service=~"postgres.*"}'
    assert pg.route.id == '{}/{team="db"}/{service=~"postgres.*"}/2'
    labels = {"team": "db", "service": "postgres-1", "alertname": "X", "instance": "h1"}
    assert pg.group_labels(labels) == {"alertname": "X", "instance": "h1"}
    assert (
        pg.group_key(labels)
        == '{}/{team="db"}/{service=~"postgres.*"}:{alertname="X", instance="h1"}'
    )

    web = match_routes(tree, {"team": "web", "region": "us-east", "severity": "page"})
    assert [m.receiver for m in web] == ["audit", "web-any", "web-page"]
    assert [m.opts.group_by_all for m in web] == [False, True, True]
    assert web[1].group_labels({"team": "web", "x": "1"}) == {"team": "web", "x": "1"}

    (root,) = match_routes(tree, {"env": "dev"})
    assert root.route is tree
    assert root.receiver == "default"
    assert root.opts.group_wait == timedelta(seconds=10)
    assert root.opts.repeat_interval == timedelta(hours=4)
    assert root.route.key == "{}"
    assert root.route.id == "{}"


def test_group_by_quirks() -> None:
    tree = parse_route(
        {
            "receiver": "r",
            "group_by": ["a"],
            "routes": [
                {"matchers": ["x=1"], "group_by": []},  # empty list: keeps the parent's
                {
                    "matchers": ["x=2"],
                    "group_by": ["..."],
                    "routes": [{"matchers": ["y=1"]}, {"matchers": ["y=2"], "group_by": ["b"]}],
                },
            ],
        }
    )
    assert match_routes(tree, {"x": "1"})[0].opts.group_by == ("a",)
    assert match_routes(tree, {"x": "2", "y": "1"})[0].opts.group_by_all
    deep = match_routes(tree, {"x": "2", "y": "2"})[0].opts
    assert (deep.group_by, deep.group_by_all, deep.receiver) == (("b",), False, "r")


@pytest.mark.parametrize(
    ("route", "message"),
    [
        ({}, "default receiver"),
        ({"receiver": "r", "matchers": ["a=b"]}, "must not have any matchers"),
        ({"receiver": "r", "continue": True}, "continue in root"),
        ({"receiver": "r", "group_by": ["a", "..."]}, "wildcard"),
        ({"receiver": "r", "group_by": ["a", "a"]}, "duplicated"),
        ({"receiver": "r", "group_by": ["a-b"]}, "invalid label name"),
        ({"receiver": "r", "group_wait": "5 minutes"}, "not a valid duration"),
        ({"receiver": "r", "group_interval": "0s"}, "cannot be zero"),
        ({"receiver": "r", "repeat_interval": "0"}, "cannot be zero"),
        ({"receiver": "r", "routes": [{"matchers": ["a=~(b"]}]}, "invalid regular expression"),
        ({"receiver": "r", "routes": [{"match": {"a-b": "c"}}]}, "invalid label name"),
        ({"receiver": "r", "routes": [{"matchers": "a=b"}]}, "list of strings"),
        ({"receiver": "r", "routes": [{"recevier": "x"}]}, "unknown field"),
        ({"receiver": "r", "routes": [{"continue": "yes"}]}, "continue must be"),
        ({"receiver": "r", "mute_time_intervals": ["night"]}, "time intervals"),
    ],
)
def test_invalid_routes(route: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_route(route)


def test_undefined_receiver() -> None:
    with pytest.raises(ValueError, match="undefined receiver 'x'"):
        parse_config({"route": {"receiver": "x"}, "receivers": [{"name": "y"}]})


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0),
        ("0s", 0),
        ("30s", 30),
        ("1h30m", 5400),
        ("500ms", 0.5),
        ("1d", 86400),
        ("1w", 604800),
        ("1y", 365 * 86400),
    ],
)
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_go_duration(text).total_seconds() == seconds


T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
OPTS = RouteOpts(
    receiver="r",
    group_wait=timedelta(seconds=30),
    group_interval=timedelta(minutes=5),
    repeat_interval=timedelta(hours=1),
)


def test_group_timing() -> None:
    # A fresh alert waits group_wait; an alert that started long ago flushes at once.
    assert next_flush(OPTS, created_at=T0, first_starts_at=T0) == T0 + timedelta(seconds=30)
    assert next_flush(OPTS, created_at=T0, first_starts_at=T0 - timedelta(minutes=1)) == T0
    assert next_flush(
        OPTS, created_at=T0, first_starts_at=T0 - timedelta(seconds=30)
    ) == T0 + timedelta(seconds=30)
    assert next_flush(OPTS, created_at=T0) == T0 + timedelta(seconds=30)
    # After the first flush, every group_interval.
    flushed = T0 + timedelta(seconds=30)
    assert next_flush(OPTS, created_at=T0, last_flush=flushed) == flushed + timedelta(minutes=5)
    assert flushes_on_insert(
        OPTS, starts_at=T0 - timedelta(hours=1), received_at=T0, has_flushed=False
    )
    assert not flushes_on_insert(
        OPTS, starts_at=T0 - timedelta(hours=1), received_at=T0, has_flushed=True
    )
    assert not flushes_on_insert(OPTS, starts_at=T0, received_at=T0, has_flushed=False)


def test_repeat_lands_on_a_flush_tick() -> None:
    last = T0 + timedelta(seconds=30)
    # Flushes every 5m from `last`; repeat due at last + 1h, which is a tick.
    assert next_repeat(OPTS, last_flush=last, last_notified=last) == last + timedelta(hours=1)
    opts = RouteOpts(
        receiver="r", group_interval=timedelta(minutes=7), repeat_interval=timedelta(hours=1)
    )
    # 60 min is not a multiple of 7: the repeat goes out at the first tick after it (63 min).
    assert next_repeat(opts, last_flush=last, last_notified=last) == last + timedelta(minutes=63)
    later = last + timedelta(minutes=70)
    assert next_repeat(opts, last_flush=later, last_notified=last) == later + timedelta(minutes=7)


@pytest.mark.parametrize(
    ("firing", "resolved", "last_firing", "last_resolved", "elapsed", "send_resolved", "want"),
    [
        ({1}, set(), None, set(), 0, True, True),  # never notified, something fires
        (set(), {1}, None, set(), 0, True, False),  # never notified, only resolved alerts
        ({1, 2}, set(), {1}, set(), 1, True, True),  # a new alert fires
        ({1}, {2}, {1, 2}, set(), 1, True, True),  # one resolved, send_resolved
        ({1}, {2}, {1, 2}, set(), 1, False, False),  # ... without send_resolved
        (set(), {1, 2}, {1, 2}, set(), 1, False, True),  # all resolved: always notify
        (set(), {3}, set(), {1}, 1, True, False),  # fired and resolved unseen
        ({1}, set(), {1}, set(), 59, True, False),  # unchanged before repeat_interval
        ({1}, set(), {1}, set(), 60, True, True),  # unchanged at repeat_interval
    ],
)
def test_needs_notification(
    firing: set[int],
    resolved: set[int],
    last_firing: set[int] | None,
    last_resolved: set[int],
    elapsed: int,
    send_resolved: bool,
    want: bool,
) -> None:
    got = needs_notification(
        firing=firing,
        resolved=resolved,
        last_firing=last_firing,
        last_resolved=last_resolved,
        last_notified=None if last_firing is None else T0,
        now=T0 + timedelta(minutes=elapsed),
        repeat_interval=timedelta(hours=1),
        send_resolved=send_resolved,
    )
    assert got is want
