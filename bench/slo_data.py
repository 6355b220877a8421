"""Synthetic organisation and traffic for the SLO benchmark.

Everything here is deterministic: the catalog (teams, services, SLOs with mixed objectives,
windows and budgeting methods) is a pure function of the sizes, and the per-minute good/total
counts of an SLO for any day are a pure function of (SLO index, minute), so the bulk loader, the
ingest cross-check and the Prometheus backfill all see exactly the same events.

``bucket_rows`` turns per-minute counts into the ``slo_buckets`` rows that ninefold's ingest
(:func:`ninefold.slo.flows.ingest_batch`) stores: one row per minute with events at resolution
60 s, the sums at 600/3600/86400 s, and for Timeslices SLOs the good/with-data flags of each slice
in the minute bucket at the slice start (summed upwards). The benchmark checks that equality on a
sample by ingesting the same events through the real flow.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import repeat
from typing import Any

#: The evaluation time of the whole benchmark (minute aligned, not hour aligned, so that every
#: window decomposes into day, hour, 10-minute and minute buckets).
AT = datetime(2026, 11, 20, 14, 35, tzinfo=UTC)
DAY = 86400
COARSE = (600, 3600, 86400)

Row = tuple[int, int, int, float, float, int, int]


@dataclass(frozen=True)
class Incident:
    """Errors at ``burn`` × the error budget rate during minutes [start, end) of the data."""

    start: int
    end: int
    burn: float


@dataclass(frozen=True)
class SloDef:
    """One benchmark SLO: its ninefold spec and how its synthetic traffic behaves."""

    index: int
    name: str
    service: int
    team: int
    objective: float
    window: dict[str, str]
    budgeting: str
    slice_minutes: int
    slice_target: float
    no_data_after: str
    base: float
    burn: float
    incidents: tuple[Incident, ...]
    stops_at: int | None
    kind: str

    def spec(self, *, prometheus: bool = False) -> dict[str, Any]:
        """The SLO spec as it would appear in a catalog YAML file."""
        svc = service_name(self.service)
        sli: dict[str, Any] = {"ratio": {}}
        if prometheus:
            sli = {
                "ratio": {
                    "bad": f'bench_errors_total{{service="{svc}"}}',
                    "total": f'bench_requests_total{{service="{svc}"}}',
                }
            }
        spec: dict[str, Any] = {
            "name": self.name,
            "service": svc,
            "objective": self.objective,
            "window": self.window,
            "budgeting": self.budgeting,
            "source": "prometheus" if prometheus else "push",
            "sli": sli,
            "alerting": {"no_data_after": self.no_data_after},
            "labels": {"kind": self.kind},
        }
        if self.budgeting == "timeslices":
            spec["timeslice"] = {"length": f"{self.slice_minutes}m", "target": self.slice_target}
        return spec


def service_name(index: int) -> str:
    """Name of service ``index``."""
    return f"svc-{index:03d}"


def team_name(index: int) -> str:
    """Name of team ``index``."""
    return f"team-{index:02d}"


_OBJECTIVES = (0.99, 0.995, 0.999, 0.9995, 0.9999, 0.999, 0.995)
_KINDS = ("availability", "latency", "checkout", "search", "ingest", "login", "api", "export")


def catalog(n_slos: int, n_services: int, n_teams: int, days: int) -> list[SloDef]:
    """``n_slos`` SLOs spread round-robin over services; SLO i < n_services is service i's first.

    The mix repeats every 20 SLOs (and the first ``n_services`` SLOs follow it exactly): 14 rolling
    30d, 2 rolling 28d, 1 rolling 7d, 1 calendar month (UTC or America/New_York), 1 Timeslices 1m
    over 30d and 1 Timeslices 5m over 28d. Incidents: a fast burn now (page) in 1 of 25, a slow
    burn for 30 hours (ticket) in 1 of 25, a past 6-hour outage in 1 of 25, budget overspent in
    1 of 50; 1 in 97 stopped sending data two hours ago; 1 in 40 has low traffic (empty minutes).
    """
    minutes = days * DAY // 60
    out = []
    for i in range(n_slos):
        svc = i % n_services
        mix = (i + 3 * (i // n_services)) % 20
        rng = random.Random(f"slo-def-{i}")
        window: dict[str, str] = {"rolling": "30d"}
        budgeting, slice_minutes, slice_target = "occurrences", 0, 0.0
        if mix in (14, 15):
            window = {"rolling": "28d"}
        elif mix == 16:
            window = {"rolling": "7d"}
        elif mix == 17:
            window = {"calendar": "month", "timezone": ("UTC", "America/New_York")[i % 2]}
        elif mix == 18:
            budgeting, slice_minutes, slice_target = "timeslices", 1, 0.95
        elif mix == 19:
            window = {"rolling": "28d"}
            budgeting, slice_minutes, slice_target = "timeslices", 5, 0.99
        objective = _OBJECTIVES[(i // 3) % len(_OBJECTIVES)]
        if budgeting == "timeslices":
            objective = (0.99, 0.995, 0.999)[i % 3]
        low = i % 40 == 7
        base = rng.uniform(0.4, 1.5) if low else math.exp(rng.uniform(math.log(20), math.log(3000)))
        incidents: list[Incident] = []
        if i % 25 == 3:  # fast burn right now: page
            incidents.append(Incident(minutes - 50, minutes, 25.0))
        elif i % 25 == 11:  # slow burn for the last 30 hours: ticket
            incidents.append(Incident(minutes - 30 * 60, minutes, 4.0))
        elif i % 25 == 17:  # a 6-hour outage ten days ago
            start = minutes - 10 * 1440
            incidents.append(Incident(start, start + 360, 60.0))
        burn = rng.uniform(0.05, 0.8)
        if i % 50 == 23:
            burn = 1.4
        out.append(
            SloDef(
                index=i,
                name=f"{service_name(svc)}-{_KINDS[(i // n_services) % len(_KINDS)]}-{i // n_services}",
                service=svc,
                team=svc % n_teams,
                objective=objective,
                window=window,
                budgeting=budgeting,
                slice_minutes=slice_minutes,
                slice_target=slice_target,
                no_data_after=("15m", "15m", "30m", "15m", "1h")[i % 5],
                base=base,
                burn=burn,
                incidents=tuple(incidents),
                stops_at=minutes - 120 if i % 97 == 5 else None,
                kind=window.get("rolling", window.get("calendar", "")) + "/" + budgeting,
            )
        )
    return out


def data_start(days: int, at: datetime = AT) -> int:
    """Epoch seconds of the first minute of data (``days`` before ``at``)."""
    start = int((at - timedelta(days=days)).timestamp())
    assert start % 300 == 0, "data must start on a 5-minute boundary (timeslice alignment)"
    return start


def day_chunks(start: int, minutes: int) -> list[tuple[int, int]]:
    """Minute index ranges [j0, j1) of the data split at UTC day boundaries."""
    out = []
    j = 0
    while j < minutes:
        epoch = start + 60 * j
        nxt = (epoch // DAY + 1) * DAY
        j1 = min(minutes, j + (nxt - epoch) // 60)
        out.append((j, j1))
        j = j1
    return out


_DAY_PROFILE = [
    0.55 + 0.45 * math.sin(2 * math.pi * (m - 6 * 60) / 1440) ** 2 + 0.25 * (9 * 60 <= m < 18 * 60)
    for m in range(1440)
]


#: Shared tables of noise factors and dither values; each SLO and day reads them at its own
#: random offsets (much cheaper than three ``random()`` calls per minute, still deterministic).
_TABLE = 100_003
_TABLE_RNG = random.Random(11)
_NOISE = [0.8 + 0.4 * _TABLE_RNG.random() for _ in range(_TABLE)]
_DITHER = [_TABLE_RNG.random() for _ in range(_TABLE)]


def minute_counts(d: SloDef, start: int, j0: int, j1: int) -> tuple[list[int], list[int]]:
    """(good, total) per minute for minutes [j0, j1) of SLO ``d`` (a slice of one UTC day)."""
    n = j1 - j0
    epoch0 = start + 60 * j0
    rng = random.Random(f"traffic-{d.index}-{epoch0}")
    o1, o2, o3 = (rng.randrange(_TABLE - n) for _ in range(3))
    mod0 = epoch0 % DAY // 60
    weekday = datetime.fromtimestamp(epoch0, UTC).weekday()
    scale = d.base * (0.7 if weekday >= 5 else 1.0)
    total = [
        int(scale * p * f + u)
        for p, f, u in zip(
            _DAY_PROFILE[mod0 : mod0 + n], _NOISE[o1 : o1 + n], _DITHER[o2 : o2 + n], strict=True
        )
    ]
    err = (1.0 - d.objective) * d.burn
    bad = [int(t * err + u) for t, u in zip(total, _DITHER[o3 : o3 + n], strict=True)]
    r = rng.random
    for inc in d.incidents:
        lo, hi = max(inc.start, j0), min(inc.end, j1)
        if lo < hi:
            e = min((1.0 - d.objective) * inc.burn, 1.0)
            for k in range(lo - j0, hi - j0):
                bad[k] = min(total[k], int(total[k] * e + r()))
    if d.stops_at is not None and d.stops_at < j1:
        for k in range(max(d.stops_at, j0) - j0, n):
            total[k] = bad[k] = 0
    good = [t - b for t, b in zip(total, bad, strict=True)]
    return good, total


def slice_flags(d: SloDef, good: list[int], total: list[int]) -> tuple[list[int], list[int]] | None:
    """Per-minute (slice_good, slice_total) flags: set at each slice's first minute."""
    if d.budgeting != "timeslices":
        return None
    n = len(total)
    sg = [0] * n
    st = [0] * n
    step = d.slice_minutes
    target = d.slice_target
    for k in range(0, n, step):
        t = sum(total[k : k + step])
        if t > 0:
            st[k] = 1
            sg[k] = 1 if sum(good[k : k + step]) / t >= target else 0
    return sg, st


