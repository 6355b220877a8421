"""Import a Backstage ``catalog-info.yaml`` (Group, User, System, Component) into ninefold YAML.

Group -> team (``spec.members`` -> users), User -> user (``spec.memberOf`` -> memberships),
System -> the ``system`` of its components, Component -> service (owner, lifecycle, dependsOn,
description, links and annotations for runbook/dashboard/repository, tier from a label or
annotation). Other kinds (API, Resource, Location, Domain, Template) are skipped with a warning.
"""

from __future__ import annotations

import re
from typing import Any

from ninefold.catalog.importers import ImportFailed, get, load_documents, prune, slug, where_of

SKIPPED_KINDS = {"API", "Resource", "Location", "Domain", "Template"}
TIER_KEYS = ("ninefold.io/tier", "tier", "service-tier", "backstage.io/tier")
_NAMED_TIERS = {"critical": 0, "high": 1, "medium": 2, "low": 3}


def parse_ref(ref: str, default_kind: str) -> tuple[str, str]:
    """Split an entity reference ``[kind:][namespace/]name`` into (kind, name), lower-cased kind."""
    text = str(ref).strip()
    kind, _, rest = text.rpartition(":") if ":" in text else (default_kind, "", text)
    name = rest.rpartition("/")[2]
    return kind.lower(), name


def import_backstage(
    text: str, *, source: str = "catalog-info.yaml", warnings: list[str] | None = None
) -> dict[str, Any]:
    """Convert Backstage descriptor YAML (one or many documents) to a ninefold ConfigFile dict."""
    warn = warnings if warnings is not None else []
    users: dict[str, dict[str, Any]] = {}
    teams: dict[str, dict[str, Any]] = {}
    services: dict[str, dict[str, Any]] = {}
    memberships: list[tuple[str, str, str]] = []  # (team, user, where)
    pending: list[tuple[str, dict[str, Any]]] = []
    for number, doc in load_documents(text, source):
        kind = str(doc.get("kind", ""))
        name = get(doc, "metadata.name", f"{source} document {number}", str)
        where = where_of(source, number, kind, name)
        api = str(doc.get("apiVersion", ""))
        if not api.startswith("backstage.io/"):
            raise ImportFailed(f"{where}: apiVersion {api!r} is not a Backstage descriptor")
        if not name:
            raise ImportFailed(f"{where}: metadata.name is required")
        if kind in SKIPPED_KINDS:
            warn.append(f"{where}: kind {kind} has no ninefold equivalent; skipped")
            continue
        if kind == "Group":
            team = _team(doc, where)
            teams[team["name"]] = team
            for ref in get(doc, "spec.members", where, list) or []:
                memberships.append((team["name"], _name(parse_ref(ref, "user")[1], where), where))
        elif kind == "User":
            user = _user(doc, where)
            users[user["name"]] = user
            for ref in get(doc, "spec.memberOf", where, list) or []:
                memberships.append((_name(parse_ref(ref, "group")[1], where), user["name"], where))
        elif kind == "System":
            continue  # a component's spec.system names it; nothing else to keep
        elif kind == "Component":
            pending.append((where, doc))
        else:
            raise ImportFailed(f"{where}: unsupported kind {kind!r}")
    for where, doc in pending:
        svc = _service(doc, where, warn)
        services[svc["name"]] = svc
    for svc in services.values():
        kept = []
        for dep in svc["depends_on"]:
            if dep in services:
                kept.append(dep)
            else:
                warn.append(
                    f"service {svc['name']!r}: dependency {dep!r} is not in this file; dropped"
                )
        svc["depends_on"] = kept
        if svc["owner"] not in teams:
            warn.append(
                f"service {svc['name']!r}: owner group {svc['owner']!r} is not in this file; "
                "created an empty team"
            )
            teams[svc["owner"]] = {"name": svc["owner"], "members": []}
    for team_name, user_name, where in memberships:
        if team_name not in teams:
            warn.append(f"{where}: group {team_name!r} is not in this file; created an empty team")
            teams[team_name] = {"name": team_name, "members": []}
        users.setdefault(user_name, {"name": user_name})
        members = teams[team_name].setdefault("members", [])
        if all(m["user"] != user_name for m in members):
            members.append({"user": user_name})
    config = {
        "users": list(users.values()),
        "teams": list(teams.values()),
        "services": list(services.values()),
    }
    return dict(prune(config))


