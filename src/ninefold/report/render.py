"""Render a scorecard as JSON, CSV, Markdown or HTML (with inline SVG charts)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from ninefold.report import svg
from ninefold.report.schemas import Scorecard, SummaryRead

FORMATS = ("json", "csv", "md", "html", "pdf")


def duration(seconds: float | None) -> str:
    """Human duration: ``45s``, ``12m``, ``3h 05m``, ``2d 4h``; ``—`` for None."""
    if seconds is None:
        return "—"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


def pct(value: float | None, digits: int = 1) -> str:
    """``99.5%``; ``—`` for None."""
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def num(value: float | None, digits: int = 2) -> str:
    """A number with up to ``digits`` decimals; ``—`` for None."""
    if value is None:
        return "—"
    return f"{value:.{digits}f}".rstrip("0").rstrip(".") if digits else f"{value:.0f}"


def to_json(card: Scorecard) -> str:
    """The scorecard as indented JSON."""
    return card.model_dump_json(indent=2) + "\n"


def _summary_rows(section: str, name: str, s: SummaryRead) -> Iterator[list[Any]]:
    for stat in ("count", "mean", "median", "p90", "max"):
        yield [section, name, stat, getattr(s, stat)]


def _rows(card: Scorecard) -> Iterator[list[Any]]:
    yield ["section", "metric", "key", "value"]
    yield ["report", "period", card.period.label, f"{card.period.start}..{card.period.end}"]
    for k, v in card.filters.model_dump().items():
        yield ["report", "filter", k, v]
    o = card.slo.overall
    yield ["slo", "attainment", "all", o.attainment]
    yield ["slo", "slos_with_data", "all", o.with_data]
    yield ["slo", "slos_met", "all", o.met]
    yield ["slo", "slos_missed", "all", o.missed]
    for s in card.slo.slos:
        yield ["slo", "sli", s.name, s.sli]
        yield ["slo", "objective", s.name, s.objective]
        yield ["slo", "budget_consumed", s.name, s.budget_consumed]
    for group, items in (
        ("service", card.slo.by_service),
        ("tier", card.slo.by_tier),
        ("team", card.slo.by_team),
    ):
        for a in items:
            yield ["slo", f"attainment_by_{group}", a.group, a.attainment]
    i = card.incidents
    yield ["incidents", "total", "", i.total]
    yield ["incidents", "open", "", i.open]
    yield ["incidents", "unacknowledged", "", i.unacknowledged]
    for key, counts in (
        ("severity", i.by_severity),
        ("service", i.by_service),
        ("team", i.by_team),
    ):
        for k, v in counts.items():
            yield ["incidents", f"by_{key}", k, v]
    for name in ("time_to_detect", "time_to_acknowledge", "time_to_mitigate", "time_to_resolve"):
        yield from _summary_rows("incidents", f"{name}_seconds", getattr(i, name))
    for svc, tbf in i.time_between_failures.items():
        yield ["incidents", "time_between_failures_median_seconds", svc, tbf.median]
    yield ["incidents", "repeat_rate", "", i.repeat_rate if i.repeat_available else "n/a"]
    pm = i.postmortem_completion
    yield ["incidents", f"postmortem_within_{i.postmortem_days}d", "", pm.rate if pm else "n/a"]
    ai = i.action_items_on_time
    yield ["incidents", "action_items_on_time", "", ai.rate if ai else "n/a"]
    c = card.oncall
    yield ["oncall", "pages", "", c.pages]
    yield ["oncall", "shifts", "", c.shifts]
    yield from _summary_rows("oncall", "pages_per_shift", c.pages_per_shift)
    yield ["oncall", "pages_outside_shifts", "", c.pages_outside_shifts]
    for user, n in c.pages_per_person.items():
        yield ["oncall", "pages_per_person", user, n]
    yield ["oncall", "outside_working_hours", "", c.outside_working_hours]
    yield ["oncall", "outside_working_hours_rate", "", c.outside_working_hours_rate]
    yield ["oncall", "actionability", "", c.actionability]
    for na in c.noisiest:
        yield ["oncall", "noisiest", f"{na.alertname}@{na.service}", na.count]
    for fa in c.flapping:
        yield ["oncall", "flapping", f"{fa.alertname}@{fa.service}#{fa.fingerprint}", fa.count]
    d = card.dora
    yield ["dora", "deploys", "", d.deploys]
    yield ["dora", "deploys_per_day", "", d.deploys_per_day]
    yield ["dora", "per_service_median_deploys_per_day", "", d.per_service_median_per_day]
    yield from _summary_rows("dora", "lead_time_seconds", d.lead_time)
    yield ["dora", "deploys_without_commit_time", "", d.without_commit_time]
    yield ["dora", "change_failure_rate", "", d.change_failure_rate]
    yield ["dora", "failed_deploys", "", d.failed_deploys]
    yield from _summary_rows("dora", "time_to_restore_seconds", d.time_to_restore)
    yield ["dora", "rework_rate", "", d.rework_rate]
    for metric, level in d.levels.items():
        yield ["dora", "level", metric, level]


def to_csv(card: Scorecard) -> str:
    """The scorecard as long-format CSV: section, metric, key, value."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    for row in _rows(card):
        w.writerow(["" if v is None else v for v in row])
    return buf.getvalue()


