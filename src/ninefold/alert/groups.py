"""Aggregation groups in the database: Alertmanager's group_wait/group_interval/repeat_interval.

Each route an alert matches puts it in one group per receiver and group key (the values of the
route's ``group_by`` labels). A group's first flush is ``group_wait`` after it opens (at once
for ``group_wait: 0s`` or an alert that started longer ago than that); later changes flush at
most every ``group_interval``; an unchanged firing group is notified again each
``repeat_interval``. A flush notifies only when :func:`routing.needs_notification` says so, so
re-sent alerts never page twice. Flushes due now run inline, in the transaction that stored the
alert; later ones run in the engine's pager tick (:func:`flush_due`).

At a flush, firing alerts that should not page are held back and marked
(:attr:`Alert.suppression`): silenced, snoozed, inhibited, under a maintenance window of their
service, or — where the route keeps ``suppress_dependents`` on — of a service whose dependency
(direct or transitive, from the catalog) has a firing, unsuppressed critical alert. Those are
grouped under that alert and not paged separately.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from ninefold.alert import bulk, store
from ninefold.alert.inhibit import InhibitRule, inhibiting_source
from ninefold.alert.models import Alert, AlertGroup, AlertGroupMember
from ninefold.alert.routing import (
    Route,
    RouteMatch,
    RouteOpts,
    match_routes,
    needs_notification,
    next_flush,
    next_repeat,
)
from ninefold.alert.silence import Silence, silenced_by


def labels_of(alert: Alert) -> dict[str, str]:
    """An alert's labels as strings."""
    return {k: str(v) for k, v in alert.labels.items()}


def _hash(route_id: str, receiver: str, key: str) -> str:
    return hashlib.sha256(f"{route_id}\x00{receiver}\x00{key}".encode()).hexdigest()


def _seconds(value: timedelta) -> int:
    return int(value.total_seconds())


def opts_of(group: AlertGroup) -> RouteOpts:
    """The timers the group was opened with."""
    return RouteOpts(
        receiver=group.receiver,
        group_wait=timedelta(seconds=group.group_wait_s),
        group_interval=timedelta(seconds=group.group_interval_s),
        repeat_interval=timedelta(seconds=group.repeat_interval_s),
    )


def _schedule(group: AlertGroup, now: datetime) -> None:
    """Something changed in ``group``: flush at the next moment its timers allow."""
    if group.last_flush_at is None:
        return  # the first flush (group_wait) is already scheduled
    due = max(now, group.last_flush_at + timedelta(seconds=group.group_interval_s))
    if group.next_flush_at is None or due < group.next_flush_at:
        group.next_flush_at = due


@dataclass
class Assigned:
    """Groups touched by new alerts, and the full membership of those opened just now."""

    groups: list[AlertGroup]
    fresh: dict[int, list[int]]
    """Alert ids of each group opened just now (all its members)."""


def assign(
    session: Session,
    *,
    created: Sequence[store.AlertHead],
    tree: Route,
    now: datetime,
) -> Assigned:
    """Put new alerts in their groups (opening groups as needed, in one batched INSERT)."""
    wanted: dict[str, tuple[RouteMatch, dict[str, str], list[store.AlertHead]]] = {}
    for alert in created:
        labels = alert.labels
        for match in match_routes(tree, labels):
            key = match.group_key(labels)
            h = _hash(match.route.id, match.receiver, key)
            entry = wanted.setdefault(h, (match, match.group_labels(labels), []))
            entry[2].append(alert)
    existing = store.open_groups_by_hash(session, hashes=list(wanted))
    opened: list[tuple[AlertGroup, list[store.AlertHead]]] = []
    kept: list[tuple[AlertGroup, list[store.AlertHead]]] = []
    for h, (match, glabels, alerts) in wanted.items():
        group = existing.get(h)
        if group is None:
            opts = match.opts
            first = min(a.starts_at for a in alerts)
            group = AlertGroup(
                group_hash=h,
                route_id=match.route.id,
                receiver=match.receiver,
                group_labels=glabels,
                status="open",
                group_wait_s=_seconds(opts.group_wait),
                group_interval_s=_seconds(opts.group_interval),
                repeat_interval_s=_seconds(opts.repeat_interval),
                next_flush_at=next_flush(opts, created_at=now, first_starts_at=first),
                last_resolved=[],
                notify_count=0,
                created_at=now,
            )
            opened.append((group, alerts))
        else:
            _schedule(group, now)
            kept.append((group, alerts))
    if opened:
        session.add_all(g for g, _ in opened)
        session.flush()
    members = [
        {"group_id": g.id, "alert_id": a.id, "added_at": now}
        for g, alerts in (*opened, *kept)
        for a in alerts
    ]
    bulk.insert_rows(session, cast(Table, AlertGroupMember.__table__), members)
    return Assigned(
        groups=[g for g, _ in (*opened, *kept)],
        fresh={g.id: [a.id for a in alerts] for g, alerts in opened},
    )


