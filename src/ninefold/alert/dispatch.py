"""From stored alerts to notifications and pages: route, group, flush, notify, escalate.

The routing file uses Alertmanager's ``route`` tree (matchers, continue, group_by, group_wait,
group_interval, repeat_interval) and ``inhibit_rules``, with ninefold receivers that name
notification channels and/or an escalation policy::

    route:
      receiver: ops
      group_by: [alertname, service]
      routes:
        - matchers: ['severity="critical"']
          receiver: web-oncall
          group_wait: 0s
    receivers:
      - name: ops
        channels: [ops-webhook]
      - name: web-oncall
        channels: [web-slack]
        escalation_policy: web        # or "owner": the service owner's team policy
    inhibit_rules:
      - source_matchers: ['severity="critical"']
        target_matchers: ['severity="warning"']
        equal: [service]

Alerts are put into aggregation groups (:mod:`ninefold.alert.groups`); a group's flush queues
one notification per channel (the transactional outbox, in the transaction that caused it,
keyed ``group-<id>:<n>:<channel>`` so that nothing is queued twice) and starts the receiver's
escalation for new firing alerts; a group with nothing firing ends its escalation.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from ninefold.alert import flows, groups, store
from ninefold.alert.flows import Received
from ninefold.alert.inhibit import InhibitRule, parse_inhibit_rules
from ninefold.alert.models import Alert, AlertGroup, Integration
from ninefold.alert.normalize import Incoming
from ninefold.alert.routing import Route, parse_config
from ninefold.errors import ConfigError
from ninefold.integrations.notify.message import (
    Notification,
    NotificationKind,
    NotificationLinks,
    Severity,
)

log = logging.getLogger("ninefold.alert")


@dataclass(frozen=True)
class Routing:
    """A parsed routing file: the route tree, each receiver's channels and escalation policy,
    and the inhibition rules."""

    tree: Route
    receivers: Mapping[str, tuple[str, ...]]
    policies: Mapping[str, str] = field(default_factory=dict)
    inhibit_rules: tuple[InhibitRule, ...] = ()


OWNER = "owner"
"""As a receiver's ``escalation_policy``: the policy of the team owning the alert's service."""

DEFAULT_ROUTING_DOC: Mapping[str, Any] = {
    "route": {"receiver": "owner", "group_by": ["alertname", "service"]},
    "receivers": [{"name": "owner", "escalation_policy": OWNER}],
}
"""Without a routing file: group by alert name and service, page the owning team's policy."""


def parse_routing(data: Any, where: str = "routing") -> Routing:
    """Build Routing from the YAML document; ConfigError names the problem."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: must be a mapping with route and receivers")
    unknown = sorted(set(data) - {"route", "receivers", "inhibit_rules"})
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {', '.join(map(str, unknown))}")
    receivers: dict[str, tuple[str, ...]] = {}
    policies: dict[str, str] = {}
    for i, rec in enumerate(data.get("receivers") or []):
        if not isinstance(rec, Mapping) or not isinstance(rec.get("name"), str):
            raise ConfigError(f"{where}: receivers[{i}] needs a name")
        extra = sorted(set(rec) - {"name", "channels", "escalation_policy"})
        if extra:
            raise ConfigError(f"{where}: receivers[{i}]: unknown field(s) {', '.join(extra)}")
        channels = rec.get("channels") or []
        if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
            raise ConfigError(f"{where}: receivers[{i}].channels must be a list of channel names")
        receivers[rec["name"]] = tuple(channels)
        policy = rec.get("escalation_policy")
        if policy is not None:
            if not isinstance(policy, str) or not policy:
                raise ConfigError(f"{where}: receivers[{i}].escalation_policy must be a name")
            policies[rec["name"]] = policy
    try:
        tree = parse_config(
            {"route": data.get("route"), "receivers": [{"name": n} for n in receivers]}
        )
        rules = tuple(parse_inhibit_rules(data.get("inhibit_rules")))
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return Routing(tree, receivers, policies, rules)


def default_routing() -> Routing:
    """The routing used when no routing file is configured."""
    return parse_routing(DEFAULT_ROUTING_DOC, "default routing")


def load_routing(path: Path) -> Routing:
    """Read and parse a routing YAML file."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read routing file: {exc.strerror}") from None
    except YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    return parse_routing(data, str(path))


