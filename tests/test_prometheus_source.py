"""PrometheusSource: HTTP behaviour against a fake API, and agreement with a real Prometheus.

The live test runs Debian's ``prometheus`` scraping a loopback exporter every second with the
rules ninefold generates. The exporter applies known increments on each scrape; the test checks
that (1) the error ratios Prometheus records, (2) the ratios ninefold reads through
PrometheusSource and (3) ninefold's own computation from the exporter's increments all agree,
and that the burn-rate alerts fire only once the error ratio is high enough.
"""

from __future__ import annotations

import json
import math
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from ninefold.catalog.spec import SLOSpec
from ninefold.cli.rules import dump_yaml
from ninefold.errors import InvalidInput, UpstreamError
from ninefold.slo import prometheus as prom_source
from ninefold.slo import promrules
from ninefold.slo.budget import error_ratio
from ninefold.slo.prometheus import PrometheusSource
from ninefold.slo.sources import Counts, RangeQuery
from tests.prom import Exporter, PrometheusServer, binary, free_port

END = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def spec(name: str, sli: dict[str, Any], **extra: Any) -> SLOSpec:
    data = {"name": name, "service": "shop", "objective": 0.99, "source": "prometheus", "sli": sli}
    return SLOSpec.model_validate({**data, **extra})


BAD = spec(
    "errors-plain",
    {"ratio": {"bad": 'app_requests_total{code="500"}', "total": "app_requests_total"}},
)
GOOD_TPL = spec(
    "errors-tpl",
    {
        "ratio": {
            "good": 'sum(rate(app_requests_total{code="200"}[{{.window}}]))',
            "total": "sum(rate(app_requests_total[{{.window}}]))",
        }
    },
)
LATENCY = spec(
    "latency", {"latency": {"histogram": "app_latency_seconds", "threshold": 0.25}}, objective=0.9
)
LATENCY_1S = spec(
    "latency-1s",
    {"latency": {"histogram": "app_latency_seconds", "threshold": 1, "selector": 'job="exporter"'}},
    objective=0.9,
)
PROBE = spec("probe", {"availability": {"probe": "app_probe_success"}}, objective=0.8)
LIVE_SLOS = [BAD, GOOD_TPL, LATENCY, LATENCY_1S, PROBE]


# -- fake Prometheus API ------------------------------------------------------------------