@dataclass
class SloChunk:
    """One SLO's minute rows (None for minutes without a row) and coarse rows for one day."""

    minute_rows: list[Row | None]
    coarse: dict[int, list[Row]]
    complete: bool


def slo_chunk(d: SloDef, slo_id: int, start: int, j0: int, j1: int) -> SloChunk:
    """Bucket rows of SLO ``d`` (database id ``slo_id``) for minutes [j0, j1) of one day."""
    good, total = minute_counts(d, start, j0, j1)
    flags = slice_flags(d, good, total)
    epoch0 = start + 60 * j0
    starts = range(epoch0, epoch0 + 60 * (j1 - j0), 60)
    if flags is None:
        sg: Any = repeat(0)
        st: Any = repeat(0)
    else:
        sg, st = flags
    rows: list[Row | None] = list(zip(repeat(60), starts, repeat(slo_id), good, total, sg, st))
    complete = all(total)
    if not complete:
        # minutes without events have no row (None keeps the list aligned to the minutes)
        rows = [row if row[4] or row[6] else None for row in rows]  # type: ignore[index]
    # coarse sums: 10-minute buckets from minutes, hours from 10-minute buckets, days from hours
    columns = [good, total, *(flags or ())]
    sums = _minute_sums(epoch0, columns, COARSE[0])
    coarse: dict[int, list[Row]] = {}
    for res in COARSE:
        if res != COARSE[0]:
            sums = _regroup(sums, res)
        coarse[res] = [
            (res, b, slo_id, c[0], c[1], c[2] if flags else 0, c[3] if flags else 0)
            for b, c in sums
            if c[1] > 0 or (flags and c[3] > 0)
        ]
    return SloChunk(rows, coarse, complete)


