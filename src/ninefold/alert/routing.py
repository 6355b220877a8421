"""Alertmanager's routing tree and aggregation-group timing, as pure functions.

:func:`parse_route` builds a tree from the ``route:`` mapping of an Alertmanager configuration
(``receiver``, ``matchers``/``match``/``match_re``, ``continue``, ``group_by`` incl. ``...``,
``group_wait``, ``group_interval``, ``repeat_interval``, ``mute_time_intervals``,
``active_time_intervals``, ``routes``). Unset fields are inherited from the parent; the root
inherits Alertmanager's defaults (30s, 5m, 4h, no grouping). :func:`match_routes` walks the tree
depth first, left to right, like ``dispatch.Route.Match``.

Timing follows ``dispatch/group.go`` and the notification pipeline's dedup stage: a new group
flushes ``group_wait`` after its first alert (at once when that alert started more than
``group_wait`` ago), then every ``group_interval``; a flush notifies when something changed,
otherwise only once ``repeat_interval`` has passed since the last notification. Times are
passed in; nothing here reads a clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ninefold.alert.fingerprint import group_key, group_labels
from ninefold.alert.matchers import (
    CONFIG_LABEL_NAME,
    Matcher,
    format_matchers,
    from_match_maps,
    matches,
    parse_config_matchers,
    sort_matchers,
)

DEFAULT_GROUP_WAIT = timedelta(seconds=30)
DEFAULT_GROUP_INTERVAL = timedelta(minutes=5)
DEFAULT_REPEAT_INTERVAL = timedelta(hours=4)

_ROUTE_KEYS = frozenset(
    {
        "receiver",
        "group_by",
        "match",
        "match_re",
        "matchers",
        "continue",
        "routes",
        "group_wait",
        "group_interval",
        "repeat_interval",
        "mute_time_intervals",
        "active_time_intervals",
        "suppress_dependents",
    }
)
_DURATION = re.compile(
    r"(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?"
)
_DURATION_UNITS = (
    timedelta(days=365),
    timedelta(weeks=1),
    timedelta(days=1),
    timedelta(hours=1),
    timedelta(minutes=1),
    timedelta(seconds=1),
    timedelta(milliseconds=1),
)


def parse_go_duration(text: str) -> timedelta:
    """Parse a Prometheus duration (``0``, ``30s``, ``1h30m``, ``500ms``, ``1y``); raise ValueError."""
    if text == "0":
        return timedelta(0)
    found = _DURATION.fullmatch(text) if isinstance(text, str) else None
    if not text or found is None:
        raise ValueError(f"not a valid duration string: {text!r} (e.g. 30s, 5m, 1h30m)")
    return sum(
        (unit * int(n) for unit, n in zip(_DURATION_UNITS, found.groups(), strict=True) if n),
        timedelta(0),
    )


@dataclass(frozen=True)
class RouteOpts:
    """The effective settings of a route after inheritance."""

    receiver: str
    group_by: tuple[str, ...] = ()
    group_by_all: bool = False
    group_wait: timedelta = DEFAULT_GROUP_WAIT
    group_interval: timedelta = DEFAULT_GROUP_INTERVAL
    repeat_interval: timedelta = DEFAULT_REPEAT_INTERVAL
    mute_time_intervals: tuple[str, ...] = ()
    active_time_intervals: tuple[str, ...] = ()
    suppress_dependents: bool = True
    """ninefold only: hold back alerts of a service whose dependency has a firing page."""


@dataclass(frozen=True)
class Route:
    """One node of the routing tree."""

    opts: RouteOpts
    matchers: tuple[Matcher, ...]
    continue_: bool
    routes: tuple[Route, ...]
    key: str
    id: str
    path: tuple[int, ...]

    def walk(self) -> Iterable[Route]:
        """This route and all descendants, depth first."""
        yield self
        for child in self.routes:
            yield from child.walk()


@dataclass(frozen=True)
class RouteMatch:
    """A route an alert ends at, with its effective settings."""

    route: Route

    @property
    def opts(self) -> RouteOpts:
        """Effective settings of the matched route."""
        return self.route.opts

    @property
    def receiver(self) -> str:
        """The receiver this alert is sent to."""
        return self.route.opts.receiver

    def group_labels(self, labels: Mapping[str, str]) -> dict[str, str]:
        """The alert's labels that define its group on this route."""
        return group_labels(labels, self.opts.group_by, group_by_all=self.opts.group_by_all)

    def group_key(self, labels: Mapping[str, str]) -> str:
        """Alertmanager's group key for the alert on this route."""
        return group_key(self.route.key, self.group_labels(labels))