def fake(handler: Callable[[httpx.Request, dict[str, str]], httpx.Response]) -> httpx.Client:
    def wrapped(request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        return handler(request, form)

    return httpx.Client(transport=httpx.MockTransport(wrapped))


def vector(*samples: tuple[dict[str, str], str]) -> httpx.Response:
    result = [{"metric": m, "value": [END.timestamp(), v]} for m, v in samples]
    return httpx.Response(
        200, json={"status": "success", "data": {"resultType": "vector", "result": result}}
    )


def parts(**values: str) -> list[tuple[dict[str, str], str]]:
    return [({"ninefold_part": k}, v) for k, v in values.items()]


def one(source: PrometheusSource, slo: SLOSpec, seconds: int = 3600) -> Counts | None:
    return source.counts([RangeQuery(slo, END - timedelta(seconds=seconds), END)])[0]


def test_counts_from_bad_and_total_with_time_and_whole_second_range() -> None:
    seen: list[dict[str, str]] = []

    def handler(request: httpx.Request, form: dict[str, str]) -> httpx.Response:
        seen.append(form)
        return vector(*parts(bad="25", total="1000"))

    source = PrometheusSource("http://prom.test:9090/", client=fake(handler))
    counts = one(source, BAD, 30 * 86400)
    assert counts == Counts(good=975.0, total=1000.0)
    assert float(seen[0]["time"]) == pytest.approx(END.timestamp())
    assert "[2592000s]" in seen[0]["query"]


def test_missing_numerator_series_means_zero_and_missing_total_means_no_data() -> None:
    answers = iter([vector(*parts(total="40")), vector(), vector(*parts(bad="3"))])
    source = PrometheusSource("http://p", client=fake(lambda _r, _f: next(answers)))
    assert one(source, BAD) == Counts(40.0, 40.0)
    assert one(source, BAD) is None
    assert one(source, BAD) is None


def test_nan_is_no_data_never_a_number() -> None:
    source = PrometheusSource(
        "http://p", client=fake(lambda _r, _f: vector(*parts(good="NaN", total="NaN")))
    )
    assert one(source, GOOD_TPL) is None


def test_rejected_promql_is_invalid_input_with_prometheus_message() -> None:
    def handler(_request: httpx.Request, _form: dict[str, str]) -> httpx.Response:
        body = {"status": "error", "errorType": "bad_data", "error": "1:5: parse error: boom"}
        return httpx.Response(400, json=body)

    source = PrometheusSource("http://p", client=fake(handler))
    with pytest.raises(InvalidInput) as info:
        source.check_query(BAD)
    assert "parse error: boom" in info.value.message
    assert "errors-plain" in info.value.message


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_upstream_errors_naming_the_url(status: int) -> None:
    source = PrometheusSource(
        "http://prom.test:9090", client=fake(lambda _r, _f: httpx.Response(status, text="down"))
    )
    with pytest.raises(UpstreamError, match=r"http://prom\.test:9090.*HTTP " + str(status)):
        one(source, BAD)


def test_timeout_is_an_upstream_error() -> None:
    def handler(request: httpx.Request, _form: dict[str, str]) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    source = PrometheusSource("http://prom.test:9090", timeout=2, client=fake(handler))
    with pytest.raises(UpstreamError, match=r"prom\.test:9090 timed out after 2s"):
        one(source, BAD)


def test_unreachable_prometheus_names_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with PrometheusSource(url, timeout=2) as source, pytest.raises(UpstreamError) as info:
        one(source, BAD)
    assert url in info.value.message
    assert "unreachable" in info.value.message


def test_many_ranges_keep_their_order() -> None:
    def handler(_request: httpx.Request, form: dict[str, str]) -> httpx.Response:
        seconds = int(form["query"].split("[")[1].split("s]")[0])
        return vector(*parts(bad="1", total=str(seconds)))

    source = PrometheusSource("http://p", client=fake(handler))
    ranges = [RangeQuery(BAD, END - timedelta(seconds=60 * (i + 1)), END) for i in range(40)]
    got = source.counts(ranges)
    assert [c.total if c else None for c in got] == [60.0 * (i + 1) for i in range(40)]


def test_timeslices_count_good_slices_in_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prom_source, "MAX_POINTS", 7)
    slo = spec(
        "sliced",
        BAD.sli.model_dump(exclude_none=True),
        budgeting="timeslices",
        timeslice={"length": "1m", "target": 0.9},
    )
    ranges: list[dict[str, str]] = []

    def handler(request: httpx.Request, form: dict[str, str]) -> httpx.Response:
        if request.url.path.endswith("/query"):
            return vector(*parts(bad="5", total="100"))
        ranges.append(form)
        start, end = float(form["start"]), float(form["end"])
        points = []
        t = start
        while t <= end + 1e-6:
            minute = int(t // 60)
            value = "NaN" if minute % 5 == 0 else ("0.95" if minute % 2 else "0.5")
            points.append([t, value])
            t += 60
        data = {"resultType": "matrix", "result": [{"metric": {}, "values": points}]}
        return httpx.Response(200, json={"status": "success", "data": data})

    source = PrometheusSource("http://p", client=fake(handler))
    start = END - timedelta(
        minutes=20, seconds=30
    )  # not aligned: first full slice ends 19:00 before END
    counts = source.counts([RangeQuery(slo, start, END)])[0]
    assert counts is not None
    ends = [int(END.timestamp()) // 60 - k for k in range(20)]
    expected_total = [m for m in ends if m % 5 != 0]
    expected_good = [m for m in expected_total if m % 2]
    assert (counts.good_slices, counts.total_slices) == (len(expected_good), len(expected_total))
    assert (counts.good, counts.total) == (95.0, 100.0)
    assert all(f["step"] == "60s" for f in ranges)
    assert len(ranges) == math.ceil(20 / 7)
    assert float(ranges[0]["start"]) % 60 == 0


# -- real Prometheus ------------------------------------------------------------------------


@dataclass
class Traffic:
    """Per-scrape increments; the test flips ``phase`` to raise the error ratio."""

    phase: int = 1
    values: dict[str, float] = field(default_factory=dict)

    INCREMENTS = {
        1: {"ok": 95, "err": 5, "fast": 50, "mid": 30, "slow": 10, "slower": 10},
        2: {"ok": 40, "err": 60, "fast": 10, "mid": 10, "slow": 30, "slower": 50},
    }

    def scrape(self, k: int) -> dict[str, float]:
        inc = self.INCREMENTS[self.phase]
        v = self.values
        if not v:  # large starting values keep increase()'s zero-clamp out of the way
            v.update(ok=1e6, err=1e5, fast=1e6, mid=1e5, slow=1e5, slower=1e5)
        else:
            for key in ("ok", "err", "fast", "mid", "slow", "slower"):
                v[key] += inc[key]
        probe = (0.0 if k % 4 == 3 else 1.0) if self.phase == 1 else float(k % 2)
        le01 = v["fast"]
        le025 = le01 + v["mid"]
        le1 = le025 + v["slow"]
        count = le1 + v["slower"]
        return {
            'app_requests_total{code="200"}': v["ok"],
            'app_requests_total{code="500"}': v["err"],
            'app_latency_seconds_bucket{le="0.1"}': le01,
            'app_latency_seconds_bucket{le="0.25"}': le025,
            'app_latency_seconds_bucket{le="1.0"}': le1,
            'app_latency_seconds_bucket{le="+Inf"}': count,
            "app_latency_seconds_count": count,
            "app_latency_seconds_sum": count * 0.2,
            "app_probe_success": probe,
        }


def pure_counts(slo: SLOSpec, scrapes: list[tuple[float, dict[str, float]]]) -> Counts | None:
    """ninefold's own count of the events the exporter served in a window (no Prometheus)."""
    if len(scrapes) < 2:
        return None
    first, last = scrapes[0][1], scrapes[-1][1]

    def delta(key: str) -> float:
        return last[key] - first[key]

    if slo is PROBE:
        values = [s["app_probe_success"] for _t, s in scrapes]
        return Counts(sum(values), float(len(values)))
    total = delta('app_requests_total{code="200"}') + delta('app_requests_total{code="500"}')
    if slo in (BAD, GOOD_TPL):
        return Counts(delta('app_requests_total{code="200"}'), total)
    bucket = (
        'app_latency_seconds_bucket{le="0.25"}'
        if slo is LATENCY
        else ('app_latency_seconds_bucket{le="1.0"}')
    )
    return Counts(delta(bucket), delta("app_latency_seconds_count"))


@dataclass
class Live:
    prom: PrometheusServer
    exporter: Exporter
    traffic: Traffic
    source: PrometheusSource

    def alerts(self, sloth_id: str) -> dict[str, str]:
        """Severity -> state of the burn alerts of one SLO."""
        out = {}
        for alert in self.prom.api("/api/v1/alerts")["alerts"]:
            labels = alert["labels"]
            if labels.get("sloth_id") == sloth_id and "sloth_window" in labels:
                out[labels["sloth_severity"]] = alert["state"]
        return out

    def samples(self, expr: str) -> list[tuple[float, float]]:
        """(timestamp, value) samples of a series over the last minute."""
        result = self.prom.api("/api/v1/query", query=f"{expr}[1m]")["result"]
        assert len(result) == 1, (expr, result)
        return [(float(t), float(v)) for t, v in result[0]["values"]]

    def scrapes_in(self, start: float, end: float) -> list[tuple[float, dict[str, float]]]:
        """Exporter scrapes whose Prometheus sample time is in (start, end]."""
        stamps = {v: t for t, v in self.samples('app_requests_total{code="200"}')}
        logged = [
            (stamps.get(s.values['app_requests_total{code="200"}']), s.values)
            for s in self.exporter.scrapes()
        ]
        return [(t, v) for t, v in logged if t is not None and start < t <= end]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    workdir = tmp_path_factory.mktemp("prometheus")
    rules = workdir / "shop.rules.yml"
    export = promrules.export([("shop", s) for s in LIVE_SLOS])
    rules.write_text(dump_yaml(export.files["shop"]), encoding="utf-8")
    traffic = Traffic()
    exporter = Exporter(traffic.scrape, types={"app_requests_total": "counter"}).start()
    prom = PrometheusServer(workdir, targets=[exporter.target], rule_files=[rules])
    try:
        prom.start()
        with PrometheusSource(prom.url, timeout=10) as source:
            yield Live(prom, exporter, traffic, source)
    finally:
        prom.stop()
        exporter.stop()


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


def close(a: float | None, b: float | None, rel: float = 1e-9) -> bool:
    return a is not None and b is not None and math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)


@pytest.mark.prometheus
def test_live_prometheus_agrees_with_ninefold_and_alerts_fire(live: Live) -> None:
    sid = "shop-errors-plain"
    # phase 1: 5% errors burn a 99% SLO at 5x: a ticket (> 3x) but no page (> 6x or > 14.4x)
    wait_for(lambda: live.alerts(sid).get("ticket") == "firing", 25, "the ticket alert")
    assert live.alerts(sid).get("page") is None
    assert live.traffic.phase == 1
    # phase 2: 60% errors; the cumulative ratio passes 6% (and 14.4%) within a few scrapes
    live.traffic.phase = 2
    wait_for(lambda: live.alerts(sid).get("page") == "firing", 20, "the page alert")
    time.sleep(1.5)

    for slo in LIVE_SLOS:
        selector = f'{{sloth_id="shop-{slo.name}"}}'
        for window, seconds in (("5m", 300), ("30m", 1800), ("30d", 30 * 86400)):
            recorded = live.samples(f"slo:sli_error:ratio_rate{window}{selector}")[-3:]
            for ts, value in recorded:
                end = datetime.fromtimestamp(ts, UTC)
                counts = live.source.counts(
                    [RangeQuery(slo, end - timedelta(seconds=seconds), end)]
                )[0]
                ours = error_ratio(counts, "occurrences")
                scrapes = live.scrapes_in(ts - seconds, ts)
                pure = error_ratio(pure_counts(slo, scrapes), "occurrences")
                # The rule ran at ts; a scrape stamped just before ts may have been appended
                # after the rule ran, so the recorded value may lack the newest scrape.
                pure_before = error_ratio(pure_counts(slo, scrapes[:-1]), "occurrences")
                assert close(ours, pure), (slo.name, window, ts, ours, pure)
                assert close(value, pure) or close(value, pure_before), (
                    slo.name,
                    window,
                    ts,
                    value,
                    pure,
                    pure_before,
                )
                assert counts is not None
                if slo is PROBE:  # sample counts are exact; counters are extrapolated
                    assert counts == pure_counts(slo, live.scrapes_in(ts - seconds, ts))

    # a short window sees only phase 2, and ninefold still matches the exporter's increments
    ts = live.samples(f'slo:sli_error:ratio_rate5m{{sloth_id="{sid}"}}')[-1][0]
    end = datetime.fromtimestamp(ts, UTC)
    short = live.source.counts([RangeQuery(BAD, end - timedelta(seconds=4), end)])[0]
    pure = pure_counts(BAD, live.scrapes_in(ts - 4, ts))
    assert close(error_ratio(short, "occurrences"), error_ratio(pure, "occurrences"))
    assert error_ratio(pure, "occurrences") == pytest.approx(0.6)


@pytest.mark.prometheus
def test_live_empty_and_rejected_queries(live: Live) -> None:
    missing = spec("missing", {"ratio": {"bad": "nope_total", "total": "nope_total"}})
    now = datetime.now(UTC)
    assert live.source.counts([RangeQuery(missing, now - timedelta(minutes=5), now)]) == [None]
    live.source.check_query(missing)  # valid PromQL, just no data

    broken = spec(
        "broken",
        {"ratio": {"bad": "x_total", "total": "sum(rate(app_requests_total[{{.window}}])"}},
    )
    with pytest.raises(InvalidInput) as info:
        live.source.check_query(broken)
    assert "broken" in info.value.message
    assert "parse error" in info.value.message
    with pytest.raises(InvalidInput, match="parse error"):
        live.source.counts([RangeQuery(broken, now - timedelta(minutes=5), now)])


@pytest.mark.prometheus
def test_live_concurrent_counts_match_sequential(live: Live) -> None:
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=2)
    ranges = [
        RangeQuery(slo, now - timedelta(seconds=seconds), now)
        for slo in LIVE_SLOS
        for seconds in (300, 1800, 3600, 7200, 21600, 86400, 259200, 2592000)
    ]
    together = live.source.counts(ranges)
    alone = [live.source.counts([r])[0] for r in ranges]
    assert together == alone
    assert all(c is not None and c.total > 0 for c in together)
    assert json.dumps([c.total for c in together if c])  # plain floats, no NaN objects