def group_notification(
    session: Session,
    group: AlertGroup,
    *,
    kind: NotificationKind,
    key: str,
    public_url: str,
    alerts: Sequence[Alert] | None = None,
    now: datetime | None = None,
) -> Notification:
    """The notification for a group: its first alert's details, a count, and every summary.

    Pages carry signed acknowledge/resolve links (when the session knows the signing key, see
    ``create_app``) for the group's first alert: acknowledging it stops the group's escalation.
    """
    if alerts is None:
        members = store.group_alerts(session, group_id=group.id)
        firing = [a for a in members if a.status == "firing" and a.suppression is None]
        alerts = firing or members
    first = alerts[0]
    labels = {k: str(v) for k, v in first.labels.items()}
    many = len(alerts) > 1
    state = "FIRING" if kind != NotificationKind.RESOLVED else "RESOLVED"
    title = f"[{state}:{len(alerts)}] {first.summary}" if many else first.summary
    if many:
        lines = [f"- {a.summary}" for a in alerts[:20]]
        if len(alerts) > 20:
            lines.append(f"… and {len(alerts) - 20} more")
        summary = "\n".join(lines)
        labels = {k: str(v) for k, v in group.group_labels.items()} or labels
    else:
        summary = str(first.annotations.get("description") or first.summary)
    return Notification(
        idempotency_key=key,
        kind=kind,
        title=title[:1024],
        summary=summary,
        severity=_severity(alerts),
        service=first.service.name if first.service else labels.get("service", "unknown"),
        occurred_at=first.resolved_at
        if kind == NotificationKind.RESOLVED and first.resolved_at
        else first.starts_at,
        alert_id=str(first.id),
        labels=labels,
        annotations={k: str(v) for k, v in first.annotations.items()} if not many else {},
        links=_links(session, first, kind, public_url, now),
    )


def _links(
    session: Session, alert: Alert, kind: NotificationKind, public_url: str, now: datetime | None
) -> NotificationLinks:
    from ninefold.alert.links import action_links, view_url

    secret = session.info.get("link_secret")
    if secret and now is not None and kind == NotificationKind.PAGE:
        return action_links(alert.id, secret=secret, public_url=public_url, now=now)
    return NotificationLinks(view=view_url(public_url, alert.id))


_SEVERITY_ORDER = ("critical", "error", "warning", "info")


def _severity(alerts: Sequence[Alert]) -> Severity:
    found = {a.severity for a in alerts}
    return Severity(next((s for s in _SEVERITY_ORDER if s in found), "error"))


def notify(
    session: Session,
    *,
    received: Sequence[Received],
    routing: Routing,
    now: datetime,
    public_url: str,
    items: Sequence[Incoming] | None = None,
) -> int:
    """Put new alerts in their groups and flush the groups due now; returns notifications queued.

    Groups with ``group_wait: 0s`` (or old alerts) flush here, in the transaction that stored
    the alerts; the others flush in the engine's pager tick. ``items`` (what was received)
    spares reading the new alerts' labels back.
    """
    created = [r.alert_id for r in received if r.outcome == "created" and r.alert_id]
    resolved = [r.alert_id for r in received if r.outcome == "resolved" and r.alert_id]
    if not created and not resolved:
        return 0
    heads = _heads(received, items, now) if items is not None else None
    assigned = groups.assign(
        session,
        created=heads or store.alert_heads(session, ids=created),
        tree=routing.tree,
        now=now,
    )
    touched = list(assigned.groups)
    if resolved:
        touched.extend(store.open_groups_of(session, alert_ids=resolved))
    due = {g.id: g for g in touched if g.next_flush_at is not None and g.next_flush_at <= now}
    return flush_groups(
        session,
        batch=list(due.values()),
        routing=routing,
        now=now,
        public_url=public_url,
        fresh=assigned.fresh,
    )


def _heads(
    received: Sequence[Received], items: Sequence[Incoming], now: datetime
) -> list[store.AlertHead]:
    """Grouping data of the alerts created by ``items``: the last labels sent for a key (what
    the alert holds after in-batch updates) and the first start."""
    last: dict[str, Incoming] = {}
    first: dict[str, Incoming] = {}
    for item in items:
        if item.action == "trigger":
            last[item.dedup_key] = item
            first.setdefault(item.dedup_key, item)
    heads: dict[int, store.AlertHead] = {}
    for r in received:
        if r.outcome == "created" and r.alert_id and r.alert_id not in heads:
            start = first[r.dedup_key].starts_at or now
            heads[r.alert_id] = store.AlertHead(r.alert_id, dict(last[r.dedup_key].labels), start)
    return sorted(heads.values(), key=lambda h: h.id)


def flush_due(session: Session, *, routing: Routing, now: datetime, public_url: str) -> int:
    """Flush every group whose timer is due (the engine's pager tick)."""
    due = groups.select_due(session, now=now)
    return flush_groups(session, batch=due, routing=routing, now=now, public_url=public_url)