def _durations(node: Mapping[str, Any], where: str) -> dict[str, timedelta]:
    result: dict[str, timedelta] = {}
    for name in ("group_wait", "group_interval", "repeat_interval"):
        if node.get(name) is None:
            continue
        try:
            result[name] = parse_go_duration(node[name])
        except ValueError as exc:
            raise ValueError(f"{where}.{name}: {exc}") from None
    for name in ("group_interval", "repeat_interval"):
        if name in result and result[name] == timedelta(0):
            raise ValueError(f"{where}.{name} cannot be zero")
    return result


def _group_by(node: Mapping[str, Any], where: str) -> tuple[tuple[str, ...] | None, bool]:
    raw = node.get("group_by")
    if raw is None:
        return None, False
    if isinstance(raw, str) or not isinstance(raw, Sequence):
        raise ValueError(f"{where}.group_by must be a list of label names")
    names: list[str] = []
    wildcard = False
    for item in raw:
        if item == "...":
            wildcard = True
        elif not isinstance(item, str) or not CONFIG_LABEL_NAME.fullmatch(item):
            raise ValueError(f"{where}.group_by: invalid label name {item!r}")
        elif item in names:
            raise ValueError(f"{where}.group_by: duplicated label {item!r}")
        else:
            names.append(item)
    if wildcard and names:
        raise ValueError(f"{where}.group_by: cannot have wildcard '...' and other labels together")
    # As in Alertmanager, an empty list leaves the inherited grouping in place.
    return (tuple(sorted(names)) if names else None), wildcard


def _names(node: Mapping[str, Any], key: str, where: str) -> tuple[str, ...] | None:
    raw = node.get(key)
    if raw is None:
        return None
    if isinstance(raw, str) or not isinstance(raw, Sequence):
        raise ValueError(f"{where}.{key} must be a list of names")
    if not all(isinstance(x, str) for x in raw):
        raise ValueError(f"{where}.{key} must contain only strings")
    return tuple(raw)


def _build(
    node: Any, parent: RouteOpts, parent_key: str | None, path: tuple[int, ...], where: str
) -> Route:
    if not isinstance(node, Mapping):
        raise ValueError(f"{where} must be a mapping")
    unknown = sorted(set(node) - _ROUTE_KEYS)
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {', '.join(map(str, unknown))}")
    receiver = node.get("receiver") or parent.receiver
    if not isinstance(receiver, str):
        raise ValueError(f"{where}.receiver must be a string")
    cont = node.get("continue", False)
    if not isinstance(cont, bool):
        raise ValueError(f"{where}.continue must be true or false")
    suppress = node.get("suppress_dependents", parent.suppress_dependents)
    if not isinstance(suppress, bool):
        raise ValueError(f"{where}.suppress_dependents must be true or false")
    group_by, wildcard = _group_by(node, where)
    times = _durations(node, where)
    mute = _names(node, "mute_time_intervals", where)
    active = _names(node, "active_time_intervals", where)
    opts = RouteOpts(
        receiver=receiver,
        group_by=parent.group_by if group_by is None else group_by,
        group_by_all=(parent.group_by_all or wildcard) if group_by is None else False,
        group_wait=times.get("group_wait", parent.group_wait),
        group_interval=times.get("group_interval", parent.group_interval),
        repeat_interval=times.get("repeat_interval", parent.repeat_interval),
        # Time intervals are not inherited in Alertmanager: each route names its own.
        mute_time_intervals=mute or (),
        active_time_intervals=active or (),
        suppress_dependents=suppress,
    )
    for kind in ("match", "match_re"):
        if node.get(kind) is not None and not isinstance(node[kind], Mapping):
            raise ValueError(f"{where}.{kind} must be a mapping of label name to value")
    try:
        found = from_match_maps(node.get("match"), node.get("match_re"))
        found += parse_config_matchers(node.get("matchers") or [])
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    ordered = tuple(sort_matchers(found))
    key = (
        format_matchers(ordered)
        if parent_key is None
        else f"{parent_key}/{format_matchers(ordered)}"
    )
    children_raw = node.get("routes") or []
    if isinstance(children_raw, str) or not isinstance(children_raw, Sequence):
        raise ValueError(f"{where}.routes must be a list")
    children = tuple(
        _build(child, opts, key, (*path, i), f"{where}.routes[{i}]")
        for i, child in enumerate(children_raw)
    )
    route_id = key if not path else f"{key}/{path[-1]}"
    return Route(opts, ordered, cont, children, key, route_id, path)


