"""Import OpenSLO v1 (``apiVersion: openslo/v1``) into ninefold YAML.

Supported: SLO (inline ``indicator`` or ``indicatorRef``), SLI, Service, DataSource and AlertPolicy
(inline or by ``alertPolicyRef``). Ratio metrics map to ratio SLIs with their Prometheus queries;
threshold metrics on a Prometheus histogram map to latency SLIs. Rolling and calendar time windows,
Occurrences and Timeslices budgeting. Anything else fails with the document and field named.
"""

from __future__ import annotations

import re
from typing import Any

from ninefold.catalog.importers import (
    ImportFailed,
    get,
    load_documents,
    owner_team,
    prune,
    slug,
    str_labels,
    where_of,
)

API_VERSION = "openslo/v1"
KINDS = ("SLO", "SLI", "Service", "DataSource", "AlertPolicy", "AlertCondition")
_CALENDAR = {"1w": "week", "1M": "month", "1Q": "quarter"}
_HISTOGRAM = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*?)(?:_bucket)?\s*(?:\{(.*)\})?\s*$")
_PAGE_SEVERITIES = {"page", "critical", "high", "urgent", "error"}
_TICKET_SEVERITIES = {"ticket", "warning", "low", "medium", "info"}


class _Docs:
    def __init__(self, text: str, source: str) -> None:
        self.source = source
        self.by_kind: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {k: {} for k in KINDS}
        self.order: list[tuple[str, dict[str, Any]]] = []
        for number, doc in load_documents(text, source):
            kind = str(doc.get("kind", ""))
            name = get(doc, "metadata.name", f"{source} document {number}", str)
            where = where_of(source, number, kind, name)
            if doc.get("apiVersion") != API_VERSION:
                raise ImportFailed(
                    f"{where}: apiVersion {doc.get('apiVersion')!r} is not supported "
                    f"(only {API_VERSION})"
                )
            if kind not in KINDS:
                raise ImportFailed(f"{where}: kind {kind!r} is not supported ({', '.join(KINDS)})")
            if not name:
                raise ImportFailed(f"{where}: metadata.name is required")
            self.by_kind[kind][name] = (where, doc)
            self.order.append((where, doc))

    def ref(self, kind: str, name: str, where: str, field: str) -> tuple[str, dict[str, Any]]:
        found = self.by_kind[kind].get(name)
        if found is None:
            raise ImportFailed(f"{where}: {field} {name!r}: no {kind} with that name in the file")
        return found


def import_openslo(
    text: str,
    *,
    source: str = "openslo.yaml",
    owner: str = "unowned",
    warnings: list[str] | None = None,
) -> dict[str, Any]:
    """Convert OpenSLO v1 documents to a ninefold ConfigFile dict; services get team ``owner``."""
    warn = warnings if warnings is not None else []
    docs = _Docs(text, source)
    services: dict[str, dict[str, Any]] = {}
    for where, doc in docs.by_kind["Service"].values():
        name = _slug(doc["metadata"]["name"], where)
        services[name] = {
            "name": name,
            "display_name": get(doc, "metadata.displayName", where, str),
            "description": get(doc, "spec.description", where, str),
            "owner": owner,
            "labels": str_labels(get(doc, "metadata.labels", where, dict)),
        }
    slos: list[dict[str, Any]] = []
    for where, doc in docs.by_kind["SLO"].values():
        service = get(doc, "spec.service", where, str)
        if not service:
            raise ImportFailed(f"{where}: spec.service is required")
        service = _slug(service, where)
        if service not in services:
            warn.append(f"{where}: service {service!r} has no Service document; created it")
            services[service] = {"name": service, "owner": owner}
        slos.extend(_slos(docs, where, doc, service, warn))
    if not slos and not services:
        raise ImportFailed(f"{source}: no SLO or Service documents found")
    config = {
        "teams": [
            owner_team(
                owner, "Created by ninefold import openslo: give the services their real owner."
            )
        ],
        "services": list(services.values()),
        "slos": slos,
    }
    return dict(prune(config))


def _slug(value: str, where: str) -> str:
    try:
        return slug(value)
    except ValueError as exc:
        raise ImportFailed(f"{where}: {exc}") from None


