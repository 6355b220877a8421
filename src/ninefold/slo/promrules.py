"""Sloth-compatible Prometheus rules for ninefold SLOs (pure).

For every SLO whose source is ``prometheus`` this writes the same three rule groups Sloth does,
with the same group names, record names and labels, so existing Sloth dashboards and alert
routing keep working:

- ``sloth-slo-sli-recordings-<service>-<slo>``: ``slo:sli_error:ratio_rate<w>`` for the burn
  windows 5m, 30m, 1h, 2h, 6h, 1d, 3d and the SLO period (a rolling window's length; calendar
  windows use the nominal period: week 7d, month 30d, quarter 90d).
- ``sloth-slo-meta-recordings-<service>-<slo>``: ``slo:objective:ratio``,
  ``slo:error_budget:ratio``, ``slo:time_period:days``, ``slo:current_burn_rate:ratio``,
  ``slo:period_burn_rate:ratio``, ``slo:period_error_budget_remaining:ratio``, ``sloth_slo_info``.
- ``sloth-slo-alerts-<service>-<slo>``: multiwindow multi-burn-rate alerts (page: 1h & 5m,
  6h & 30m; ticket: 1d & 2h, 3d & 6h) with factors that spend 2%, 5%, 10% and 10% of the
  period's budget in the long window (14.4, 6, 3, 1 for 30 days), as Sloth computes them.

Deliberate differences from Sloth (DESIGN.md §7):

- The period error ratio is weighted by events. Sloth records
  ``sum_over_time(slo:sli_error:ratio_rate5m[30d]) / count_over_time(...)``, an unweighted
  average of 5-minute ratios, so a quiet night with one failed request out of two counts as much
  as a busy hour. ninefold evaluates the SLI over the whole period from the raw counters
  (``increase`` over the period, or for ``{{.window}}`` rate queries the ratio of the summed
  rates), exactly as ninefold's own engine and its Prometheus source do. This costs a longer
  range read at each evaluation in exchange for the right number.
- Error ratios divide by ``total > 0``: at zero traffic the series disappears instead of
  becoming NaN, and a ``<Alert>NoData`` alert fires once the 5m ratio has been absent for the
  SLO's ``alerting.no_data_after``, so missing data is reported separately from burn.
- Timeslices SLOs get the same event-based rules (Prometheus has no cheap slice count).

Push SLOs have no PromQL and are skipped with a note.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ninefold import __version__
from ninefold.catalog.spec import SLOSpec
from ninefold.core.durations import format_duration, parse_duration
from ninefold.slo import promql
from ninefold.slo.alerting import thresholds
from ninefold.slo.windows import BURN_WINDOWS, nominal_period_seconds

_LABEL_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_RESERVED = ("sloth_", "__")


@dataclass
class RulesExport:
    """Rule files by service name (each a ``{"groups": [...]}`` mapping) and notes on skips."""

    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def export(slos: Iterable[tuple[str, SLOSpec]]) -> RulesExport:
    """Sloth-compatible rule files, one per service, for (service name, SLO) pairs."""
    out = RulesExport()
    for service, spec in slos:
        if spec.source != "prometheus":
            out.notes.append(
                f"skipped SLO {service}/{spec.name}: source {spec.source} has no PromQL"
            )
            continue
        groups, notes = slo_groups(service, spec)
        out.notes.extend(notes)
        out.files.setdefault(service, {"groups": []})["groups"].extend(groups)
    return out


def sloth_id(service: str, spec: SLOSpec) -> str:
    """Sloth's id of an SLO: ``<service>-<slo>``."""
    return f"{service}-{spec.name}"


def period_window(spec: SLOSpec) -> str:
    """The SLO period as a Prometheus duration (``30d``, ``4w`` …)."""
    return format_duration(nominal_period_seconds(spec))


