"""A deterministic traffic generator for the example organisation (pure: no I/O, no clock).

Every SLO gets a daily traffic curve and a background error ratio well inside its budget.
Scenarios, placed relative to the moment the demo starts, make the statuses worth looking at:
a fresh checkout outage that pages, a slow latency burn on search that opens a ticket, a flaky
low-tier probe that has spent its budget, and a ledger with a bad afternoon two days ago.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Scenario:
    """Extra error ratio for an SLO between ``start`` and ``end`` minutes relative to the anchor."""

    slo: str
    start_min: int
    end_min: int
    error_ratio: float


#: Minutes are relative to the demo's anchor time (negative: in the past).
SCENARIOS = (
    Scenario("checkout-success", -25, 60, 0.06),  # an outage happening now: page
    Scenario("checkout-latency", -25, 60, 0.05),
    Scenario("search-latency", -2 * 1440, 120, 0.055),  # slow burn: ticket
    Scenario("recommendations-probe", -6 * 1440, 120, 0.12),  # budget exhausted
    Scenario("ledger-write-minutes", -2 * 1440 - 300, -2 * 1440 - 290, 0.02),
    Scenario("edge-availability", -3 * 1440 - 40, -3 * 1440 - 25, 0.02),
)


def _unit(*parts: object) -> float:
    """A deterministic pseudo-random number in [0, 1) from the given parts."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@dataclass(frozen=True)
class MinuteTraffic:
    """Good and total events of one SLO in one minute."""

    good: int
    total: int


def minute_traffic(slo: str, objective: float, minute: datetime, anchor: datetime) -> MinuteTraffic:
    """Events for ``slo`` in the minute starting at ``minute`` (UTC)."""
    hour = minute.hour + minute.minute / 60
    daily = 0.55 + 0.45 * math.sin((hour - 9) / 24 * 2 * math.pi)
    base = 200 + int(1800 * _unit(slo, "volume"))
    noise = 0.85 + 0.3 * _unit(slo, minute.isoformat(), "n")
    total = max(int(base * daily * noise), 1)
    budget = 1 - objective
    ratio = budget * (0.05 + 0.35 * _unit(slo, "quality"))
    if _unit(slo, minute.isoformat(), "blip") < 0.0005:
        ratio += budget * 20  # a short blip now and then
    rel = int((minute - anchor).total_seconds() // 60)
    for sc in SCENARIOS:
        if sc.slo == slo and sc.start_min <= rel < sc.end_min:
            ratio += sc.error_ratio
    ratio = min(ratio, 1.0)
    bad = int(total * ratio)
    if _unit(slo, minute.isoformat(), "frac") < total * ratio - bad:
        bad += 1
    return MinuteTraffic(good=total - bad, total=total)


def minutes(start: datetime, end: datetime) -> list[datetime]:
    """Minute starts in [start, end)."""
    out = []
    t = start.replace(second=0, microsecond=0)
    while t < end:
        out.append(t)
        t += timedelta(minutes=1)
    return out
