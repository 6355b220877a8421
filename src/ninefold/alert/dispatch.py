"""From stored alerts to queued notifications: route, pick receivers' channels, enqueue.

The routing file uses Alertmanager's ``route`` tree (matchers, continue, group_by …) with
ninefold receivers that name notification channels::

    route:
      receiver: ops
      routes:
        - matchers: ['severity="critical"']
          receiver: web-oncall
    receivers:
      - name: ops
        channels: [ops-webhook]
      - name: web-oncall
        channels: [web-slack, web-email]

Notifications are queued in the same transaction that stored the alert (the outbox), one per
alert, kind (page or resolved), receiver and channel; the idempotency key makes a re-sent alert
never queue a second page. Alerts matched by an active silence are not notified (the alert records which silence).
Grouping timers (group_wait …) are not applied yet: every new alert
is notified at once, as with ``group_wait: 0s``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from ninefold.alert import flows, store
from ninefold.alert.flows import Received
from ninefold.alert.models import Alert, Integration
from ninefold.alert.normalize import Incoming
from ninefold.alert.routing import Route, match_routes, parse_config
from ninefold.errors import ConfigError, NotFound
from ninefold.integrations.notify.message import Notification, NotificationKind, NotificationLinks

log = logging.getLogger("ninefold.alert")

_KINDS = {"created": NotificationKind.PAGE, "resolved": NotificationKind.RESOLVED}


@dataclass(frozen=True)
class Routing:
    """A parsed routing file: the route tree and each receiver's channels."""

    tree: Route
    receivers: Mapping[str, tuple[str, ...]]


def parse_routing(data: Any, where: str = "routing") -> Routing:
    """Build Routing from the YAML document; ConfigError names the problem."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: must be a mapping with route and receivers")
    receivers: dict[str, tuple[str, ...]] = {}
    for i, rec in enumerate(data.get("receivers") or []):
        if not isinstance(rec, Mapping) or not isinstance(rec.get("name"), str):
            raise ConfigError(f"{where}: receivers[{i}] needs a name")
        channels = rec.get("channels") or []
        if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
            raise ConfigError(f"{where}: receivers[{i}].channels must be a list of channel names")
        receivers[rec["name"]] = tuple(channels)
    try:
        tree = parse_config(
            {"route": data.get("route"), "receivers": [{"name": n} for n in receivers]}
        )
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return Routing(tree, receivers)


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


def _notification(alert: Alert, kind: NotificationKind, key: str, public_url: str) -> Notification:
    labels = {k: str(v) for k, v in alert.labels.items()}
    return Notification(
        idempotency_key=key,
        kind=kind,
        title=alert.summary,
        summary=str(alert.annotations.get("description") or alert.summary),
        severity=alert.severity,  # type: ignore[arg-type]
        service=alert.service.name if alert.service else labels.get("service", "unknown"),
        occurred_at=alert.resolved_at
        if kind == NotificationKind.RESOLVED and alert.resolved_at
        else alert.starts_at,
        alert_id=str(alert.id),
        labels=labels,
        annotations={k: str(v) for k, v in alert.annotations.items()},
        links=NotificationLinks(view=f"{public_url.rstrip('/')}/api/v1/alerts/{alert.id}"),
    )


def notify(
    session: Session,
    *,
    received: Sequence[Received],
    routing: Routing,
    now: datetime,
    public_url: str,
) -> int:
    """Queue page/resolved notifications for new and resolved alerts; returns how many."""
    from ninefold.alert.silence import silenced_by
    from ninefold.notification.flows import enqueue

    queued = 0
    silences = None
    for r in received:
        kind = _KINDS.get(r.outcome)
        if kind is None or r.alert_id is None:
            continue
        alert = store.get_alert(session, alert_id=r.alert_id)
        labels = {k: str(v) for k, v in alert.labels.items()}
        if silences is None:
            silences = store.active_silences(session, now=now)
        muting = silenced_by(labels, silences, now)
        if muting:
            store.add_event(
                session,
                alert=alert,
                kind="silenced",
                at=now,
                details={"kind": kind.value, "silences": [s.id for s in muting]},
            )
            continue
        for match in match_routes(routing.tree, labels):
            for channel in routing.receivers.get(match.receiver, ()):
                key = f"alert-{alert.id}:{kind.value}:{match.receiver}:{channel}"
                try:
                    enqueue(
                        session,
                        channel=channel,
                        notification=_notification(alert, kind, key, public_url),
                        now=now,
                    )
                    queued += 1
                except NotFound as exc:
                    # The alert is stored either way; the missing channel is on its record.
                    log.error("alert %s: %s", alert.id, exc.message)
                    store.add_event(
                        session,
                        alert=alert,
                        kind="notification_failed",
                        at=now,
                        details={
                            "receiver": match.receiver,
                            "channel": channel,
                            "error": exc.message,
                        },
                    )
    return queued


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
        queued = notify(session, received=received, routing=routing, now=now, public_url=public_url)
    return received, queued


def submit_with_state(
    state: Any, items: Sequence[Incoming], *, integration_id: int | None = None
) -> list[Received]:
    """Store ``items`` in their own transaction through :func:`intake`, then push notifications.

    For engine jobs and API endpoints that hold the app state but no session.
    """
    with state.session_factory() as session, session.begin():
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
