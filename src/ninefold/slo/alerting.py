"""Pure multiwindow multi-burn-rate alert decisions (Google SRE Workbook, chapter 5).

For a 30-day period: page when the 1h and 5m burn rates are both ≥ 14.4 (2% of the budget in
an hour) or the 6h and 30m rates are both ≥ 6 (5% in six hours); ticket when 1d and 2h ≥ 3
(10% in a day) or 3d and 6h ≥ 1 (10% in three days). Other periods keep these budget fractions,
as Sloth does: factor = fraction × period / long window.
"""

from __future__ import annotations

from dataclasses import dataclass

from ninefold.core.durations import format_duration

#: (severity, long window, short window, budget fraction spent in the long window)
CONDITIONS: tuple[tuple[str, str, int, str, float], ...] = (
    ("page", "1h", 3600, "5m", 0.02),
    ("page", "6h", 21600, "30m", 0.05),
    ("ticket", "1d", 86400, "2h", 0.10),
    ("ticket", "3d", 259200, "6h", 0.10),
)


@dataclass(frozen=True)
class AlertDecision:
    """Whether one severity fires, and why."""

    severity: str
    firing: bool
    reason: str


def factor(fraction: float, period_seconds: int, long_seconds: int) -> float:
    """Burn-rate threshold that spends ``fraction`` of the period's budget in the long window."""
    return fraction * period_seconds / long_seconds


def thresholds(period_seconds: int) -> list[tuple[str, str, str, float]]:
    """(severity, long window, short window, factor) for a period."""
    return [
        (sev, long, short, factor(frac, period_seconds, long_s))
        for sev, long, long_s, short, frac in CONDITIONS
    ]


def decide(
    rates: dict[str, float | None],
    period_seconds: int,
    *,
    page: bool = True,
    ticket: bool = True,
    stale: bool = False,
) -> list[AlertDecision]:
    """Decide page and ticket alerts from burn rates; a ``no_data`` alert fires when stale."""
    out: list[AlertDecision] = []
    period = format_duration(period_seconds)
    for severity, enabled in (("page", page), ("ticket", ticket)):
        if not enabled:
            continue
        reasons = []
        for sev, long, short, f in thresholds(period_seconds):
            if sev != severity:
                continue
            long_rate, short_rate = rates.get(long), rates.get(short)
            if (
                long_rate is not None
                and short_rate is not None
                and long_rate >= f
                and short_rate >= f
            ):
                reasons.append(
                    f"burn rate {long_rate:.2f}x over {long} and {short_rate:.2f}x over {short} "
                    f">= {f:.4g}x (spends {f * _long_seconds(long) / period_seconds:.0%} of the "
                    f"{period} budget in {long})"
                )
        out.append(AlertDecision(severity, bool(reasons), "; ".join(reasons)))
    out.append(
        AlertDecision(
            "no_data",
            stale,
            "no data received within the no-data interval" if stale else "",
        )
    )
    return out


def _long_seconds(label: str) -> int:
    for _sev, long, seconds, _short, _frac in CONDITIONS:
        if long == label:
            return seconds
    raise KeyError(label)
