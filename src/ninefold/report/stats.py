"""Summary statistics of durations and counts: count, mean, median, p90, max (pure)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Summary:
    """Summary of a sample; every figure is None for an empty sample."""

    count: int
    mean: float | None
    median: float | None
    p90: float | None
    max: float | None


EMPTY = Summary(0, None, None, None, None)


def percentile(sorted_values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) by linear interpolation between closest ranks (numpy's default).

    For [1, 2, 3, 4]: median 2.5, p90 3.7.
    """
    if not sorted_values:
        raise ValueError("percentile of an empty sample")
    pos = (len(sorted_values) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    frac = pos - lo
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac


def summarize(values: Iterable[float]) -> Summary:
    """Count, mean, median, p90 and max of ``values``."""
    data = sorted(values)
    if not data:
        return EMPTY
    return Summary(
        count=len(data),
        mean=sum(data) / len(data),
        median=percentile(data, 0.5),
        p90=percentile(data, 0.9),
        max=data[-1],
    )


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, None when the denominator is zero."""
    return None if denominator == 0 else numerator / denominator