def _slos(
    docs: _Docs, where: str, doc: dict[str, Any], service: str, warn: list[str]
) -> list[dict[str, Any]]:
    spec = get(doc, "spec", where, dict) or {}
    sli_where, sli = _indicator(docs, where, spec)
    objectives = get(doc, "spec.objectives", where, list) or []
    if not objectives:
        raise ImportFailed(f"{where}: spec.objectives needs at least one objective")
    base = {
        "name": None,
        "service": service,
        "display_name": get(doc, "metadata.displayName", where, str),
        "description": get(doc, "spec.description", where, str),
        "window": _window(where, spec.get("timeWindow")),
        "labels": str_labels(get(doc, "metadata.labels", where, dict)),
        "alerting": _alerting(docs, where, spec.get("alertPolicies"), warn),
    }
    name = _slug(doc["metadata"]["name"], where)
    out = []
    for index, objective in enumerate(objectives):
        at = f"{where}: spec.objectives[{index}]"
        if not isinstance(objective, dict):
            raise ImportFailed(f"{at} must be a mapping")
        if any(k in objective for k in ("indicator", "indicatorRef", "compositeWeight")):
            raise ImportFailed(f"{at}: composite SLOs (per-objective indicators) are not supported")
        slo = dict(base)
        slo["name"] = name if len(objectives) == 1 else _objective_name(name, objective, index)
        if len(objectives) > 1 and objective.get("displayName"):
            slo["display_name"] = objective["displayName"]
        slo["objective"] = _target(at, objective)
        slo["source"], slo["sli"] = _sli(docs, sli_where, sli, at, objective)
        slo.update(_budgeting(where, at, spec.get("budgetingMethod"), objective))
        out.append(slo)
    return out


def _objective_name(name: str, objective: dict[str, Any], index: int) -> str:
    suffix = objective.get("name") or objective.get("displayName") or str(index + 1)
    return slug(f"{name}-{suffix}")