def _minute_sums(epoch0: int, columns: list[list[int]], res: int) -> list[tuple[int, list[int]]]:
    """Per-minute columns starting at ``epoch0`` summed into buckets of ``res`` seconds."""
    n = len(columns[0])
    out = []
    k = 0
    while k < n:
        epoch = epoch0 + 60 * k
        b = epoch // res * res
        k1 = min(n, k + (b + res - epoch) // 60)
        out.append((b, [sum(col[k:k1]) for col in columns]))
        k = k1
    return out


def _regroup(sums: list[tuple[int, list[int]]], res: int) -> list[tuple[int, list[int]]]:
    """Bucket sums (in time order) summed into coarser buckets of ``res`` seconds."""
    out: list[tuple[int, list[int]]] = []
    for first, values in sums:
        b = first // res * res
        if out and out[-1][0] == b:
            acc = out[-1][1]
            for i, v in enumerate(values):
                acc[i] += v
        else:
            out.append((b, list(values)))
    return out


def bucket_rows(d: SloDef, slo_id: int, start: int, minutes: int) -> Iterator[Row]:
    """All bucket rows of one SLO over the data range (any order)."""
    for j0, j1 in day_chunks(start, minutes):
        chunk = slo_chunk(d, slo_id, start, j0, j1)
        yield from (row for row in chunk.minute_rows if row is not None)
        for rows in chunk.coarse.values():
            yield from rows


def events_of(d: SloDef, start: int, minutes: int) -> Iterator[tuple[int, int, int]]:
    """The raw events behind SLO ``d``: (epoch seconds, good, total), two per busy minute.

    Splitting a minute into two events at :05 and :40 exercises ingest's per-minute summing.
    """
    for j0, j1 in day_chunks(start, minutes):
        good, total = minute_counts(d, start, j0, j1)
        epoch0 = start + 60 * j0
        for k, (g, t) in enumerate(zip(good, total, strict=True)):
            if t <= 0:
                continue
            minute = epoch0 + 60 * k
            t1 = t // 2
            g1 = min(g, t1)
            if t1 > 0:
                yield minute + 5, g1, t1
            yield minute + 40, g - g1, t - t1
