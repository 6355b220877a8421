"""What an SLI data source returns: summed events (and timeslices) over a time range."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ninefold.catalog.spec import SLOSpec


@dataclass(frozen=True)
class Counts:
    """Events in a range: ``good`` of ``total``; for Timeslices SLOs also good/total slices."""

    good: float
    total: float
    good_slices: int = 0
    total_slices: int = 0

    @property
    def bad(self) -> float:
        """Bad events."""
        return max(self.total - self.good, 0.0)


EMPTY = Counts(0.0, 0.0, 0, 0)


@dataclass(frozen=True)
class RangeQuery:
    """One SLO and one half-open time range [start, end) to sum."""

    slo: SLOSpec
    start: datetime
    end: datetime


class Source(Protocol):
    """A source of SLI counts (pushed buckets in the database, or a Prometheus server)."""

    def counts(self, queries: Sequence[RangeQuery]) -> list[Counts | None]:
        """Counts for each query, in order; None when the source has no series at all."""
        ...
