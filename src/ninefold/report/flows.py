"""Assemble the reliability scorecard: read rows through ``report.store`` (and the SLO store's
window sums), turn them into numbers with the pure formula modules."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from ninefold.core.clock import to_epoch
from ninefold.errors import NotFound
from ninefold.oncall.flows import schedule_of
from ninefold.oncall.rotation import shifts as rotation_shifts
from ninefold.report import dora, store
from ninefold.report import incident_metrics as im
from ninefold.report import oncall_metrics as om
from ninefold.report import slo_metrics as sm
from ninefold.report.period import Period, buckets
from ninefold.report.schemas import (
    AttainmentRead,
    DoraSection,
    Filters,
    IncidentSection,
    Noisy,
    OncallSection,
    PeriodRead,
    RateRead,
    Scorecard,
    Series,
    ShiftPages,
    SloLine,
    SloSection,
    SummaryRead,
)
from ninefold.report.stats import Summary, ratio
from ninefold.slo import store as slo_store
from ninefold.slo.sources import Counts

Progress = Callable[[str], None]
STEPS = ("catalog", "slo", "incidents", "oncall", "dora")


@dataclass(frozen=True)
class Options:
    """Tunable definitions (see docs/metrics.md)."""

    change_failure_window: timedelta = timedelta(hours=24)
    rework_window: timedelta = timedelta(hours=4)
    flapping_threshold: int = 5
    postmortem_days: int = 5
    working_hours: om.WorkingHours = field(default_factory=om.WorkingHours)
    top: int = 10


def _summary(s: Summary) -> SummaryRead:
    return SummaryRead(count=s.count, mean=s.mean, median=s.median, p90=s.p90, max=s.max)


def _hours(v: float | None) -> float | None:
    return None if v is None else v / 3600.0


def scorecard(
    session: Session,
    *,
    period: Period,
    now: datetime,
    team: str | None = None,
    service: str | None = None,
    tier: int | None = None,
    options: Options | None = None,
    progress: Progress | None = None,
) -> Scorecard:
    """The scorecard of the selection (team, service, tier) over ``period``."""
    opts = options or Options()
    step = progress or (lambda _name: None)
    notes: list[str] = []
    if team and not store.team_exists(session, name=team):
        raise NotFound(f"team {team!r} not found")
    all_services = store.services(session)
    selected = [
        s
        for s in all_services
        if (not team or s.team == team)
        and (not service or s.name == service)
        and (tier is None or s.tier == tier)
    ]
    if service and not any(s.name == service for s in all_services):
        raise NotFound(f"service {service!r} not found")
    filtered = bool(team or service or tier is not None)
    by_id = {s.id: s for s in all_services}
    wanted = {s.id for s in selected} if filtered else None
    bks = buckets(period)
    step("catalog")

    slo = _slo_section(session, period, bks, by_id, wanted, notes)
    step("slo")
    incidents, change_incidents = _incident_section(
        session, period, bks, by_id, wanted, opts, notes
    )
    step("incidents")
    oncall = _oncall_section(session, period, bks, by_id, wanted, selected, filtered, opts)
    step("oncall")
    delivery = _dora_section(session, period, bks, by_id, wanted, change_incidents, opts, notes)
    step("dora")
    return Scorecard(
        period=PeriodRead(label=period.label, kind=period.kind, start=period.start, end=period.end),
        filters=Filters(team=team, service=service, tier=tier),
        generated_at=now.astimezone(UTC),
        buckets=[b.label for b in bks],
        slo=slo,
        incidents=incidents,
        oncall=oncall,
        dora=delivery,
        notes=notes,
    )


# --- SLOs ------------------------------------------------------------------------------------


def _slo_section(
    session: Session,
    period: Period,
    bks: Sequence[Period],
    by_id: dict[int, store.ServiceRow],
    wanted: set[int] | None,
    notes: list[str],
) -> SloSection:
    rows = store.slos(session, service_ids=wanted)
    push = [r for r in rows if r.source == "push"]
    if len(push) < len(rows):
        notes.append(
            f"{len(rows) - len(push)} SLO(s) read from Prometheus are reported as no data "
            "(reports sum pushed events only)"
        )
    ids = [r.id for r in push]
    counts = _counts(session, period, ids)
    inputs = []
    for r in rows:
        svc = by_id[r.service_id]
        c = counts.get(r.id) if r.source == "push" else None
        good, total = (0.0, 0.0) if c is None else _unit(c, r.budgeting)
        inputs.append(sm.SloInput(r.name, svc.name, svc.team, svc.tier, r.objective, good, total))
    results = [sm.slo_result(i) for i in inputs]
    # cumulative budget consumed per bucket of the SLOs that consumed most
    burning = sorted(
        (r for r in results if r.budget_consumed), key=lambda r: -(r.budget_consumed or 0)
    )[:8]
    burn: list[Series] = []
    if burning:
        names = {r.name for r in burning}
        chosen = [r for r in push if r.name in names]
        per_bucket = [_counts(session, b, [r.id for r in chosen]) for b in bks]
        for r in chosen:
            res = next(x for x in burning if x.name == r.name)
            acc, values = 0.0, []
            for pb in per_bucket:
                c = pb.get(r.id)
                good, total = (0.0, 0.0) if c is None else _unit(c, r.budgeting)
                acc += sm.budget_consumed(total - good, res.total, r.objective) or 0.0
                values.append(acc)
            burn.append(Series(name=r.name, values=values))
    return SloSection(
        overall=_att(sm.attainment("all", results)),
        slos=[SloLine(**vars(r)) for r in results],
        by_service=[_att(a) for a in sm.attainment_by(results, "service")],
        by_tier=[_att(a) for a in sm.attainment_by(results, "tier")],
        by_team=[_att(a) for a in sm.attainment_by(results, "team")],
        missed=[r.name for r in results if r.met is False],
        no_data=[r.name for r in results if r.met is None],
        burn=burn,
    )


#: Above this many SLOs one window query over every SLO, filtered here, is faster than an id
#: filter in SQL (the organisation-wide report).
_SCAN_ALL_ABOVE = 64


def _counts(session: Session, period: Period, ids: list[int]) -> dict[int, Counts]:
    if not ids:
        return {}
    start = to_epoch(period.start) // 60 * 60
    end = to_epoch(period.end) // 60 * 60
    if len(ids) <= _SCAN_ALL_ABOVE:
        return slo_store.window_counts(session, start=start, end=end, slo_ids=ids)
    wanted = set(ids)
    counts = slo_store.window_counts(session, start=start, end=end)
    return {k: v for k, v in counts.items() if k in wanted}


def _unit(c: Counts, budgeting: str) -> tuple[float, float]:
    if budgeting == "timeslices":
        return float(c.good_slices), float(c.total_slices)
    return c.good, c.total


def _att(a: sm.Attainment) -> AttainmentRead:
    return AttainmentRead(**vars(a))


# --- incidents -------------------------------------------------------------------------------


def _incident_inputs(
    rows: Sequence[store.IncidentRow], by_id: dict[int, store.ServiceRow], wanted: set[int] | None
) -> list[im.IncidentInput]:
    out = []
    for r in rows:
        sids = [s for s in r.service_ids if s in by_id and (wanted is None or s in wanted)]
        if wanted is not None and not sids:
            continue
        svcs = [by_id[s] for s in sids]
        out.append(
            im.IncidentInput(
                r.id,
                r.severity,
                r.started_at,
                r.detected_at,
                r.acknowledged_at,
                r.mitigated_at,
                r.resolved_at,
                tuple(sorted(s.name for s in svcs)),
                tuple(sorted({s.team for s in svcs})),
            )
        )
    return out


def _incident_section(
    session: Session,
    period: Period,
    bks: Sequence[Period],
    by_id: dict[int, store.ServiceRow],
    wanted: set[int] | None,
    opts: Options,
    notes: list[str],
) -> tuple[IncidentSection, list[im.IncidentInput]]:
    rows = store.incidents(session, start=period.start, end=period.end + opts.change_failure_window)
    everything = _incident_inputs(rows, by_id, wanted)
    incs = im.in_period(everything, period.start, period.end)
    rt = im.response_times(incs)
    repeats = store.repeat_ids(session, start=period.start, end=period.end)
    if repeats is None:
        notes.append("repeat-incident rate: not available (no repeat links in this build)")
    pm_rate, ai_rate = _postmortem_figures(session, period, by_id, wanted, opts, notes)
    severities = sorted({i.severity for i in incs})
    sev_trend = [
        Series(
            name=sev,
            values=[
                float(sum(1 for i in im.in_period(incs, b.start, b.end) if i.severity == sev))
                for b in bks
            ],
        )
        for sev in severities
    ]
    mttx: dict[str, list[float | None]] = {"acknowledge": [], "mitigate": [], "resolve": []}
    for b in bks:
        t = im.response_times(im.in_period(incs, b.start, b.end))
        mttx["acknowledge"].append(_hours(t.acknowledge.median))
        mttx["mitigate"].append(_hours(t.mitigate.median))
        mttx["resolve"].append(_hours(t.resolve.median))
    section = IncidentSection(
        total=len(incs),
        open=im.open_count(incs),
        unacknowledged=im.unacknowledged_count(incs),
        by_severity=im.counts_by(incs, "severity"),
        by_service=im.counts_by(incs, "service"),
        by_team=im.counts_by(incs, "team"),
        time_to_detect=_summary(rt.detect),
        time_to_acknowledge=_summary(rt.acknowledge),
        time_to_mitigate=_summary(rt.mitigate),
        time_to_resolve=_summary(rt.resolve),
        time_between_failures={
            k: _summary(v) for k, v in im.time_between_failures(incs).items() if v.count
        },
        repeat_rate=None if repeats is None else im.repeat_rate(incs, repeats),
        repeat_available=repeats is not None,
        postmortem_days=opts.postmortem_days,
        postmortem_completion=pm_rate,
        action_items_on_time=ai_rate,
        severity_trend=sev_trend,
        mttx_trend=[Series(name=k, values=v) for k, v in mttx.items()],
    )
    return section, everything


def _postmortem_figures(
    session: Session,
    period: Period,
    by_id: dict[int, store.ServiceRow],
    wanted: set[int] | None,
    opts: Options,
    notes: list[str],
) -> tuple[RateRead | None, RateRead | None]:
    due = store.postmortem_due(session, start=period.start, end=period.end)
    pm_rate = None
    if due is None:
        notes.append("postmortem completion: not available (no postmortems in this build)")
    else:
        if wanted is not None:
            svc = store.postmortem_services(session, incident_ids=[d[0] for d in due])
            due = [d for d in due if svc.get(d[0], set()) & wanted]
        f = im.postmortem_completion(
            [im.PostmortemInput(i, r, p) for i, r, p in due], opts.postmortem_days
        )
        pm_rate = RateRead(numerator=f.numerator, denominator=f.denominator, rate=f.rate)
    items = store.action_items_due(session, start=period.start, end=period.end)
    ai_rate = None
    if items is None:
        notes.append("action items closed on time: not available (no action items in this build)")
    else:
        teams = None if wanted is None else {by_id[s].team_id for s in wanted}
        inputs = [
            im.ActionItemInput(i, datetime.combine(d, datetime.max.time(), UTC), s, c)
            for i, d, s, c, t in items
            if teams is None or t in teams
        ]
        f = im.action_items_on_time(inputs)
        ai_rate = RateRead(numerator=f.numerator, denominator=f.denominator, rate=f.rate)
    return pm_rate, ai_rate


# --- on-call ---------------------------------------------------------------------------------


def _oncall_section(
    session: Session,
    period: Period,
    bks: Sequence[Period],
    by_id: dict[int, store.ServiceRow],
    wanted: set[int] | None,
    selected: Sequence[store.ServiceRow],
    filtered: bool,
    opts: Options,
) -> OncallSection:
    seen: set[tuple[int, str, str]] = set()
    pages: list[om.PageInput] = []
    for p in store.pages(session, start=period.start, end=period.end):
        if wanted is not None and p.service_id not in wanted:
            continue
        key = (p.alert_id, p.escalation, p.user)
        if key in seen:
            continue
        seen.add(key)
        pages.append(om.PageInput(p.alert_id, p.user, p.at, p.acknowledged, p.in_incident))
    team_ids = {s.team_id for s in selected} if filtered else None
    shift_list: list[om.ShiftInput] = []
    for row in store.schedules(session, team_ids=team_ids):
        for s in rotation_shifts(schedule_of(row), period.start, period.end):
            shift_list.append(om.ShiftInput(row.name, s.user, s.start, s.end))
    load = om.pages_per_shift(pages, shift_list)
    busiest = sorted(
        (
            ShiftPages(schedule=s.schedule, user=s.user, start=s.start, end=s.end, pages=n)
            for s, n in zip(shift_list, load.counts, strict=True)
            if n
        ),
        key=lambda x: (-x.pages, x.start),
    )[: opts.top]
    outside, total = om.outside_hours(pages, store.user_zones(session), opts.working_hours)

    def svc_name(sid: int | None) -> str:
        return by_id[sid].name if sid is not None and sid in by_id else ""

    by_name: dict[tuple[str, str], int] = {}
    flaps = []
    for fp, n, sid, c in store.alert_counts(session, start=period.start, end=period.end):
        if wanted is not None and sid not in wanted:
            continue
        name_service = (n, svc_name(sid))
        by_name[name_service] = by_name.get(name_service, 0) + c
        if c >= opts.flapping_threshold:
            flaps.append(om.AlertCount(n, name_service[1], c, fp))
    counts = [om.AlertCount(n, svc, c) for (n, svc), c in by_name.items()]
    return OncallSection(
        pages=len(pages),
        shifts=load.shifts,
        pages_per_shift=_summary(load.per_shift),
        pages_outside_shifts=load.pages_outside_shifts,
        busiest_shifts=busiest,
        pages_per_person=om.pages_per_person(pages),
        outside_working_hours=outside,
        outside_working_hours_rate=ratio(outside, total),
        actionability=om.actionability(pages),
        noisiest=[Noisy(**vars(c)) for c in om.noisiest(counts, opts.top)],
        flapping=[Noisy(**vars(c)) for c in om.flapping(flaps, opts.flapping_threshold)][
            : opts.top
        ],
        flapping_threshold=opts.flapping_threshold,
        pages_trend=[
            Series(
                name="pages",
                values=[float(sum(1 for p in pages if b.start <= p.at < b.end)) for b in bks],
            )
        ],
    )


# --- DORA ------------------------------------------------------------------------------------


def _dora_section(
    session: Session,
    period: Period,
    bks: Sequence[Period],
    by_id: dict[int, store.ServiceRow],
    wanted: set[int] | None,
    incidents: Sequence[im.IncidentInput],
    opts: Options,
    notes: list[str],
) -> DoraSection:
    rows = store.deploys(session, start=period.start, end=period.end + opts.rework_window)
    following = [
        dora.DeployInput(r.id, by_id[r.service_id].name, r.deployed_at, r.committed_at, r.outcome)
        for r in rows
        if r.service_id in by_id and (wanted is None or r.service_id in wanted)
    ]
    deploys = [d for d in following if d.deployed_at < period.end]
    change_incs = [
        dora.ChangeIncident(i.id, s, i.started_at, i.resolved_at)
        for i in incidents
        for s in i.services
    ]
    freq = dora.frequency(deploys, period.days)
    lead = dora.lead_time(deploys)
    if deploys and lead.without_commit_time == len(deploys):
        notes.append("lead time for changes: no deploy in the selection has a commit time")
    cf = dora.change_failures(deploys, change_incs, opts.change_failure_window)
    restore, restore_open = dora.time_to_restore(change_incs, cf.caused_incidents)
    rework_n, rework_rate = dora.rework(deploys, following, opts.rework_window)
    levels = dora.load_levels()
    trend_deploys, trend_cfr, trend_lead = [], [], []
    for b in bks:
        bd = [d for d in deploys if b.start <= d.deployed_at < b.end]
        trend_deploys.append(float(len(bd)))
        trend_cfr.append(None if not bd else sum(1 for d in bd if d.id in cf.failed_ids) / len(bd))
        trend_lead.append(_hours(dora.lead_time(bd).summary.median))
    return DoraSection(
        deploys=freq.deploys,
        deploys_per_day=freq.per_day,
        per_service_median_per_day=freq.per_service_median_per_day,
        lead_time=_summary(lead.summary),
        without_commit_time=lead.without_commit_time,
        failed_deploys=cf.failed,
        change_failure_rate=cf.rate,
        change_failure_window_hours=opts.change_failure_window.total_seconds() / 3600,
        time_to_restore=_summary(restore),
        restore_open=restore_open,
        rework_deploys=rework_n,
        rework_rate=rework_rate,
        rework_window_hours=opts.rework_window.total_seconds() / 3600,
        levels={
            "deployment_frequency": dora.classify(
                levels, "deployment_frequency", freq.per_service_median_per_day
            ),
            "lead_time": dora.classify(levels, "lead_time", _hours(lead.summary.median)),
            "change_failure_rate": dora.classify(levels, "change_failure_rate", cf.rate),
            "time_to_restore": dora.classify(levels, "time_to_restore", _hours(restore.median)),
        },
        levels_source=f"{levels.source} ({levels.year})",
        trend=[
            Series(name="deploys", values=trend_deploys),
            Series(name="change failure rate", values=trend_cfr),
            Series(name="lead time median (h)", values=trend_lead),
        ],
    )


# --- per-team headlines (Prometheus gauges) -------------------------------------------------


@dataclass(frozen=True)
class TeamHeadline:
    """A few headline figures of one team."""

    team: str
    slo_attainment: float | None
    time_to_resolve_median: float | None
    deploys_per_day: float | None
    change_failure_rate: float | None
    incidents: int


def team_headlines(
    session: Session, *, period: Period, options: Options | None = None
) -> list[TeamHeadline]:
    """Headline figures of every team that owns a service, reading each table once."""
    opts = options or Options()
    all_services = store.services(session)
    by_id = {s.id: s for s in all_services}
    teams = sorted({s.team for s in all_services})
    slo_rows = [r for r in store.slos(session, service_ids=None) if r.source == "push"]
    counts = _counts(session, period, [r.id for r in slo_rows])
    results = []
    for r in slo_rows:
        svc = by_id[r.service_id]
        c = counts.get(r.id)
        good, total = (0.0, 0.0) if c is None else _unit(c, r.budgeting)
        results.append(
            sm.slo_result(
                sm.SloInput(r.name, svc.name, svc.team, svc.tier, r.objective, good, total)
            )
        )
    att = {a.group: a.attainment for a in sm.attainment_by(results, "team")}
    rows = store.incidents(session, start=period.start, end=period.end + opts.change_failure_window)
    everything = _incident_inputs(rows, by_id, None)
    deploy_rows = store.deploys(session, start=period.start, end=period.end)
    out = []
    for team in teams:
        mine = {s.id for s in all_services if s.team == team}
        names = {by_id[i].name for i in mine}
        team_incs = [i for i in everything if team in i.teams]
        incs = im.in_period(team_incs, period.start, period.end)
        deploys = [
            dora.DeployInput(
                d.id, by_id[d.service_id].name, d.deployed_at, d.committed_at, d.outcome
            )
            for d in deploy_rows
            if d.service_id in mine
        ]
        change_incs = [
            dora.ChangeIncident(i.id, s, i.started_at, i.resolved_at)
            for i in team_incs
            for s in i.services
            if s in names
        ]
        cf = dora.change_failures(deploys, change_incs, opts.change_failure_window)
        out.append(
            TeamHeadline(
                team=team,
                slo_attainment=att.get(team),
                time_to_resolve_median=im.response_times(incs).resolve.median,
                deploys_per_day=dora.frequency(deploys, period.days).per_day,
                change_failure_rate=cf.rate,
                incidents=len(incs),
            )
        )
    return out