@pytest.mark.prometheus
def test_live_timeslices_from_backfilled_data(tmp_path: Path) -> None:
    """Two hours of 15 s samples backfilled with promtool; every third minute is a bad slice."""
    end_minute = int(time.time() // 60) - 5
    first_sample = (end_minute - 120) * 60
    stamps = list(range(first_sample, end_minute * 60 + 1, 15))

    def bad_share(minute: int) -> float:
        return 0.2 if minute % 3 == 0 else 0.02

    ok, err = 1e6, 1e5
    rows: dict[str, list[str]] = {"200": [], "500": []}
    for s in stamps:
        minute = -(-s // 60)  # a sample at s in (60(m-1), 60m] belongs to minute m
        if s != first_sample:
            err += 100 * bad_share(minute)
            ok += 100 * (1 - bad_share(minute))
        rows["200"].append(f'app_requests_total{{code="200"}} {ok!r} {s}')
        rows["500"].append(f'app_requests_total{{code="500"}} {err!r} {s}')
    text = "# TYPE app_requests counter\n" + "\n".join(rows["200"] + rows["500"]) + "\n# EOF\n"
    (tmp_path / "data.om").write_text(text, encoding="utf-8")
    data = tmp_path / "prom" / "data"
    data.mkdir(parents=True)
    result = subprocess.run(
        [binary("promtool"), "tsdb", "create-blocks-from", "openmetrics", "data.om", str(data)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr

    slo = spec(
        "sliced",
        BAD.sli.model_dump(exclude_none=True),
        budgeting="timeslices",
        timeslice={"length": "1m", "target": 0.95},
    )
    prom = PrometheusServer(tmp_path / "prom").start()
    try:
        with PrometheusSource(prom.url, timeout=10) as source:
            end = datetime.fromtimestamp(end_minute * 60, UTC)
            counts = source.counts([RangeQuery(slo, end - timedelta(minutes=60), end)])[0]
    finally:
        prom.stop()
    minutes = range(end_minute - 59, end_minute + 1)
    assert counts is not None
    assert counts.total_slices == 60
    assert counts.good_slices == sum(1 for m in minutes if m % 3 != 0)
    expected_errors = sum(bad_share(m) for m in minutes) / 60
    assert counts.bad / counts.total == pytest.approx(expected_errors, rel=1e-9)
