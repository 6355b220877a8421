"""Import a Sloth ``prometheus/v1`` spec into ninefold YAML.

Event SLIs keep their queries as they are (with ``{{.window}}``) in ``ratio.bad``/``ratio.total``;
a raw SLI's error-ratio query becomes ``ratio.bad`` over a constant total of one per window. Page
and ticket ``disable`` flags and labels are kept; SLI plugins are not supported.
"""

from __future__ import annotations

from typing import Any

from ninefold.catalog.importers import (
    ImportFailed,
    get,
    load_documents,
    owner_team,
    prune,
    slug,
    str_labels,
)

API_VERSION = "prometheus/v1"
# Constant total for raw SLIs: one "event" per evaluation window, so bad/total is the ratio.
RAW_TOTAL = "max_over_time(vector(1)[{{.window}}:1m])"


def import_sloth(
    text: str,
    *,
    source: str = "sloth.yaml",
    owner: str | None = None,
    warnings: list[str] | None = None,
) -> dict[str, Any]:
    """Convert Sloth documents to a ninefold ConfigFile dict.

    The owner team is ``owner``, else the spec's ``owner`` or ``team`` label, else ``unowned``.
    """
    warn = warnings if warnings is not None else []
    teams: dict[str, dict[str, Any]] = {}
    services: dict[str, dict[str, Any]] = {}
    slos: list[dict[str, Any]] = []
    for number, doc in load_documents(text, source):
        where = f"{source} document {number}"
        version = doc.get("version")
        if version != API_VERSION:
            hint = (
                " (Kubernetes PrometheusServiceLevel CRDs: use their spec)" if "spec" in doc else ""
            )
            raise ImportFailed(
                f"{where}: version {version!r} is not supported, only {API_VERSION}{hint}"
            )
        unknown = set(doc) - {"version", "service", "labels", "slos"}
        if unknown:
            raise ImportFailed(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        service_raw = get(doc, "service", where, str)
        if not service_raw:
            raise ImportFailed(f"{where}: service is required")
        service = _slug(service_raw, where)
        labels = str_labels(get(doc, "labels", where, dict))
        team = _slug(owner or labels.get("owner") or labels.get("team") or "unowned", where)
        teams.setdefault(
            team, owner_team(team, "Created by ninefold import sloth: check the owner.")
        )
        services.setdefault(service, {"name": service, "owner": team, "labels": labels})
        items = get(doc, "slos", where, list) or []
        if not items:
            raise ImportFailed(f"{where}: slos needs at least one SLO")
        for index, item in enumerate(items):
            at = f"{where}: slos[{index}]"
            if not isinstance(item, dict):
                raise ImportFailed(f"{at} must be a mapping")
            slos.append(_slo(at, item, service, labels, warn))
    return dict(
        prune({"teams": list(teams.values()), "services": list(services.values()), "slos": slos})
    )


def _slug(value: str, where: str) -> str:
    try:
        return slug(value)
    except ValueError as exc:
        raise ImportFailed(f"{where}: {exc}") from None


def _slo(
    at: str, item: dict[str, Any], service: str, labels: dict[str, str], warn: list[str]
) -> dict[str, Any]:
    unknown = set(item) - {"name", "objective", "description", "labels", "sli", "alerting"}
    if unknown:
        raise ImportFailed(f"{at}: unknown field(s) {', '.join(sorted(unknown))}")
    name = get(item, "name", at, str)
    if not name:
        raise ImportFailed(f"{at}: name is required")
    objective = item.get("objective")
    if not isinstance(objective, int | float) or not 0 < objective < 100:
        raise ImportFailed(
            f"{at}: objective must be a percentage between 0 and 100, not {objective!r}"
        )
    alerting = get(item, "alerting", at, dict) or {}
    page = get(alerting, "page_alert", at, dict) or {}
    ticket = get(alerting, "ticket_alert", at, dict) or {}
    return {
        # Sloth names are unique per service; ninefold's are global
        "name": _slug(f"{service}-{name}", at),
        "service": service,
        "description": get(item, "description", at, str),
        "objective": round(float(objective) / 100, 10),
        "source": "prometheus",
        "sli": _sli(at, get(item, "sli", at, dict), warn),
        "alerting": {
            "page": not bool(page.get("disable", False)),
            "ticket": not bool(ticket.get("disable", False)),
            "page_labels": str_labels({**alerting.get("labels", {}), **page.get("labels", {})}),
            "ticket_labels": str_labels({**alerting.get("labels", {}), **ticket.get("labels", {})}),
        },
        "labels": {**labels, **str_labels(get(item, "labels", at, dict))},
    }


def _sli(at: str, sli: dict[str, Any] | None, warn: list[str]) -> dict[str, Any]:
    if not sli:
        raise ImportFailed(f"{at}: sli is required (events or raw)")
    if "plugin" in sli:
        raise ImportFailed(f"{at}: sli.plugin is not supported; expand the plugin into sli.events")
    events = get(sli, "events", at, dict)
    if events is not None:
        error_query = get(events, "error_query", f"{at}: sli.events", str)
        total_query = get(events, "total_query", f"{at}: sli.events", str)
        if not error_query or not total_query:
            raise ImportFailed(f"{at}: sli.events needs error_query and total_query")
        return {"ratio": {"bad": error_query.strip(), "total": total_query.strip()}}
    raw = get(sli, "raw", at, dict)
    if raw is not None:
        query = get(raw, "error_ratio_query", f"{at}: sli.raw", str)
        if not query:
            raise ImportFailed(f"{at}: sli.raw needs error_ratio_query")
        warn.append(
            f"{at}: raw SLI imported as ratio.bad over a constant total; burn rates and budget "
            "fractions are right, event counts are not meaningful"
        )
        return {"ratio": {"bad": query.strip(), "total": RAW_TOTAL}}
    raise ImportFailed(f"{at}: sli needs events or raw")