def title(card: Scorecard) -> str:
    """The report title with its scope."""
    f = card.filters
    scope = ", ".join(
        x
        for x in (
            f.team and f"team {f.team}",
            f.service and f"service {f.service}",
            f.tier is not None and f"tier {f.tier}",
        )
        if x
    )
    return f"Reliability scorecard {card.period.label}" + (f" — {scope}" if scope else "")


def to_markdown(card: Scorecard) -> str:
    """A Markdown summary with the headline figures."""
    i, c, d, o = card.incidents, card.oncall, card.dora, card.slo.overall
    lines = [
        f"# {title(card)}",
        "",
        f"{card.period.start:%Y-%m-%d %H:%M} – {card.period.end:%Y-%m-%d %H:%M} UTC",
        "",
        "## SLOs",
        "",
        f"- Attainment: **{pct(o.attainment)}** ({o.met} of {o.with_data} SLOs with data met "
        f"their objective; {len(card.slo.no_data)} without data)",
        f"- Missed: {', '.join(card.slo.missed) or 'none'}",
        "",
        "| SLO | service | objective | SLI | budget consumed |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {s.name} | {s.service} | {pct(s.objective, 2)} | {pct(s.sli, 3)} | "
        f"{pct(s.budget_consumed)} |"
        for s in card.slo.slos
    ]
    lines += [
        "",
        "## Incidents",
        "",
        f"- Incidents: **{i.total}** ({i.open} open, {i.unacknowledged} never acknowledged)",
        "- By severity: " + (", ".join(f"{k} {v}" for k, v in i.by_severity.items()) or "none"),
        "",
        "| time to | median | p90 | mean | n |",
        "| --- | --- | --- | --- | --- |",
    ]
    for label, s in (
        ("detect", i.time_to_detect),
        ("acknowledge", i.time_to_acknowledge),
        ("mitigate", i.time_to_mitigate),
        ("resolve", i.time_to_resolve),
    ):
        lines.append(
            f"| {label} | {duration(s.median)} | {duration(s.p90)} | {duration(s.mean)} | {s.count} |"
        )
    pm, ai = i.postmortem_completion, i.action_items_on_time
    lines += [
        "",
        f"- Repeat-incident rate: {pct(i.repeat_rate) if i.repeat_available else 'not available'}",
        f"- Postmortems within {i.postmortem_days} days: "
        + (f"{pct(pm.rate)} ({pm.numerator}/{pm.denominator})" if pm else "not available"),
        "- Action items closed on time: "
        + (f"{pct(ai.rate)} ({ai.numerator}/{ai.denominator})" if ai else "not available"),
        "",
        "## On-call",
        "",
        f"- Pages: **{c.pages}** over {c.shifts} shifts (median {num(c.pages_per_shift.median)}, "
        f"p90 {num(c.pages_per_shift.p90)}, max {num(c.pages_per_shift.max)} per shift; "
        f"{c.pages_outside_shifts} outside any shift)",
        f"- Outside working hours: {c.outside_working_hours} ({pct(c.outside_working_hours_rate)})",
        f"- Actionability: {pct(c.actionability)}",
        "- Noisiest alerts: "
        + (
            ", ".join(f"{a.alertname}@{a.service or '-'} ({a.count})" for a in c.noisiest[:5])
            or "none"
        ),
        f"- Flapping alerts (≥ {c.flapping_threshold} firings): {len(c.flapping)}",
        "",
        "## Delivery (DORA)",
        "",
        f"- Deploys: **{d.deploys}** ({num(d.deploys_per_day)} per day; median service "
        f"{num(d.per_service_median_per_day, 3)} per day) — {d.levels['deployment_frequency'] or '—'}",
        f"- Lead time for changes: median {duration(d.lead_time.median)}, p90 "
        f"{duration(d.lead_time.p90)} ({d.without_commit_time} deploys without commit time) — "
        f"{d.levels['lead_time'] or '—'}",
        f"- Change failure rate: {pct(d.change_failure_rate)} ({d.failed_deploys} of "
        f"{d.deploys}) — {d.levels['change_failure_rate'] or '—'}",
        f"- Time to restore: median {duration(d.time_to_restore.median)}, p90 "
        f"{duration(d.time_to_restore.p90)} — {d.levels['time_to_restore'] or '—'}",
        f"- Rework rate: {pct(d.rework_rate)} ({d.rework_deploys} deploys)",
        f"- Levels: {d.levels_source}",
    ]
    if card.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in card.notes]
    return "\n".join(lines) + "\n"


