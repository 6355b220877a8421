"""SLO use cases: ingest pushed events, evaluate SLOs, record alert transitions, release gates."""

from __future__ import annotations

import copy
import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from ninefold.alert.fingerprint import fingerprint_hex
from ninefold.alert.normalize import Incoming
from ninefold.catalog.spec import SLOSpec
from ninefold.core.clock import to_epoch
from ninefold.core.durations import parse_duration
from ninefold.errors import Conflict, InvalidInput, NinefoldError, NotFound
from ninefold.identity import guard
from ninefold.slo import store
from ninefold.slo.budget import Evaluation, evaluate
from ninefold.slo.models import SLO, SloAlertEvent
from ninefold.slo.schemas import (
    AlertRead,
    BatchResult,
    Burndown,
    BurndownPoint,
    EventBatch,
    GateResult,
    GateSLO,
    SLOStatus,
)
from ninefold.slo.sources import Counts, RangeQuery, Source
from ninefold.slo.windows import BURN_WINDOWS, floor_minute, nominal_period_seconds, slo_window

if TYPE_CHECKING:
    from ninefold.alert.dispatch import Routing


@dataclass(frozen=True)
class IngestLimits:
    """How far from now pushed events may lie."""

    max_age: timedelta
    max_future: timedelta


# Validated specs by SLO id, with the stored JSON they came from: evaluating every SLO (the
# engine's pass, the console's overview) validated 3,000 specs each time, most of its CPU time.
# A hit needs the stored JSON to be equal (a dict comparison), so an edited spec is re-read.
_SPECS: dict[int, tuple[dict[str, Any], SLOSpec]] = {}
_SPECS_MAX = 50_000


def spec_of(slo: SLO) -> SLOSpec:
    """The validated spec stored with an SLO row (specs are immutable, so they are shared)."""
    hit = _SPECS.get(slo.id)
    if hit is not None and hit[0] == slo.spec:
        return hit[1]
    spec = SLOSpec.model_validate(slo.spec)
    if len(_SPECS) >= _SPECS_MAX:
        _SPECS.clear()
    _SPECS[slo.id] = (copy.deepcopy(slo.spec), spec)
    return spec


