"""The ``status_page`` key of catalog YAML: snapshots for ``ninefold apply``'s diff, the write
and the export (called by ``ninefold.catalog.flows``).

Three kinds take part in the diff: ``status_page`` (one object named ``page``),
``status_group`` and ``status_component`` (by name). Groups are the distinct ``group`` values of
the components, in order of first appearance; positions follow the YAML order. A component keeps
its id, creation time and manual override across applies.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ninefold.catalog.loader import Catalog
from ninefold.catalog.models import Service
from ninefold.statuspage import store
from ninefold.statuspage.models import StatusComponent, StatusComponentGroup, StatusPageRow

KINDS = ("status_page", "status_group", "status_component")
PAGE = "page"

Snapshot = dict[str, dict[str, dict[str, Any]]]


def desired(catalog: Catalog) -> Snapshot:
    """The three kinds as the YAML wants them (without ``managed``)."""
    out: Snapshot = {kind: {} for kind in KINDS}
    if not catalog.status_page:
        return out
    spec = catalog.status_page[0].spec
    out["status_page"][PAGE] = {
        "title": spec.title,
        "description": spec.description,
        "show_maintenance_reason": spec.show_maintenance_reason,
    }
    for position, comp in enumerate(spec.components):
        if comp.group is not None and comp.group not in out["status_group"]:
            out["status_group"][comp.group] = {"position": len(out["status_group"])}
        out["status_component"][comp.name] = {
            "description": comp.description,
            "services": sorted(set(comp.services)),
            "group": comp.group,
            "position": position,
        }
    return out


def current(session: Session) -> Snapshot:
    """The three kinds as stored (with ``managed``)."""
    out: Snapshot = {kind: {} for kind in KINDS}
    row = store.page(session)
    if row is not None:
        out["status_page"][PAGE] = {
            "title": row.title,
            "description": row.description,
            "show_maintenance_reason": row.show_maintenance_reason,
            "managed": row.managed,
        }
    for group in store.groups(session):
        out["status_group"][group.name] = {"position": group.position, "managed": group.managed}
    for comp in store.components(session):
        out["status_component"][comp.name] = {
            "description": comp.description,
            "services": sorted(s.name for s in comp.services),
            "group": comp.group.name if comp.group else None,
            "position": comp.position,
            "managed": comp.managed,
        }
    return out


def rows(session: Session) -> dict[str, dict[str, Any]]:
    """Stored objects by kind and name (what the catalog apply deletes from)."""
    page = store.page(session)
    return {
        "status_page": {PAGE: page} if page is not None else {},
        "status_group": {g.name: g for g in store.groups(session)},
        "status_component": {c.name: c for c in store.components(session)},
    }


def write(
    session: Session,
    wanted: Snapshot,
    touched: set[tuple[str, str]],
    services: dict[str, Service],
    now: datetime,
) -> None:
    """Create or update the touched page, groups and components (managed)."""
    for values in wanted["status_page"].values():
        if ("status_page", PAGE) in touched:
            page = store.page(session) or StatusPageRow(id=store.PAGE_ID, created_at=now)
            page.title = values["title"]
            page.description = values["description"]
            page.show_maintenance_reason = values["show_maintenance_reason"]
            page.managed = True
            page.updated_at = now
            session.add(page)
    groups = {g.name: g for g in store.groups(session)}
    for name, values in wanted["status_group"].items():
        if ("status_group", name) in touched:
            group = groups.get(name) or StatusComponentGroup(name=name, created_at=now)
            group.position = values["position"]
            group.managed = True
            group.updated_at = now
            groups[name] = group
            session.add(group)
    session.flush()
    existing = {c.name: c for c in store.components(session)}
    for name, values in wanted["status_component"].items():
        if ("status_component", name) not in touched:
            continue
        comp = existing.get(name) or StatusComponent(name=name, created_at=now, services=[])
        comp.description = values["description"]
        comp.position = values["position"]
        comp.group = groups[values["group"]] if values["group"] is not None else None
        comp.services = [services[s] for s in values["services"]]
        comp.managed = True
        comp.updated_at = now
        session.add(comp)
    session.flush()


def export(session: Session) -> dict[str, Any]:
    """The ``status_page`` mapping of the YAML export (empty when there is no page)."""
    page = store.page(session)
    if page is None:
        return {}
    out: dict[str, Any] = {"title": page.title}
    if page.description:
        out["description"] = page.description
    if page.show_maintenance_reason:
        out["show_maintenance_reason"] = True
    comps = []
    for comp in store.components(session):
        item: dict[str, Any] = {"name": comp.name}
        if comp.description:
            item["description"] = comp.description
        item["services"] = [s.name for s in comp.services]
        if comp.group is not None:
            item["group"] = comp.group.name
        comps.append(item)
    if comps:
        out["components"] = comps
    return out