def _name(value: str, where: str) -> str:
    try:
        return slug(value)
    except ValueError as exc:
        raise ImportFailed(f"{where}: {exc}") from None


def _team(doc: dict[str, Any], where: str) -> dict[str, Any]:
    return {
        "name": _name(doc["metadata"]["name"], where),
        "display_name": get(doc, "spec.profile.displayName", where, str)
        or get(doc, "metadata.title", where, str),
        "description": get(doc, "metadata.description", where, str),
        "contact": {"email": get(doc, "spec.profile.email", where, str)},
        "members": [],
    }


def _user(doc: dict[str, Any], where: str) -> dict[str, Any]:
    return {
        "name": _name(doc["metadata"]["name"], where),
        "display_name": get(doc, "spec.profile.displayName", where, str),
        "email": get(doc, "spec.profile.email", where, str),
    }


def _service(doc: dict[str, Any], where: str, warn: list[str]) -> dict[str, Any]:
    owner_ref = get(doc, "spec.owner", where, str)
    if not owner_ref:
        raise ImportFailed(f"{where}: spec.owner is required (a group that owns the component)")
    owner_kind, owner = parse_ref(owner_ref, "group")
    if owner_kind != "group":
        raise ImportFailed(
            f"{where}: spec.owner {owner_ref!r} is a {owner_kind}; ninefold services are owned by "
            "teams, so use a group as owner"
        )
    annotations = get(doc, "metadata.annotations", where, dict) or {}
    labels = {str(k): str(v) for k, v in (get(doc, "metadata.labels", where, dict) or {}).items()}
    depends: list[str] = []
    for ref in get(doc, "spec.dependsOn", where, list) or []:
        dep_kind, dep = parse_ref(str(ref), "component")
        if dep_kind == "component":
            depends.append(_name(dep, where))
        else:
            warn.append(f"{where}: dependsOn {ref!r} is a {dep_kind}, not a component; dropped")
    component_type = get(doc, "spec.type", where, str)
    if component_type and "type" not in labels:
        labels["type"] = component_type
    system = get(doc, "spec.system", where, str)
    return {
        "name": _name(doc["metadata"]["name"], where),
        "display_name": get(doc, "metadata.title", where, str),
        "tier": _tier(labels, annotations, where),
        "owner": _name(owner, where),
        "description": get(doc, "metadata.description", where, str),
        "lifecycle": get(doc, "spec.lifecycle", where, str),
        "system": parse_ref(system, "system")[1] if system else None,
        "depends_on": depends,
        "links": _links(doc, annotations, where),
        "labels": {k: v for k, v in labels.items() if k not in TIER_KEYS},
    }


def _tier(labels: dict[str, str], annotations: dict[str, Any], where: str) -> int:
    for key in TIER_KEYS:
        raw = annotations.get(key, labels.get(key))
        if raw is None:
            continue
        text = str(raw).strip().lower()
        if text in _NAMED_TIERS:
            return _NAMED_TIERS[text]
        match = re.fullmatch(r"(?:tier[-_ ]?)?([0-3])", text)
        if match is None:
            raise ImportFailed(f"{where}: {key} {raw!r} is not a tier (0-3, tier-1, critical …)")
        return int(match.group(1))
    return 2


def _links(doc: dict[str, Any], annotations: dict[str, Any], where: str) -> dict[str, str | None]:
    links: dict[str, str | None] = {
        "runbook": annotations.get("ninefold.io/runbook") or annotations.get("runbook"),
        "dashboard": annotations.get("ninefold.io/dashboard")
        or annotations.get("grafana/dashboard-selector-url"),
        "repository": None,
    }
    location = str(annotations.get("backstage.io/source-location", ""))
    if location.startswith("url:"):
        links["repository"] = location[4:]
    elif annotations.get("github.com/project-slug"):
        links["repository"] = f"https://github.com/{annotations['github.com/project-slug']}"
    for link in get(doc, "metadata.links", where, list) or []:
        if not isinstance(link, dict) or not link.get("url"):
            continue
        words = f"{link.get('type', '')} {link.get('title', '')} {link.get('icon', '')}".lower()
        for slot, keys in (
            ("runbook", ("runbook", "playbook")),
            ("dashboard", ("dashboard", "grafana")),
            ("repository", ("repo", "source", "github", "gitlab")),
        ):
            if links[slot] is None and any(k in words for k in keys):
                links[slot] = str(link["url"])
                break
    return links