def ingest_batch(
    session: Session, *, slo: SLO, batch: EventBatch, now: datetime, limits: IngestLimits
) -> BatchResult:
    """Store a batch of pushed events once; re-sending the same batch id changes nothing."""
    guard.check_service(session, kind="SLO", name=slo.name, service_id=slo.service_id)
    spec = spec_of(slo)
    if spec.source != "push":
        raise InvalidInput(
            f"SLO {slo.name!r} reads from {spec.source}; it does not accept pushed events"
        )
    oldest, newest = now - limits.max_age, now + limits.max_future
    for i, ev in enumerate(batch.events):
        if ev.timestamp < oldest:
            raise InvalidInput(
                f"events[{i}].timestamp {ev.timestamp.isoformat()} is older than the accepted "
                f"{limits.max_age.days} days"
            )
        if ev.timestamp > newest:
            raise InvalidInput(
                f"events[{i}].timestamp {ev.timestamp.isoformat()} is in the future "
                f"(more than {int(limits.max_future.total_seconds())}s ahead of the server clock)"
            )
    digest = _digest(batch)
    store.lock_slo(session, slo_id=slo.id)
    seen = store.find_batch(session, slo_id=slo.id, batch_id=batch.batch_id)
    if seen is not None:
        if seen.digest != digest:
            raise Conflict(f"batch_id {batch.batch_id!r} was already used with different events")
        return BatchResult(batch_id=batch.batch_id, accepted=0, duplicate=True, minutes=0)
    per_minute: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for ev in batch.events:
        acc = per_minute[to_epoch(ev.timestamp) // 60 * 60]
        acc[0] += ev.good_count
        acc[1] += ev.total
    store.add_batch(
        session,
        slo_id=slo.id,
        batch_id=batch.batch_id,
        digest=digest,
        events=len(batch.events),
        now=now,
    )
    minutes = store.add_events(
        session,
        slo_id=slo.id,
        minutes=[store.MinuteEvents(m, g, t) for m, (g, t) in sorted(per_minute.items())],
    )
    if spec.budgeting == "timeslices" and spec.timeslice is not None:
        length = parse_duration(spec.timeslice.length)
        store.update_timeslices(
            session,
            slo_id=slo.id,
            slice_starts={m // length * length for m in per_minute},
            length=length,
            target=spec.timeslice.target,
        )
    return BatchResult(
        batch_id=batch.batch_id, accepted=len(batch.events), duplicate=False, minutes=minutes
    )


def _digest(batch: EventBatch) -> str:
    payload = [[ev.timestamp.isoformat(), ev.good_count, ev.total] for ev in batch.events]
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


@dataclass
class _Plan:
    slo: SLO
    spec: SLOSpec
    ranges: dict[str, tuple[datetime, datetime]]
    period_seconds: int


def _plan(slo: SLO, at: datetime) -> _Plan:
    spec = spec_of(slo)
    bounds = slo_window(spec, at)
    end = bounds.end
    ranges = {"window": (bounds.start, end)}
    for label, seconds in BURN_WINDOWS:
        ranges[label] = (end - timedelta(seconds=seconds), end)
    recent = -(-parse_duration(spec.alerting.no_data_after) // 60) * 60
    ranges["recent"] = (end - timedelta(seconds=recent), end)
    return _Plan(slo, spec, ranges, bounds.period_seconds)


def _push_counts(session: Session, plans: Sequence[_Plan]) -> dict[tuple[int, str], Counts | None]:
    by_range: dict[tuple[datetime, datetime], list[tuple[int, str]]] = defaultdict(list)
    for plan in plans:
        for key, rng in plan.ranges.items():
            by_range[rng].append((plan.slo.id, key))
    out: dict[tuple[int, str], Counts | None] = {}
    for (start, end), users in by_range.items():
        ids = sorted({slo_id for slo_id, _ in users})
        found = store.window_counts(session, start=to_epoch(start), end=to_epoch(end), slo_ids=ids)
        for slo_id, key in users:
            out[(slo_id, key)] = found.get(slo_id)
    return out


def _source_counts(source: Source, plans: Sequence[_Plan]) -> dict[tuple[int, str], Counts | None]:
    keys: list[tuple[int, str]] = []
    queries: list[RangeQuery] = []
    for plan in plans:
        for key, (start, end) in plan.ranges.items():
            keys.append((plan.slo.id, key))
            queries.append(RangeQuery(plan.spec, start, end))
    return dict(zip(keys, source.counts(queries), strict=True))


def evaluate_slos(
    session: Session, *, slos: Sequence[SLO], at: datetime, prometheus: Source | None
) -> list[SLOStatus]:
    """Evaluate SLOs at ``at`` from pushed buckets or Prometheus; never writes."""
    plans = [_plan(slo, at) for slo in slos]
    push = [p for p in plans if p.spec.source == "push"]
    prom = [p for p in plans if p.spec.source == "prometheus"]
    counts = _push_counts(session, push) if push else {}
    errors: dict[int, str] = {}
    if prom:
        if prometheus is None:
            for p in prom:
                errors[p.slo.id] = "no Prometheus configured (set NINEFOLD_PROMETHEUS_URL)"
        else:
            try:
                counts.update(_source_counts(prometheus, prom))
            except InvalidInput:
                # One SLO's query was rejected: ask again per SLO so that only it is affected.
                for p in prom:
                    try:
                        counts.update(_source_counts(prometheus, [p]))
                    except NinefoldError as exc:
                        errors[p.slo.id] = exc.message
            except NinefoldError as exc:
                for p in prom:
                    errors[p.slo.id] = exc.message
    out = []
    for plan in plans:
        get = counts.get
        sid = plan.slo.id
        result = evaluate(
            objective=plan.spec.objective,
            budgeting=plan.spec.budgeting,
            window=get((sid, "window")),
            burn_windows={label: get((sid, label)) for label, _ in BURN_WINDOWS},
            recent=get((sid, "recent")),
            period_seconds=plan.period_seconds,
            nominal_period_seconds=nominal_period_seconds(plan.spec),
            page=plan.spec.alerting.page,
            ticket=plan.spec.alerting.ticket,
        )
        out.append(_status(plan, at, result, errors.get(sid)))
    return out


def _status(plan: _Plan, at: datetime, ev: Evaluation, error: str | None) -> SLOStatus:
    service = plan.slo.service
    start, end = plan.ranges["window"]
    return SLOStatus(
        name=plan.slo.name,
        service=service.name,
        team=service.owner.name,
        tier=service.tier,
        at=at,
        window_start=start,
        window_end=end,
        objective=ev.objective,
        sli=ev.sli,
        objective_met=ev.objective_met,
        unit=ev.unit,
        good=ev.good,
        total=ev.total,
        error_budget_total=ev.budget_total,
        error_budget_consumed=ev.budget_consumed,
        error_budget_remaining=ev.budget_remaining,
        error_budget_consumed_fraction=ev.consumed_fraction,
        error_budget_remaining_fraction=ev.remaining_fraction,
        burn_rates=ev.burn_rates,
        time_to_exhaustion_seconds=ev.time_to_exhaustion_seconds,
        status="no_data" if error else ev.status,
        alerts=[
            AlertRead(severity=a.severity, firing=a.firing, reason=a.reason) for a in ev.alerts
        ],
        error=error,
    )


def record_alert_transitions(
    session: Session, *, statuses: Sequence[SLOStatus], slos: Sequence[SLO], at: datetime
) -> list[SloAlertEvent]:
    """Compare alert decisions with stored state and record firing/resolved transitions."""
    ids = {s.name: s.id for s in slos}
    current = store.alert_states(session, slo_ids=list(ids.values()))
    events = []
    for status in statuses:
        slo_id = ids[status.name]
        for alert in status.alerts:
            firing = alert.firing or (alert.severity == "no_data" and status.error is not None)
            row = current.get((slo_id, alert.severity))
            was_firing = row is not None and row.state == "firing"
            if firing == was_firing:
                continue
            reason = alert.reason or status.error or ""
            if alert.severity == "no_data" and status.error is not None:
                reason = status.error  # the source failed: say so, not just "no data"
            if not firing:
                reason = (
                    "burn rates back under the thresholds"
                    if alert.severity != "no_data"
                    else "data is back"
                )
            events.append(
                store.record_transition(
                    session,
                    slo_id=slo_id,
                    severity=alert.severity,
                    state="firing" if firing else "resolved",
                    at=at,
                    burn_rates=status.burn_rates,
                    reason=reason,
                    current=row,
                )
            )
    return events


def burndown(
    session: Session, *, slo: SLO, at: datetime, points: int, prometheus: Source | None
) -> Burndown:
    """Remaining budget fraction over the SLO window, ``points`` evenly spaced evaluations."""
    spec = spec_of(slo)
    bounds = slo_window(spec, at)
    step = max((bounds.end - bounds.start) / points, timedelta(minutes=1))
    out = []
    for i in range(1, points + 1):
        t = floor_minute(bounds.start + step * i)
        t = min(t, bounds.end)
        rng = slo_window(spec, t)
        if spec.source == "push":
            counts = store.window_counts(
                session, start=to_epoch(rng.start), end=to_epoch(rng.end), slo_ids=[slo.id]
            ).get(slo.id)
        elif prometheus is not None:
            counts = prometheus.counts([RangeQuery(spec, rng.start, rng.end)])[0]
        else:
            counts = None
        ev = evaluate(
            objective=spec.objective,
            budgeting=spec.budgeting,
            window=counts,
            burn_windows={},
            recent=counts,
            period_seconds=rng.period_seconds,
            nominal_period_seconds=nominal_period_seconds(spec),
            page=False,
            ticket=False,
        )
        out.append(BurndownPoint(at=t, sli=ev.sli, remaining_fraction=ev.remaining_fraction))
    return Burndown(name=slo.name, objective=spec.objective, points=out)


def gate(
    session: Session,
    *,
    service_name: str,
    at: datetime,
    prometheus: Source | None,
    default_min_budget: float,
) -> GateResult:
    """Release gate: allowed while every SLO of the service keeps budget above the policy floor."""
    slos, _ = store.list_slos(session, service=service_name)
    if not slos:
        if not store.service_exists(session, name=service_name):
            raise NotFound(f"service {service_name!r} not found")
        return GateResult(
            service=service_name,
            at=at,
            allowed=True,
            min_budget_remaining=default_min_budget,
            reason=f"{service_name} has no SLOs; nothing blocks the release",
            slos=[],
        )
    service = slos[0].service
    floor = service.gate_min_budget if service.gate_min_budget is not None else default_min_budget
    block_no_data = service.gate_block_on_no_data
    results = []
    for st in evaluate_slos(session, slos=slos, at=at, prometheus=prometheus):
        rem = st.error_budget_remaining_fraction
        if rem is None:
            passed = not block_no_data
            why = (
                f"{st.name}: no data"
                + ((st.error and f" ({st.error})") or "")
                + (
                    "; the policy blocks releases without data"
                    if block_no_data
                    else "; not blocking"
                )
            )
        elif rem > floor:
            passed = True
            why = f"{st.name}: {rem:.1%} of the error budget left (floor {floor:.0%})"
        else:
            passed = False
            why = (
                f"{st.name}: error budget {'exhausted' if rem <= 0 else 'low'}, {rem:.1%} left, "
                f"the policy needs more than {floor:.0%}"
            )
        results.append(
            GateSLO(
                name=st.name, status=st.status, remaining_fraction=rem, passed=passed, reason=why
            )
        )
    blocked = [r for r in results if not r.passed]
    if blocked:
        reason = f"release of {service_name} blocked: " + "; ".join(r.reason for r in blocked)
    else:
        reason = f"release of {service_name} allowed: every SLO has error budget above {floor:.0%}"
    return GateResult(
        service=service_name,
        at=at,
        allowed=not blocked,
        min_budget_remaining=floor,
        reason=reason,
        slos=results,
    )


#: Alert-pipeline severity and alert name of each SLO alert kind.
_PIPELINE = {
    "page": ("critical", "SLOBurnRate", "error budget burning fast"),
    "ticket": ("warning", "SLOBurnRate", "error budget burning"),
    "no_data": ("warning", "SLONoData", "no data"),
}


def burn_alert_items(
    events: Sequence[SloAlertEvent], *, slos: Sequence[SLO], public_url: str
) -> list[Incoming]:
    """The alert-pipeline trigger or resolve for each recorded SLO alert transition (pure).

    One pipeline alert per SLO and alert kind: dedup key ``slo:<name>:<page|ticket|no_data>``,
    labels ``alertname`` (SLOBurnRate or SLONoData), ``slo``, ``service``, ``team``, ``tier``,
    ``severity`` (critical for page, warning otherwise) and ``slo_severity``.
    """
    by_id = {s.id: s for s in slos}
    out: list[Incoming] = []
    for ev in events:
        slo = by_id.get(ev.slo_id)
        if slo is None:
            continue
        severity, alertname, what = _PIPELINE.get(ev.severity, ("warning", "SLOAlert", ev.severity))
        service = slo.service
        labels = {
            "alertname": alertname,
            "slo": slo.name,
            "service": service.name,
            "team": service.owner.name,
            "tier": str(service.tier),
            "severity": severity,
            "slo_severity": ev.severity,
        }
        rates = {k: v for k, v in (ev.burn_rates or {}).items() if v is not None}
        annotations = {
            "summary": f"SLO {slo.name} ({service.name}): {what} ({ev.severity})",
            "description": ev.reason or what,
            "objective": f"{slo.objective:.6g}",
        }
        if rates:
            annotations["burn_rates"] = ", ".join(
                f"{w} {r:.3g}x" for w, r in sorted(rates.items(), key=lambda i: _window_order(i[0]))
            )
        for name, url in (
            ("runbook_url", service.runbook_url),
            ("dashboard_url", service.dashboard_url),
        ):
            if url:
                annotations[name] = url
        firing = ev.state == "firing"
        details: dict[str, Any] = {
            "slo": slo.name,
            "slo_id": slo.id,
            "slo_alert_event_id": ev.id,
            "burn_rates": dict(ev.burn_rates or {}),
            ("reason" if firing else "resolved_reason"): ev.reason,
        }
        out.append(
            Incoming(
                action="trigger" if firing else "resolve",
                dedup_key=f"slo:{slo.name}:{ev.severity}",
                fingerprint=fingerprint_hex(labels),
                source="slo",
                severity=severity,
                summary=annotations["summary"],
                labels=labels,
                annotations=annotations,
                details=details,
                generator_url=f"{public_url.rstrip('/')}/api/v1/slos/{slo.name}/status",
                starts_at=ev.at,
                ends_at=None if firing else ev.at,
                service_id=service.id,
            )
        )
    return out


def _window_order(label: str) -> int:
    for i, (name, _seconds) in enumerate(BURN_WINDOWS):
        if name == label:
            return i
    return len(BURN_WINDOWS)


def raise_burn_alerts(
    session: Session,
    *,
    events: Sequence[SloAlertEvent],
    slos: Sequence[SLO],
    routing: Routing | None,
    now: datetime,
    public_url: str,
) -> int:
    """Trigger or resolve pipeline alerts for SLO alert transitions, in the caller's transaction.

    Goes through ``alert.dispatch.intake`` like every other source, so routing, silences and the
    outbox apply. Returns how many notifications were queued (the caller wakes delivery).
    """
    items = burn_alert_items(events, slos=slos, public_url=public_url)
    if not items:
        return 0
    from ninefold.alert.dispatch import intake

    _, queued = intake(
        session, items=items, integration=None, routing=routing, now=now, public_url=public_url
    )
    return queued