def alert_changed(session: Session, *, alert_ids: Sequence[int], now: datetime) -> None:
    """Alerts were resolved, snoozed or unsnoozed: their groups flush as soon as allowed."""
    for group in store.open_groups_of(session, alert_ids=alert_ids):
        _schedule(group, now)


class MuteContext:
    """What decides whether a firing alert pages, for one batch of flushes.

    Silences and maintenance windows are read at once (small); the dependency graph and the
    pages on dependencies only when an alert with a service is checked, and then only for the
    services it depends on, so intake does not scan every firing alert.
    """

    def __init__(
        self, session: Session, *, now: datetime, inhibit_rules: Sequence[InhibitRule]
    ) -> None:
        self.session = session
        self.now = now
        self.inhibit_rules = inhibit_rules
        self.silences: list[Silence] = store.active_silences(session, now=now)
        self.maintenance: Mapping[int, int] = store.services_in_maintenance(session, now=now)
        """service id → maintenance window id, for services under maintenance now."""
        self.firing_labels: list[dict[str, str]] = (
            store.firing_labels(session) if inhibit_rules else []
        )
        self._dependencies: dict[int, tuple[int, ...]] | None = None
        self._paging: dict[int, int | None] = {}
        self._names: dict[int, str] | None = None

    def dependencies(self, service_id: int) -> tuple[int, ...]:
        """The services ``service_id`` depends on, directly or transitively."""
        if self._dependencies is None:
            self._dependencies = _transitive(store.dependency_edges(self.session))
        return self._dependencies.get(service_id, ())

    def paging(self, service_id: int) -> int | None:
        """A firing, critical, unsuppressed alert on ``service_id``, if any."""
        if service_id not in self._paging:
            self._paging[service_id] = store.paging_alert_of(self.session, service_id=service_id)
        return self._paging[service_id]

    def service_name(self, service_id: int) -> str:
        """A service's name (for the suppression record)."""
        if self._names is None:
            self._names = store.service_names(self.session)
        return self._names.get(service_id, str(service_id))


def load_mute_context(
    session: Session, *, now: datetime, inhibit_rules: Sequence[InhibitRule]
) -> MuteContext:
    """Read what mutes alerts at ``now`` (silences, maintenance; the rest on demand)."""
    return MuteContext(session, now=now, inhibit_rules=inhibit_rules)


def _transitive(edges: Iterable[tuple[int, int]]) -> dict[int, tuple[int, ...]]:
    direct: dict[int, set[int]] = {}
    for src, dst in edges:
        direct.setdefault(src, set()).add(dst)
    out: dict[int, tuple[int, ...]] = {}
    for start in direct:
        seen: set[int] = set()
        todo = list(direct[start])
        while todo:
            s = todo.pop()
            if s in seen or s == start:
                continue
            seen.add(s)
            todo.extend(direct.get(s, ()))
        out[start] = tuple(sorted(seen))
    return out