def _indicator(docs: _Docs, where: str, spec: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    if spec.get("indicatorRef"):
        ref_where, sli_doc = docs.ref("SLI", str(spec["indicatorRef"]), where, "spec.indicatorRef")
        return ref_where, get(sli_doc, "spec", ref_where, dict) or {}
    inline = spec.get("indicator")
    if not isinstance(inline, dict):
        raise ImportFailed(f"{where}: spec.indicator or spec.indicatorRef is required")
    return f"{where}: spec.indicator", get(inline, "spec", where, dict) or {}


def _target(at: str, objective: dict[str, Any]) -> float:
    if objective.get("target") is not None:
        value = objective["target"]
    elif objective.get("targetPercent") is not None:
        value = round(float(objective["targetPercent"]) / 100, 10)
    else:
        raise ImportFailed(f"{at}: target or targetPercent is required")
    if not isinstance(value, int | float) or not 0 < float(value) < 1:
        raise ImportFailed(f"{at}: target must be between 0 and 1 exclusive, not {value!r}")
    return float(value)


def _query(docs: _Docs, at: str, field: str, source: Any) -> str:
    metric = source.get("metricSource") if isinstance(source, dict) else None
    if not isinstance(metric, dict):
        raise ImportFailed(f"{at}: {field}.metricSource is required")
    kind = metric.get("type")
    if metric.get("metricSourceRef"):
        ds_where, ds = docs.ref("DataSource", str(metric["metricSourceRef"]), at, "metricSourceRef")
        kind = kind or get(ds, "spec.type", ds_where, str)
    if str(kind or "Prometheus").lower() != "prometheus":
        raise ImportFailed(
            f"{at}: {field}.metricSource type {kind!r} is not supported "
            "(ninefold reads Prometheus or pushed events)"
        )
    spec = metric.get("spec") or {}
    query = spec.get("query") or spec.get("promql") if isinstance(spec, dict) else None
    if not isinstance(query, str) or not query.strip():
        raise ImportFailed(f"{at}: {field}.metricSource.spec.query is required")
    return query.strip()


def _sli(
    docs: _Docs, sli_where: str, sli: dict[str, Any], at: str, objective: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    ratio = sli.get("ratioMetric")
    if isinstance(ratio, dict):
        if "raw" in ratio:
            raise ImportFailed(
                f"{sli_where}: ratioMetric.raw (precomputed ratios) is not supported"
            )
        if ratio.get("counter") is False:
            raise ImportFailed(f"{sli_where}: ratioMetric.counter false (gauges) is not supported")
        out = {"total": _query(docs, sli_where, "ratioMetric.total", ratio.get("total"))}
        if "good" in ratio and "bad" in ratio:
            raise ImportFailed(f"{sli_where}: ratioMetric has both good and bad; give one")
        which = "good" if "good" in ratio else "bad"
        out[which] = _query(docs, sli_where, f"ratioMetric.{which}", ratio.get(which))
        return "prometheus", {"ratio": out}
    threshold = sli.get("thresholdMetric")
    if isinstance(threshold, dict):
        query = _query(docs, sli_where, "thresholdMetric", threshold)
        match = _HISTOGRAM.match(query)
        if match is None:
            raise ImportFailed(
                f"{sli_where}: thresholdMetric query {query!r} is not a histogram metric; ninefold "
                "counts requests under a threshold from histogram buckets (give the histogram "
                'name, e.g. http_request_duration_seconds_bucket{job="api"})'
            )
        op, value = objective.get("op"), objective.get("value")
        if op not in ("lt", "lte") or not isinstance(value, int | float) or value <= 0:
            raise ImportFailed(
                f"{at}: a threshold objective needs op lt or lte and a positive value "
                f"(got op {op!r}, value {value!r})"
            )
        latency = {"histogram": match.group(1), "threshold": float(value)}
        if match.group(2):
            latency["selector"] = match.group(2).strip()
        return "prometheus", {"latency": latency}
    raise ImportFailed(f"{sli_where}: needs ratioMetric or thresholdMetric")


def _window(where: str, windows: Any) -> dict[str, Any] | None:
    if windows is None:
        return None
    if not isinstance(windows, list) or len(windows) != 1 or not isinstance(windows[0], dict):
        raise ImportFailed(f"{where}: spec.timeWindow must be a list with one time window")
    window = windows[0]
    duration = str(window.get("duration", ""))
    if window.get("isRolling", False):
        match = re.fullmatch(r"(\d+)([mhdw])", duration)
        if match is None:
            raise ImportFailed(
                f"{where}: spec.timeWindow[0].duration {duration!r} is not supported for a "
                "rolling window (use minutes, hours, days or weeks, e.g. 28d)"
            )
        return {"rolling": duration}
    if duration not in _CALENDAR:
        raise ImportFailed(
            f"{where}: spec.timeWindow[0].duration {duration!r} is not supported for a calendar "
            "window (use 1w, 1M or 1Q)"
        )
    calendar = window.get("calendar") or {}
    out = {"calendar": _CALENDAR[duration]}
    if isinstance(calendar, dict) and calendar.get("timeZone"):
        out["timezone"] = str(calendar["timeZone"])
    return out


def _budgeting(where: str, at: str, method: Any, objective: dict[str, Any]) -> dict[str, Any]:
    if method in (None, "Occurrences"):
        return {"budgeting": "occurrences"}
    if method != "Timeslices":
        raise ImportFailed(
            f"{where}: spec.budgetingMethod {method!r} is not supported (Occurrences, Timeslices)"
        )
    target = objective.get("timeSliceTarget")
    window = objective.get("timeSliceWindow", "1m")
    if isinstance(window, int | float):
        window = f"{int(window)}s"
    if target is None:
        raise ImportFailed(f"{at}: timeSliceTarget is required for Timeslices budgeting")
    return {"budgeting": "timeslices", "timeslice": {"length": str(window), "target": target}}


def _alerting(docs: _Docs, where: str, policies: Any, warn: list[str]) -> dict[str, Any] | None:
    if not policies:
        return None
    if not isinstance(policies, list):
        raise ImportFailed(f"{where}: spec.alertPolicies must be a list")
    severities: set[str] = set()
    for index, item in enumerate(policies):
        at = f"{where}: spec.alertPolicies[{index}]"
        if isinstance(item, dict) and item.get("alertPolicyRef"):
            at, policy = docs.ref("AlertPolicy", str(item["alertPolicyRef"]), at, "alertPolicyRef")
        elif isinstance(item, dict) and item.get("kind") == "AlertPolicy":
            policy = item
        else:
            raise ImportFailed(f"{at}: expected an inline AlertPolicy or an alertPolicyRef")
        for c_index, cond in enumerate(get(policy, "spec.conditions", at, list) or []):
            if isinstance(cond, dict) and cond.get("conditionRef"):
                _, cond = docs.ref("AlertCondition", str(cond["conditionRef"]), at, "conditionRef")
            severity = get(cond, "spec.severity", f"{at}: spec.conditions[{c_index}]", str)
            severities.add(str(severity or "page").lower())
    page = bool(severities & _PAGE_SEVERITIES)
    ticket = bool(severities & _TICKET_SEVERITIES)
    if not page and not ticket:
        warn.append(f"{where}: alert severities {sorted(severities)} not recognised; paging kept")
        page = True
    warn.append(
        f"{where}: alert policies mapped to ninefold multiwindow burn-rate alerts "
        f"(page: {page}, ticket: {ticket}); their own conditions are not copied"
    )
    return {"page": page, "ticket": ticket}