def parse_route(node: Mapping[str, Any]) -> Route:
    """Build the routing tree from the ``route:`` mapping of an Alertmanager config."""
    if not isinstance(node, Mapping):
        raise ValueError("route must be a mapping")
    if not node.get("receiver"):
        raise ValueError("route: root route must specify a default receiver")
    if node.get("match") or node.get("match_re") or node.get("matchers"):
        raise ValueError("route: root route must not have any matchers")
    if node.get("continue"):
        raise ValueError("route: cannot have continue in root route")
    if node.get("mute_time_intervals") or node.get("active_time_intervals"):
        raise ValueError("route: root route must not have any mute or active time intervals")
    return _build(node, RouteOpts(receiver=""), None, (), "route")


def parse_config(config: Mapping[str, Any]) -> Route:
    """Build the tree from a whole Alertmanager config, checking that receivers exist."""
    if not isinstance(config, Mapping) or "route" not in config:
        raise ValueError("config: no route provided")
    tree = parse_route(config["route"])
    if "receivers" in config:
        receivers = config["receivers"] or []
        names = {r.get("name") for r in receivers if isinstance(r, Mapping)}
        for route in tree.walk():
            if route.opts.receiver not in names:
                raise ValueError(f"undefined receiver {route.opts.receiver!r} used in route")
    return tree


def _match(route: Route, labels: Mapping[str, str]) -> list[Route]:
    if not matches(route.matchers, labels):
        return []
    found: list[Route] = []
    for child in route.routes:
        below = _match(child, labels)
        found += below
        if below and not child.continue_:
            break
    return found or [route]


def match_routes(tree: Route, labels: Mapping[str, str]) -> list[RouteMatch]:
    """The routes an alert ends at, in tree order; the root when no child matches."""
    return [RouteMatch(route) for route in _match(tree, labels)]


def receivers(tree: Route, labels: Mapping[str, str]) -> list[str]:
    """Receiver names for a label set, as ``amtool config routes test`` prints them."""
    return [m.receiver for m in match_routes(tree, labels)]


# --- aggregation-group timing --------------------------------------------------------------


def flushes_on_insert(
    opts: RouteOpts, *, starts_at: datetime, received_at: datetime, has_flushed: bool
) -> bool:
    """Whether an alert arriving in a not yet flushed group triggers an immediate flush.

    Alertmanager flushes at once when the alert started more than ``group_wait`` ago (for
    example after a restart), instead of waiting.
    """
    return not has_flushed and starts_at + opts.group_wait < received_at


def next_flush(
    opts: RouteOpts,
    *,
    created_at: datetime,
    last_flush: datetime | None = None,
    first_starts_at: datetime | None = None,
) -> datetime:
    """When a group flushes next: ``group_wait`` after creation, then every ``group_interval``.

    ``created_at`` is when the group's first alert arrived, ``first_starts_at`` that alert's
    ``startsAt``; an old alert makes the first flush immediate (see :func:`flushes_on_insert`).
    """
    if last_flush is not None:
        return last_flush + opts.group_interval
    if first_starts_at is not None and flushes_on_insert(
        opts, starts_at=first_starts_at, received_at=created_at, has_flushed=False
    ):
        return created_at
    return created_at + opts.group_wait


def needs_notification(
    *,
    firing: Iterable[int],
    resolved: Iterable[int],
    last_firing: Iterable[int] | None,
    last_resolved: Iterable[int] = (),
    last_notified: datetime | None,
    now: datetime,
    repeat_interval: timedelta,
    send_resolved: bool = True,
) -> bool:
    """Whether a flush sends a notification (Alertmanager's dedup stage).

    ``firing``/``resolved`` are the alert fingerprints of the group at this flush and
    ``last_firing``/``last_resolved`` those of the last notification (``None`` if never
    notified). New firing alerts always notify; all alerts resolved notifies (so the receiver
    can clear them); newly resolved ones notify when ``send_resolved``; otherwise a flush
    repeats the notification once ``repeat_interval`` has passed. Alertmanager compares the
    repeat deadline strictly against its wall clock, so with jitter a repeat often slips to
    the following flush; here a flush exactly at the deadline repeats, deterministically.
    """
    firing_set, resolved_set = set(firing), set(resolved)
    if last_firing is None or last_notified is None:
        return bool(firing_set)
    last_firing_set = set(last_firing)
    if not firing_set <= last_firing_set:
        return True
    if not firing_set:
        return bool(last_firing_set)
    if send_resolved and not resolved_set <= set(last_resolved):
        return True
    return now >= last_notified + repeat_interval


def next_repeat(opts: RouteOpts, *, last_flush: datetime, last_notified: datetime) -> datetime:
    """The first flush at or after ``last_notified + repeat_interval``: when an unchanged group
    is notified again (flushes happen every ``group_interval`` from ``last_flush``)."""
    due = last_notified + opts.repeat_interval
    if last_flush >= due:
        return last_flush + opts.group_interval
    steps = -((last_flush - due) // opts.group_interval)  # ceiling division of timedeltas
    return last_flush + steps * opts.group_interval