def flush_groups(
    session: Session,
    *,
    batch: Sequence[AlertGroup],
    routing: Routing,
    now: datetime,
    public_url: str,
    fresh: Mapping[int, list[int]] | None = None,
) -> int:
    """Flush ``batch``: notify the receivers' channels, start or end escalations.

    ``fresh`` holds the member ids of groups opened in this transaction: they are loaded in
    one query instead of one per group.
    """
    from ninefold.notification.flows import enqueue_many
    from ninefold.oncall.flows import end_escalation, start_escalation

    if not batch:
        return 0
    fresh = {g.id: fresh[g.id] for g in batch if fresh and g.id in fresh}
    loaded = {
        a.id: a
        for a in store.alerts_by_ids(session, ids=[i for ids in fresh.values() for i in ids])
    }
    members = {gid: [loaded[i] for i in ids] for gid, ids in fresh.items()}
    ctx = groups.load_mute_context(session, now=now, inhibit_rules=routing.inhibit_rules)
    routes = {r.id: r for r in routing.tree.walk()}
    queued = 0
    outbox: list[tuple[str, Notification]] = []
    first_alert: dict[str, tuple[AlertGroup, Alert]] = {}
    results = [
        (
            group,
            groups.flush(
                session,
                group,
                ctx,
                route=routes.get(group.route_id),
                members=members.get(group.id),
            ),
        )
        for group in batch
    ]
    for group, result in results:
        if result.notify:
            for channel, note in _notifications(session, result, routing, now, public_url):
                outbox.append((channel, note))
                first_alert[note.idempotency_key] = (group, (result.firing or result.resolved)[0])
    if outbox:
        missing = set(enqueue_many(session, items=outbox, now=now))
        queued += sum(1 for channel, _ in outbox if channel not in missing)
        for channel, note in outbox:
            if channel in missing:
                # The alert is stored either way; the missing channel is on its record.
                group, alert = first_alert[note.idempotency_key]
                error = f"notification channel {channel!r} not found"
                log.error("alert group %s: %s", group.id, error)
                store.add_event(
                    session,
                    alert=alert,
                    kind="notification_failed",
                    at=now,
                    details={"receiver": group.receiver, "channel": channel, "error": error},
                )
    for group, result in results:
        policy = routing.policies.get(group.receiver)
        if policy is not None and result.new_firing:
            queued += start_escalation(
                session,
                group=group,
                policy=policy,
                first=result.new_firing[0],
                now=now,
                public_url=public_url,
            )
        if not result.firing and not result.held:
            end_escalation(session, group_id=group.id, now=now)
    return queued


def _notifications(
    session: Session, result: groups.FlushResult, routing: Routing, now: datetime, public_url: str
) -> list[tuple[str, Notification]]:
    group = result.group
    kind = NotificationKind.PAGE if result.firing else NotificationKind.RESOLVED
    alerts = result.firing or result.resolved
    return [
        (
            channel,
            group_notification(
                session,
                group,
                kind=kind,
                key=f"group-{group.id}:{group.notify_count}:{channel}",
                public_url=public_url,
                alerts=alerts,
                now=now,
            ),
        )
        for channel in routing.receivers.get(group.receiver, ())
    ]


def intake(
    session: Session,
    *,
    items: Sequence[Incoming],
    integration: Integration | None,
    routing: Routing | None,
    now: datetime,
    public_url: str,
) -> tuple[list[Received], int]:
    """Store ``items`` and queue what they should notify, in the caller's transaction.

    The one way alerts enter ninefold, whatever their source (inbound APIs, heartbeats, SLO burn
    alerts, manual alerts). Returns what happened to each item and how many notifications were
    queued; the caller commits, then wakes delivery when that number is not 0.
    """
    received = flows.receive(session, items=items, integration=integration, now=now)
    queued = 0
    if routing is not None:
        queued = notify(
            session,
            received=received,
            routing=routing,
            now=now,
            public_url=public_url,
            items=items,
        )
    return received, queued


def submit_with_state(
    state: Any, items: Sequence[Incoming], *, integration_id: int | None = None
) -> list[Received]:
    """Store ``items`` in their own transaction through :func:`intake`, then push notifications.

    For engine jobs and API endpoints that hold the app state but no session.
    """
    from ninefold.db.engine import write_lock

    with write_lock(state.engine), state.session_factory() as session, session.begin():
        integration = session.get(Integration, integration_id) if integration_id else None
        received, queued = intake(
            session,
            items=items,
            integration=integration,
            routing=state.routing,
            now=state.clock.now(),
            public_url=state.settings.public_url,
        )
    runner = getattr(state, "engine_runner", None)
    if queued and runner is not None:
        runner.wake_delivery()
    return received