def slo_groups(service: str, spec: SLOSpec) -> tuple[list[dict[str, Any]], list[str]]:
    """The three Sloth rule groups of one SLO, and notes on anything left out."""
    sid = sloth_id(service, spec)
    extra, notes = _extra_labels(service, spec)
    ids = {"sloth_id": sid, "sloth_service": service, "sloth_slo": spec.name}
    base = {**extra, **ids}
    sel = _selector(ids)
    period = period_window(spec)
    period_seconds = nominal_period_seconds(spec)

    windows = [label for label, _seconds in BURN_WINDOWS]
    if not any(parse_duration(w) == period_seconds for w in windows):
        windows.append(period)
    period_label = next(w for w in windows if parse_duration(w) == period_seconds)
    sli_rules = [
        {
            "record": f"slo:sli_error:ratio_rate{w}",
            "expr": promql.error_ratio_expr(spec, w) + "\n",
            "labels": {**base, "sloth_window": w},
        }
        for w in windows
    ]

    budget = 1.0 - spec.objective
    meta_rules: list[dict[str, Any]] = [
        {"record": "slo:objective:ratio", "expr": f"vector({spec.objective!r})", "labels": base},
        {
            "record": "slo:error_budget:ratio",
            "expr": f"vector(1-{spec.objective!r})",
            "labels": base,
        },
        {
            "record": "slo:time_period:days",
            "expr": f"vector({_num(period_seconds / 86400)})",
            "labels": base,
        },
        {
            "record": "slo:current_burn_rate:ratio",
            "expr": _per_budget("slo:sli_error:ratio_rate5m", sel),
            "labels": base,
        },
        {
            "record": "slo:period_burn_rate:ratio",
            "expr": _per_budget(f"slo:sli_error:ratio_rate{period_label}", sel),
            "labels": base,
        },
        {
            "record": "slo:period_error_budget_remaining:ratio",
            "expr": f"1 - slo:period_burn_rate:ratio{sel}",
            "labels": base,
        },
        {
            "record": "sloth_slo_info",
            "expr": "vector(1)",
            "labels": {
                **base,
                "sloth_mode": "ninefold",
                "sloth_objective": _num(spec.objective * 100),
                "sloth_spec": "ninefold/v1",
                "sloth_version": __version__,
            },
        },
    ]

    groups: list[dict[str, Any]] = [
        {"name": f"sloth-slo-sli-recordings-{sid}", "rules": sli_rules},
        {"name": f"sloth-slo-meta-recordings-{sid}", "rules": meta_rules},
    ]
    alerts = _alerts(service, spec, sel, budget, period_seconds)
    if alerts:
        groups.append({"name": f"sloth-slo-alerts-{sid}", "rules": alerts})
    return groups, notes


def alert_name(service: str, spec: SLOSpec) -> str:
    """A valid Prometheus alert name for an SLO, e.g. ``CheckoutApiAvailabilitySLOBurn``."""
    words = re.split(r"[^a-zA-Z0-9]+", f"{service} {spec.name}")
    name = "".join(w[:1].upper() + w[1:] for w in words if w)
    if not name or name[0].isdigit():
        name = "SLO" + name
    return f"{name}SLOBurn"


def _alerts(
    service: str, spec: SLOSpec, sel: str, budget: float, period_seconds: int
) -> list[dict[str, Any]]:
    conditions: dict[str, list[tuple[str, str, float]]] = {}
    for severity, long, short, factor in thresholds(period_seconds):
        conditions.setdefault(severity, []).append((long, short, factor))
    name = alert_name(service, spec)
    enabled = {"page": spec.alerting.page, "ticket": spec.alerting.ticket}
    extra = {"page": spec.alerting.page_labels, "ticket": spec.alerting.ticket_labels}
    rules: list[dict[str, Any]] = []
    for severity, pairs in conditions.items():
        if not enabled.get(severity, False):
            continue
        parts = [
            "(\n"
            f"    (slo:sli_error:ratio_rate{short}{sel} > ({_num(factor)} * {budget!r}))\n"
            "    and ignoring (sloth_window)\n"
            f"    (slo:sli_error:ratio_rate{long}{sel} > ({_num(factor)} * {budget!r}))\n"
            ")"
            for long, short, factor in pairs
        ]
        rules.append(
            {
                "alert": name,
                "expr": "\nor ignoring (sloth_window)\n".join(parts) + "\n",
                "labels": {**_valid(extra[severity]), "sloth_severity": severity},
                "annotations": _annotations(severity),
            }
        )
    if rules:
        rules.append(
            {
                "alert": name.removesuffix("SLOBurn") + "SLONoData",
                "expr": f"absent(slo:sli_error:ratio_rate5m{sel})",
                "for": spec.alerting.no_data_after,
                "labels": {
                    "sloth_id": sloth_id(service, spec),
                    "sloth_service": service,
                    "sloth_slo": spec.name,
                    "sloth_severity": "ticket",
                    "ninefold_alert": "no_data",
                },
                "annotations": {
                    "summary": f"{service} {spec.name} SLO has no traffic or no data.",
                    "title": f"(no data) {service} {spec.name} SLI has had no data for "
                    f"{spec.alerting.no_data_after}.",
                },
            }
        )
    return rules


def _annotations(severity: str) -> dict[str, str]:
    who = "{{$labels.sloth_service}} {{$labels.sloth_slo}}"
    return {
        "summary": f"{who} SLO error budget burn rate is over expected.",
        "title": f"({severity}) {who} SLO error budget burn rate is too fast.",
    }


def _per_budget(metric: str, sel: str) -> str:
    return (
        f"{metric}{sel}\n"
        "/ on(sloth_id, sloth_slo, sloth_service) group_left\n"
        f"slo:error_budget:ratio{sel}\n"
    )


def _selector(labels: dict[str, str]) -> str:
    inner = ", ".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _extra_labels(service: str, spec: SLOSpec) -> tuple[dict[str, str], list[str]]:
    good = _valid(spec.labels)
    notes = [
        f"SLO {service}/{spec.name}: label {key!r} left out of the rules "
        "(not a Prometheus label name, or reserved)"
        for key in spec.labels
        if key not in good
    ]
    return good, notes


def _valid(labels: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in labels.items() if _LABEL_RE.match(k) and not k.startswith(_RESERVED)}


def _num(value: float) -> str:
    """A float as short as it can be written exactly (``14.4``, ``30``, ``99.9``)."""
    return f"{value:.12g}"
