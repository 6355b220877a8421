"""SLO tables: definitions, pushed event buckets at several resolutions, batches, alert state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ninefold.catalog.models import Service
from ninefold.db.base import Base


class SLO(Base):
    """A service level objective. ``spec`` keeps the full validated YAML spec as JSON."""

    __tablename__ = "slos"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), index=True
    )
    display_name: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(4000))
    objective: Mapped[float] = mapped_column(Float)
    sli_kind: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(20), default="push")
    budgeting: Mapped[str] = mapped_column(String(20), default="occurrences")
    spec: Mapped[dict[str, Any]] = mapped_column()
    managed: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    service: Mapped[Service] = relationship()


class SloBucket(Base):
    """Summed pushed events of one SLO in one bucket.

    ``res`` is the bucket length in seconds (60, 600, 3600, 86400); every pushed event is added to
    the bucket of each resolution so that any window is the sum of a few dozen rows whatever its
    length. ``slice_good``/``slice_total`` count timeslices (by their start) for Timeslices SLOs.
    """

    __tablename__ = "slo_buckets"
    __table_args__ = (
        Index("ix_slo_buckets_slo", "slo_id", "res", "start"),
        {"sqlite_with_rowid": False},
    )

    res: Mapped[int] = mapped_column(Integer, primary_key=True)
    start: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    slo_id: Mapped[int] = mapped_column(ForeignKey("slos.id", ondelete="CASCADE"), primary_key=True)
    good: Mapped[float] = mapped_column(Float, default=0.0)
    total: Mapped[float] = mapped_column(Float, default=0.0)
    slice_good: Mapped[int] = mapped_column(Integer, default=0)
    slice_total: Mapped[int] = mapped_column(Integer, default=0)


class SloEventBatch(Base):
    """A pushed batch, remembered so that re-sending the same batch id changes nothing."""

    __tablename__ = "slo_event_batches"

    slo_id: Mapped[int] = mapped_column(ForeignKey("slos.id", ondelete="CASCADE"), primary_key=True)
    batch_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))
    events: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime]


class SloAlertState(Base):
    """Current state of one burn-rate alert (severity ``page``, ``ticket`` or ``no_data``)."""

    __tablename__ = "slo_alert_states"

    slo_id: Mapped[int] = mapped_column(ForeignKey("slos.id", ondelete="CASCADE"), primary_key=True)
    severity: Mapped[str] = mapped_column(String(20), primary_key=True)
    state: Mapped[str] = mapped_column(String(20))
    since: Mapped[datetime]
    evaluated_at: Mapped[datetime]


class SloAlertEvent(Base):
    """A recorded transition of a burn-rate alert (firing or resolved) with its reasons."""

    __tablename__ = "slo_alert_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    slo_id: Mapped[int] = mapped_column(ForeignKey("slos.id", ondelete="CASCADE"), index=True)
    severity: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(index=True)
    burn_rates: Mapped[dict[str, Any]] = mapped_column()
    reason: Mapped[str] = mapped_column(String(1000))


class SloSnapshot(Base):
    """The latest evaluation of every SLO, as the engine computed it (one row, id 1).

    Pages that show every SLO at once (the console's overview) read it instead of evaluating
    thousands of SLOs in each web process; ``statuses`` is a JSON array of ``SLOStatus``,
    ``versions`` a JSON object of each evaluated SLO's ``updated_at`` by name (what changed since).
    """

    __tablename__ = "slo_snapshots"

    id: Mapped[int] = mapped_column(primary_key=True)
    evaluated_at: Mapped[datetime]
    statuses: Mapped[str] = mapped_column(Text)
    versions: Mapped[str] = mapped_column(Text)
