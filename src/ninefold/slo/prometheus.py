"""A :class:`~ninefold.slo.sources.Source` reading SLI events from a Prometheus server.

Each range is one instant query at ``time=end`` over ``[<end-start>s]`` that returns the good (or
bad) and total events as two labelled samples. Timeslices SLOs additionally ask
``/api/v1/query_range`` with ``step`` = slice length for per-slice good ratios, in chunks below
Prometheus's 11,000-points limit. Queries run on a small thread pool sharing one HTTP client.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import httpx

from ninefold.catalog.spec import SLOSpec
from ninefold.core.durations import parse_duration
from ninefold.errors import InvalidInput, UpstreamError
from ninefold.slo import promql
from ninefold.slo.sources import Counts, RangeQuery

#: Most requests in flight at once.
MAX_CONCURRENCY = 8
#: Points per query_range request (Prometheus refuses more than 11,000).
MAX_POINTS = 10_000
_PART = "ninefold_part"


class PrometheusSource:
    """SLI counts from the Prometheus HTTP API."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 30.0,
        client: httpx.Client | None = None,
        concurrency: int = MAX_CONCURRENCY,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._own_client = client is None
        self._client = client or httpx.Client(
            timeout=timeout, limits=httpx.Limits(max_connections=concurrency)
        )
        self.concurrency = max(1, concurrency)

    def close(self) -> None:
        """Close the HTTP client if this source created it."""
        if self._own_client:
            self._client.close()

    def __enter__(self) -> PrometheusSource:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def counts(self, queries: Sequence[RangeQuery]) -> list[Counts | None]:
        """Counts for each range, in order; None when Prometheus has no series (or NaN)."""
        if not queries:
            return []
        if len(queries) == 1:
            return [self._one(queries[0])]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(queries))) as pool:
            return list(pool.map(self._one, queries))

    def check_query(self, spec: SLOSpec) -> None:
        """Have Prometheus evaluate each of the SLO's queries once; raise if it rejects one."""
        exprs = promql.event_exprs(spec, 300)
        for expr in (exprs.total, exprs.numerator()[1]):
            self.query(expr, spec=spec)

    # -- HTTP -------------------------------------------------------------------------------

    def query(self, expr: str, *, spec: SLOSpec, at: datetime | None = None) -> list[Any]:
        """Run an instant query and return the ``result`` list (vector samples)."""
        form = {"query": expr}
        if at is not None:
            form["time"] = _ts(at)
        data = self._post("/api/v1/query", form, spec)
        if data.get("resultType") == "scalar":
            return [{"metric": {}, "value": data.get("result")}]
        result = data.get("result")
        return result if isinstance(result, list) else []

    def query_range(
        self, expr: str, *, spec: SLOSpec, start: float, end: float, step: int
    ) -> list[Any]:
        """Run a range query and return the ``result`` list (matrix series)."""
        form = {"query": expr, "start": _num(start), "end": _num(end), "step": f"{step}s"}
        result = self._post("/api/v1/query_range", form, spec).get("result")
        return result if isinstance(result, list) else []

    def _post(self, path: str, form: dict[str, str], spec: SLOSpec) -> dict[str, Any]:
        url = self.base_url + path
        try:
            response = self._client.post(url, data=form, timeout=self.timeout)
        except httpx.TimeoutException as exc:
            raise UpstreamError(
                f"Prometheus at {self.base_url} timed out after {self.timeout:g}s ({path})"
            ) from exc
        except httpx.HTTPError as exc:
            raise UpstreamError(
                f"Prometheus at {self.base_url} is unreachable: {type(exc).__name__}: {exc}"
            ) from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        error = body.get("error") if isinstance(body, dict) else None
        if response.status_code == 400 and isinstance(body, dict):
            raise InvalidInput(
                f"Prometheus rejected the PromQL of SLO {spec.name!r} "
                f"({body.get('errorType', 'bad_data')}): {error}; query: {form['query']}"
            )
        if response.status_code >= 300 or not isinstance(body, dict):
            detail = error or response.text[:200].strip() or response.reason_phrase
            raise UpstreamError(
                f"Prometheus at {self.base_url} answered HTTP {response.status_code} "
                f"on {path} for SLO {spec.name!r}: {detail}"
            )
        if body.get("status") != "success":
            raise UpstreamError(f"Prometheus at {self.base_url} answered {path} with: {error}")
        data = body.get("data")
        return data if isinstance(data, dict) else {}

    # -- counts -----------------------------------------------------------------------------

    def _one(self, rq: RangeQuery) -> Counts | None:
        seconds = int((rq.end - rq.start).total_seconds())
        if seconds <= 0:
            return None
        exprs = promql.event_exprs(rq.slo, seconds)
        kind, numerator = exprs.numerator()
        expr = (
            f'label_replace({numerator}, "{_PART}", "{kind}", "", "")\n'
            f'or label_replace({exprs.total}, "{_PART}", "total", "", "")'
        )
        values: dict[str, float] = {}
        for sample in self.query(expr, spec=rq.slo, at=rq.end):
            part = sample.get("metric", {}).get(_PART)
            value = _value(sample.get("value"))
            if part is not None and value is not None:
                values[part] = values.get(part, 0.0) + value
        total = values.get("total")
        if total is None or math.isnan(total):
            return None
        part_value = values.get(kind, 0.0)
        if math.isnan(part_value):
            return None
        total = max(total, 0.0)
        good = part_value if kind == "good" else total - part_value
        good = min(max(good, 0.0), total)
        good_slices = total_slices = 0
        if rq.slo.budgeting == "timeslices" and rq.slo.timeslice is not None:
            good_slices, total_slices = self._slices(rq)
        return Counts(good, total, good_slices, total_slices)

    def _slices(self, rq: RangeQuery) -> tuple[int, int]:
        assert rq.slo.timeslice is not None
        length = parse_duration(rq.slo.timeslice.length)
        target = rq.slo.timeslice.target
        expr = promql.ratio_expr(promql.event_exprs(rq.slo, length), error=False)
        start, end = rq.start.timestamp(), rq.end.timestamp()
        # evaluation points are the ends of whole slices inside [start, end]
        first = math.ceil((start + length) / length) * length
        good = total = 0
        chunk: float = first
        while chunk <= end:
            last = min(chunk + (MAX_POINTS - 1) * length, end)
            for series in self.query_range(expr, spec=rq.slo, start=chunk, end=last, step=length):
                for point in series.get("values", []):
                    value = _value(point)
                    if value is None:
                        continue
                    total += 1
                    good += int(value >= target)
            chunk = last + length
        return good, total


def _value(pair: Any) -> float | None:
    """The float of a ``[timestamp, "value"]`` pair; None for NaN/Inf or malformed values."""
    try:
        value = float(pair[1])
    except (TypeError, ValueError, IndexError):
        return None
    return value if math.isfinite(value) else None


def _ts(at: datetime) -> str:
    return _num(at.timestamp())


def _num(value: float) -> str:
    return f"{value:.3f}"