def suppression_of(alert: Alert, ctx: MuteContext, *, dependents: bool) -> dict[str, Any] | None:
    """Why ``alert`` (firing) must not page now, or None when it pages."""
    labels = labels_of(alert)
    muting = silenced_by(labels, ctx.silences, ctx.now)
    if muting:
        return {"kind": "silenced", "silences": [s.id for s in muting]}
    if alert.snoozed_until is not None and alert.snoozed_until > ctx.now:
        return {"kind": "snoozed", "until": alert.snoozed_until.isoformat()}
    if alert.service_id is not None and alert.service_id in ctx.maintenance:
        return {"kind": "maintenance", "window": ctx.maintenance[alert.service_id]}
    if ctx.inhibit_rules:
        source = inhibiting_source(labels, ctx.firing_labels, ctx.inhibit_rules)
        if source is not None:
            return {"kind": "inhibited", "by": dict(source)}
    if dependents and alert.service_id is not None:
        for dep in ctx.dependencies(alert.service_id):
            parent = ctx.paging(dep)
            if parent is not None and parent != alert.id:
                return {"kind": "dependency", "service": ctx.service_name(dep), "alert_id": parent}
    return None


@dataclass(frozen=True)
class FlushResult:
    """What one flush decided: notify or not, with the alerts that page and those resolved."""

    group: AlertGroup
    notify: bool
    firing: list[Alert]
    resolved: list[Alert]
    new_firing: list[Alert]
    held: int = 0
    """Firing alerts held back (silenced, snoozed, inhibited …): the group is still live."""


def flush(
    session: Session,
    group: AlertGroup,
    ctx: MuteContext,
    *,
    route: Route | None,
    members: list[Alert] | None = None,
) -> FlushResult:
    """Flush ``group`` at ``ctx.now``: decide whether to notify and set its next timer.

    ``members`` are the group's alerts when the caller knows them (a group opened just now).
    """
    now = ctx.now
    alerts = members if members is not None else store.group_alerts(session, group_id=group.id)
    dependents = route.opts.suppress_dependents if route is not None else True
    firing: list[Alert] = []
    held = 0
    for alert in alerts:
        if alert.status != "firing":
            continue
        reason = suppression_of(alert, ctx, dependents=dependents)
        if reason != alert.suppression:
            alert.suppression = reason
            if reason is not None:
                store.add_event(session, alert=alert, kind="suppressed", at=now, details=reason)
        if reason is None:
            firing.append(alert)
        else:
            held += 1
    resolved = [a for a in alerts if a.status == "resolved"]
    opts = opts_of(group)
    last_firing = group.last_firing
    # With every alert held and none resolved there is nothing to send (Alertmanager's
    # notification pipeline stops on an empty alert list and leaves its log unchanged).
    notify = bool(firing or resolved) and needs_notification(
        firing=[a.id for a in firing],
        resolved=[a.id for a in resolved],
        last_firing=last_firing,
        last_resolved=group.last_resolved or (),
        last_notified=group.last_notified_at,
        now=now,
        repeat_interval=opts.repeat_interval,
    )
    before = set(last_firing or ())
    new_firing = [a for a in firing if a.id not in before]
    group.last_flush_at = now
    if notify:
        group.last_firing = [a.id for a in firing]
        group.last_resolved = [a.id for a in resolved]
        group.last_notified_at = now
        group.notify_count += 1
    if firing:
        assert group.last_notified_at is not None
        group.next_flush_at = next_repeat(
            opts, last_flush=now, last_notified=group.last_notified_at
        )
    elif held:
        group.next_flush_at = now + opts.group_interval  # re-check when the mute ends
    else:
        group.status = "closed"
        group.closed_at = now
        group.next_flush_at = None
    return FlushResult(group, notify, firing, resolved, new_firing, held)


def select_due(session: Session, *, now: datetime, limit: int = 500) -> list[AlertGroup]:
    """Open groups whose next flush is due, oldest first, locked where the database can."""
    stmt = (
        select(AlertGroup)
        .where(AlertGroup.status == "open", AlertGroup.next_flush_at <= now)
        .order_by(AlertGroup.next_flush_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return list(session.scalars(stmt))