def charts(card: Scorecard) -> dict[str, str]:
    """The report's SVG charts by name."""
    labels = card.buckets
    slos = card.slo.slos[:30]
    out = {
        "attainment": svg.bar_chart(
            "SLI by SLO (% of events good)",
            [s.name for s in slos],
            [("SLI %", [None if s.sli is None else s.sli * 100 for s in slos])],
        ),
        "burn": svg.line_chart(
            "Error budget consumed (cumulative, % of period budget)",
            labels,
            [(s.name, [None if v is None else v * 100 for v in s.values]) for s in card.slo.burn],
        ),
        "severity": svg.bar_chart(
            "Incidents by severity",
            labels,
            [(s.name, s.values) for s in card.incidents.severity_trend],
        ),
        "mttx": svg.line_chart(
            "Median time to acknowledge / mitigate / resolve (hours)",
            labels,
            [(s.name, s.values) for s in card.incidents.mttx_trend],
        ),
        "shifts": svg.bar_chart(
            "Pages per shift (busiest shifts)",
            [f"{s.user} {s.start:%m-%d}" for s in card.oncall.busiest_shifts],
            [("pages", [float(s.pages) for s in card.oncall.busiest_shifts])],
        ),
        "pages": svg.bar_chart(
            "Pages over time", labels, [(s.name, s.values) for s in card.oncall.pages_trend]
        ),
        "deploys": svg.bar_chart(
            "Deploys", labels, [(s.name, s.values) for s in card.dora.trend[:1]]
        ),
        "dora": svg.line_chart(
            "Change failure rate (%) and median lead time (h)",
            labels,
            [
                (
                    "change failure rate %",
                    [None if v is None else v * 100 for v in card.dora.trend[1].values],
                ),
                (card.dora.trend[2].name, card.dora.trend[2].values),
            ],
        ),
    }
    return out


_env = Environment(
    loader=PackageLoader("ninefold.report", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters.update(duration=duration, pct=pct, num=num)


def to_html(card: Scorecard) -> str:
    """A self-contained HTML page with inline SVG charts (no scripts, no external assets)."""
    svgs = {k: Markup(v) for k, v in charts(card).items()}  # noqa: S704 - built with escape()
    return _env.get_template("scorecard.html.j2").render(card=card, title=title(card), charts=svgs)
