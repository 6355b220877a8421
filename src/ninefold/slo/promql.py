"""PromQL for ninefold SLOs (pure): event counts over a range and error ratios over a window.

Ratio SLIs take either plain counter selectors (``http_requests_total{job="api"}``), which are
wrapped as ``sum(increase(<selector>[<range>]))``, or Sloth-style rate expressions containing
the ``{{.window}}`` template (``sum(rate(x[{{.window}}]))``), which are rendered with the range
and read as per-second rates (events = rate × seconds). Latency SLIs count histogram buckets at
the threshold against ``_count``; availability SLIs count probe samples (``sum_over_time`` of a
0/1 gauge against ``count_over_time``).

Error ratios never divide by zero: the denominator is filtered with ``> 0``, so zero traffic gives
an empty result ("no data") instead of NaN, and a good/bad query with no series at all counts as 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ninefold.catalog.spec import SLOSpec
from ninefold.errors import InvalidInput

#: The Sloth template placeholder for the range of a rate expression.
WINDOW_TEMPLATE = "{{.window}}"

_TEMPLATE_RE = re.compile(r"\{\{\s*\.window\s*\}\}")
_SELECTOR_RE = re.compile(
    r"""^\s*(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)?\s*
    (?P<labels>\{(?:[^{}"'`]|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)*\})?\s*$""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class EventExprs:
    """PromQL giving an SLO's events over one range: ``total`` and either ``good`` or ``bad``."""

    total: str
    good: str | None = None
    bad: str | None = None

    def numerator(self) -> tuple[str, str]:
        """("good" or "bad", its expression)."""
        if self.good is not None:
            return "good", self.good
        assert self.bad is not None
        return "bad", self.bad


def is_templated(query: str) -> bool:
    """Whether a query is a Sloth-style rate expression with a ``{{.window}}`` placeholder."""
    return bool(_TEMPLATE_RE.search(query))


def render_window(query: str, window: str) -> str:
    """Replace every ``{{.window}}`` placeholder with a PromQL duration."""
    return _TEMPLATE_RE.sub(window, query)


def is_selector(query: str) -> bool:
    """Whether a query is a plain instant-vector selector (metric name and/or label matchers)."""
    match = _SELECTOR_RE.match(query)
    return bool(match and (match.group("name") or match.group("labels")))


def range_of(seconds: int) -> str:
    """A PromQL range in whole seconds, e.g. ``2592000s``."""
    if seconds <= 0:
        raise ValueError("range must be positive")
    return f"{int(seconds)}s"


def event_exprs(spec: SLOSpec, seconds: int) -> EventExprs:
    """PromQL for the good (or bad) and total events of ``spec`` over the last ``seconds``."""
    return _exprs(spec, range_of(seconds), scale=seconds)


def window_exprs(spec: SLOSpec, window: str) -> EventExprs:
    """Like :func:`event_exprs` for a PromQL window string, leaving rates unscaled (ratios only)."""
    return _exprs(spec, window, scale=None)


def error_ratio_expr(spec: SLOSpec, window: str) -> str:
    """PromQL for the error ratio over ``window``; empty (not NaN) when there is no traffic."""
    return ratio_expr(window_exprs(spec, window), error=True)


def sli_error_template(spec: SLOSpec) -> str:
    """The Sloth-style SLI error-ratio expression with a ``{{.window}}`` placeholder."""
    return error_ratio_expr(spec, WINDOW_TEMPLATE)


def ratio_expr(exprs: EventExprs, *, error: bool) -> str:
    """Error (or good) ratio of event expressions; missing good/bad series count as zero."""
    kind, numerator = exprs.numerator()
    fraction = f"({numerator} or vector(0))\n/\n({exprs.total} > 0)"
    if (kind == "bad") == error:
        return fraction
    return f"1 - (\n{fraction}\n)"


def queries_of(spec: SLOSpec) -> list[str]:
    """The raw PromQL fields of a Prometheus-backed SLI (for error messages)."""
    sli = spec.sli
    if sli.ratio is not None:
        return [q for q in (sli.ratio.good, sli.ratio.bad, sli.ratio.total) if q is not None]
    if sli.latency is not None:
        return [sli.latency.histogram] if sli.latency.histogram else []
    assert sli.availability is not None
    return [sli.availability.probe] if sli.availability.probe else []


def le_matcher(threshold: float) -> str:
    """An ``le`` matcher for a bucket bound, tolerating both ``1`` and ``1.0`` spellings."""
    if float(threshold).is_integer():
        return f'le=~"{int(threshold)}(\\\\.0)?"'
    return f'le="{float(threshold)!r}"'


def _exprs(spec: SLOSpec, window: str, *, scale: int | None) -> EventExprs:
    sli = spec.sli
    if sli.ratio is not None:
        ratio = sli.ratio
        if ratio.total is None or (ratio.good is None and ratio.bad is None):
            raise _missing(spec)
        total = _counter(spec, ratio.total, window, scale)
        if ratio.good is not None:
            return EventExprs(total=total, good=_counter(spec, ratio.good, window, scale))
        assert ratio.bad is not None
        return EventExprs(total=total, bad=_counter(spec, ratio.bad, window, scale))
    if sli.latency is not None:
        latency = sli.latency
        if latency.histogram is None:
            raise _missing(spec)
        name = latency.histogram.strip().removesuffix("_bucket").removesuffix("_count")
        if not is_selector(name) or "{" in name:
            raise InvalidInput(
                f"SLO {spec.name!r}: latency.histogram must be a metric name, got {name!r}"
            )
        matchers = latency.selector.strip().removeprefix("{").removesuffix("}").strip(" ,")
        bucket = ",".join(m for m in (matchers, le_matcher(latency.threshold)) if m)
        count = f"{name}_count{{{matchers}}}" if matchers else f"{name}_count"
        return EventExprs(
            total=f"sum(increase({count}[{window}]))",
            good=f"sum(increase({name}_bucket{{{bucket}}}[{window}]))",
        )
    assert sli.availability is not None
    probe = sli.availability.probe
    if probe is None:
        raise _missing(spec)
    if not is_selector(probe):
        raise InvalidInput(
            f"SLO {spec.name!r}: availability.probe must be a selector such as "
            f'probe_success{{job="blackbox"}}, got {probe!r}'
        )
    probe = probe.strip()
    return EventExprs(
        total=f"sum(count_over_time({probe}[{window}]))",
        good=f"sum(sum_over_time({probe}[{window}]))",
    )


def _counter(spec: SLOSpec, query: str, window: str, scale: int | None) -> str:
    if is_templated(query):
        rendered = f"({render_window(query.strip(), window)})"
        return rendered if scale is None else f"{rendered} * {scale}"
    if is_selector(query):
        return f"sum(increase({query.strip()}[{window}]))"
    raise InvalidInput(
        f"SLO {spec.name!r}: query {query!r} is neither a counter selector "
        '(e.g. http_requests_total{code!~"5.."}) nor a rate expression with {{.window}} '
        "(e.g. sum(rate(http_requests_total[{{.window}}])))"
    )


def _missing(spec: SLOSpec) -> InvalidInput:
    return InvalidInput(f"SLO {spec.name!r} has no PromQL queries (is its source prometheus?)")
