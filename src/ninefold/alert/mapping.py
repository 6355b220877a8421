"""Declarative mapping of any JSON webhook body to ninefold alerts (pure: no I/O).

A generic webhook integration keeps its mapping in ``Integration.config["mapping"]``::

    {
      "items": "alerts[*]",              # optional: where the array of alerts is
      "dedup_key": "fingerprint",        # optional: default is the fingerprint of the labels
      "summary": "annotations.summary",
      "severity": "labels.severity",     # value mapped by severity_map, else by common names
      "severity_map": {"P1": "critical"},
      "default_severity": "error",
      "status": "status",                # optional: without it every item triggers
      "trigger_values": ["firing"], "resolve_values": ["resolved"],
      "acknowledge_values": ["acknowledged"], "default_action": "trigger",
      "labels": {"team": "labels.team"}, "labels_from": "labels",
      "annotations": {"runbook": "annotations.runbook_url"}, "annotations_from": "annotations",
      "details": {"value": "valueString"},
      "starts_at": "startsAt", "generator_url": "generatorURL"
    }

Paths: ``a.b.c`` walks objects; ``a[0]`` (or ``a[-1]``) indexes arrays; ``a["odd.key"]`` names a
key with dots or brackets; a path starting with ``$`` (``$.receiver``) starts at the body's root
instead of at the current item; only ``items`` may end with ``[*]``. A path that leads nowhere
gives "missing"; JSON ``null`` counts as missing.

:func:`parse_mapping` validates a mapping (``MappingError`` names the field);
:func:`apply` turns a body into items, each either a :class:`Mapped` alert or an
:class:`ItemError` naming the item and field; only a body the mapping cannot read at all
(``items`` not an array) raises ``MappingError``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal

from ninefold.alert.fingerprint import fingerprint_hex
from ninefold.alert.normalize import Incoming, severity_of
from ninefold.errors import InvalidInput

Action = Literal["trigger", "acknowledge", "resolve"]

MAX_PATH = 500
MAX_STEPS = 32
MAX_ITEMS = 10_000
MAX_LABELS = 100
MAX_VALUE = 2000
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_NAME = re.compile(r"[^.\[\]]+")
_SEVERITIES = ("critical", "error", "warning", "info")
_ACTIONS: tuple[Action, ...] = ("trigger", "resolve", "acknowledge")
DEFAULT_VALUES: Final[dict[Action, tuple[str, ...]]] = {
    "trigger": ("firing", "trigger", "triggered", "alerting", "alert", "open", "problem"),
    "resolve": ("resolved", "resolve", "ok", "closed", "recovered", "normal", "inactive"),
    "acknowledge": ("acknowledge", "acknowledged", "ack"),
}
_KEYS = {
    "items",
    "dedup_key",
    "summary",
    "severity",
    "severity_map",
    "default_severity",
    "status",
    "trigger_values",
    "resolve_values",
    "acknowledge_values",
    "default_action",
    "labels",
    "labels_from",
    "annotations",
    "annotations_from",
    "details",
    "starts_at",
    "generator_url",
}


class MappingError(ValueError):
    """A mapping (or a body as a whole) that cannot be used; ``field`` names where."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()


@dataclass(frozen=True)
class Path:
    """A parsed path: steps are object keys (str) or array indexes (int)."""

    text: str
    steps: tuple[str | int, ...]
    from_root: bool = False
    each: bool = False  # ends with [*]


def parse_path(text: Any, *, where: str, allow_each: bool = False) -> Path:
    """Parse the dotted path syntax; MappingError names ``where``."""
    if not isinstance(text, str):
        raise MappingError(where, "must be a path string such as data.alert.id")
    src = text.strip()
    if not src:
        raise MappingError(where, "empty path")
    if len(src) > MAX_PATH:
        raise MappingError(where, f"path longer than {MAX_PATH} characters")
    from_root = src.startswith("$")
    i = 0
    after_dot = False  # just read a '.': a name must follow
    need_sep = False  # just read a step: '.', '[' or the end must follow
    if from_root:
        i = 1
        if src[1:2] == ".":
            i, after_dot = 2, True
            if i == len(src):
                raise MappingError(where, f"invalid path {text!r}: nothing after '$.'")
        elif src[1:2] not in ("", "["):
            raise MappingError(where, f"invalid path {text!r}: '$' must be followed by '.' or '['")
    steps: list[str | int] = []
    each = False
    while i < len(src):
        if each:
            raise MappingError(where, f"invalid path {text!r}: '[*]' must come last")
        ch = src[i]
        if ch == "[":
            if after_dot:
                raise MappingError(where, f"invalid path {text!r}: '.[' (write a[0], not a.[0])")
            if src[i + 1 : i + 2] in ('"', "'"):
                quote = src[i + 1]
                end = src.find(quote + "]", i + 2)
                if end < 0:
                    raise MappingError(where, f"invalid path {text!r}: unterminated quoted key")
                steps.append(src[i + 2 : end])
                i = end + 2
            else:
                end = src.find("]", i)
                if end < 0:
                    raise MappingError(where, f"invalid path {text!r}: '[' without ']'")
                inner = src[i + 1 : end].strip()
                if inner == "*":
                    if not allow_each:
                        raise MappingError(
                            where, f"invalid path {text!r}: '[*]' is only allowed in items"
                        )
                    each = True
                elif re.fullmatch(r"-?\d{1,9}", inner):
                    steps.append(int(inner))
                else:
                    raise MappingError(
                        where,
                        f"invalid path {text!r}: [{inner}] is not an index, '*' or a quoted key",
                    )
                i = end + 1
            after_dot, need_sep = False, True
        elif ch == ".":
            if not need_sep:
                raise MappingError(where, f"invalid path {text!r}: empty name before '.'")
            i += 1
            after_dot, need_sep = True, False
            if i == len(src):
                raise MappingError(where, f"invalid path {text!r}: ends with '.'")
        elif ch == "]":
            raise MappingError(where, f"invalid path {text!r}: ']' without '['")
        else:
            if need_sep:
                raise MappingError(where, f"invalid path {text!r}: missing '.' before {ch!r}")
            m = _NAME.match(src, i)
            assert m is not None  # ch is neither '.', '[' nor ']'
            steps.append(m.group(0))
            i = m.end()
            after_dot, need_sep = False, True
        if len(steps) > MAX_STEPS:
            raise MappingError(where, f"path deeper than {MAX_STEPS} steps")
    return Path(text, tuple(steps), from_root, each)


def resolve(path: Path, item: Any, root: Any) -> Any:
    """The value at ``path`` (from ``root`` for ``$`` paths), or MISSING."""
    cur = root if path.from_root else item
    for step in path.steps:
        if isinstance(step, int):
            if not isinstance(cur, list) or not -len(cur) <= step < len(cur):
                return MISSING
            cur = cur[step]
        else:
            if not isinstance(cur, dict) or step not in cur:
                return MISSING
            cur = cur[step]
    return MISSING if cur is None else cur


@dataclass(frozen=True)
class Spec:
    """A validated mapping."""

    items: Path | None = None
    dedup_key: Path | None = None
    summary: Path | None = None
    severity: Path | None = None
    severity_map: Mapping[str, str] = field(default_factory=dict)
    default_severity: str = "error"
    status: Path | None = None
    values: Mapping[Action, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_VALUES))
    default_action: Action | None = None
    labels: Mapping[str, Path] = field(default_factory=dict)
    labels_from: Path | None = None
    annotations: Mapping[str, Path] = field(default_factory=dict)
    annotations_from: Path | None = None
    details: Mapping[str, Path] = field(default_factory=dict)
    starts_at: Path | None = None
    generator_url: Path | None = None


#: The mapping of a webhook integration created without one: ninefold's simple shape
#: ``{"dedup_key", "summary", "severity", "status", "labels", "annotations", "details"}``
#: (or an array of those, or ``{"alerts": [...]}``).
SIMPLE_SHAPE: Final[dict[str, Any]] = {
    "dedup_key": "dedup_key",
    "summary": "summary",
    "severity": "severity",
    "status": "status",
    "default_action": "trigger",
    "labels_from": "labels",
    "annotations_from": "annotations",
    "details": {"details": "details"},
    "starts_at": "starts_at",
    "generator_url": "url",
}


def _paths(raw: Any, where: str, *, names: bool) -> dict[str, Path]:
    if not isinstance(raw, dict):
        raise MappingError(where, "must be an object of name → path")
    if len(raw) > MAX_LABELS:
        raise MappingError(where, f"at most {MAX_LABELS} entries")
    out: dict[str, Path] = {}
    for name, path in raw.items():
        if names and not _LABEL_NAME.match(name):
            raise MappingError(f"{where}.{name}", f"invalid label name {name!r}")
        if not name:
            raise MappingError(where, "empty name")
        out[name] = parse_path(path, where=f"{where}.{name}")
    return out


def _values(raw: Any, where: str) -> tuple[str, ...]:
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(v, str | int | bool) for v in raw):
        raise MappingError(where, "must be a list of strings")
    if len(raw) > 100:
        raise MappingError(where, "at most 100 values")
    return tuple(_text(v).strip().lower() for v in raw)


def parse_mapping(raw: Any, where: str = "mapping") -> Spec:
    """Validate a mapping document; MappingError names the bad field (``mapping.labels.team``)."""
    if not isinstance(raw, dict):
        raise MappingError(where, "must be an object")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise MappingError(
            f"{where}.{unknown[0]}", f"unknown key (known: {', '.join(sorted(_KEYS))})"
        )

    def path(key: str, each: bool = False) -> Path | None:
        if raw.get(key) is None:
            return None
        return parse_path(raw[key], where=f"{where}.{key}", allow_each=each)

    severity_map: dict[str, str] = {}
    if raw.get("severity_map") is not None:
        sm = raw["severity_map"]
        if not isinstance(sm, dict):
            raise MappingError(f"{where}.severity_map", "must be an object of value → severity")
        for k, v in sm.items():
            if v not in _SEVERITIES:
                raise MappingError(
                    f"{where}.severity_map.{k}", f"must be one of {', '.join(_SEVERITIES)}"
                )
            severity_map[k.strip().lower()] = v
    default_severity = raw.get("default_severity", "error")
    if default_severity not in _SEVERITIES:
        raise MappingError(f"{where}.default_severity", f"must be one of {', '.join(_SEVERITIES)}")
    values = dict(DEFAULT_VALUES)
    for action in _ACTIONS:
        key = f"{action}_values"
        if raw.get(key) is not None:
            values[action] = _values(raw[key], f"{where}.{key}")
    seen: dict[str, str] = {}
    for action in _ACTIONS:
        for v in values[action]:
            if v in seen and seen[v] != action:
                raise MappingError(
                    f"{where}.{action}_values",
                    f"{v!r} also means {seen[v]}; remove it from one list",
                )
            seen[v] = action
    default_action = raw.get("default_action")
    if default_action is not None and default_action not in _ACTIONS:
        raise MappingError(f"{where}.default_action", f"must be one of {', '.join(_ACTIONS)}")
    return Spec(
        items=path("items", each=True),
        dedup_key=path("dedup_key"),
        summary=path("summary"),
        severity=path("severity"),
        severity_map=severity_map,
        default_severity=default_severity,
        status=path("status"),
        values=values,
        default_action=default_action,
        labels=_paths(raw.get("labels") or {}, f"{where}.labels", names=True),
        labels_from=path("labels_from"),
        annotations=_paths(raw.get("annotations") or {}, f"{where}.annotations", names=False),
        annotations_from=path("annotations_from"),
        details=_paths(raw.get("details") or {}, f"{where}.details", names=False),
        starts_at=path("starts_at"),
        generator_url=path("generator_url"),
    )


@dataclass(frozen=True)
class Mapped:
    """One alert read from the body."""

    index: int
    action: Action
    dedup_key: str | None  # None: use the labels' fingerprint
    summary: str
    severity: str
    labels: dict[str, str]
    annotations: dict[str, str]
    details: dict[str, Any]
    starts_at: datetime | None
    generator_url: str | None


@dataclass(frozen=True)
class ItemError:
    """Why one item of the body was refused."""

    index: int
    field: str
    message: str


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int) and abs(value) >= 10**300:
        return "(number too large)"
    if isinstance(value, int | float):
        return repr(value)
    try:
        return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)
    except (ValueError, TypeError, RecursionError):
        return "(value not printable)"


def _short(value: Any, limit: int = MAX_VALUE) -> str:
    return _text(value)[:limit]


class _Bad(Exception):
    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message


def _time(value: Any, field: str) -> datetime:
    if isinstance(value, bool):
        raise _Bad(field, "must be an RFC 3339 time or epoch seconds")
    if isinstance(value, int | float):
        seconds = float(value) / 1000 if abs(value) > 1e11 else float(value)
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, ValueError, OSError):
            raise _Bad(field, f"epoch time {value!r} out of range") from None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise _Bad(field, f"{value[:100]!r} is not an RFC 3339 time") from None
        if parsed.tzinfo is None:
            raise _Bad(field, f"{value[:100]!r} needs a time zone (Z or +00:00)")
        try:
            return parsed.astimezone(UTC)
        except (OverflowError, ValueError):
            raise _Bad(field, f"{value[:100]!r} out of range") from None
    raise _Bad(field, "must be an RFC 3339 time or epoch seconds")


def _label_name(name: str) -> str:
    clean = re.sub(r"[^a-zA-Z0-9_]", "_", name)
    return f"_{clean}" if clean[:1].isdigit() else clean


def _merge_object(value: Any, into: dict[str, str], *, labels: bool) -> None:
    if not isinstance(value, dict):
        return
    for k, v in value.items():
        if v is None or len(into) >= MAX_LABELS:
            continue
        name = _label_name(k) if labels else k
        if name:
            into[name[:200]] = _short(v)


def _action(spec: Spec, item: Any, root: Any) -> Action:
    if spec.status is None:
        return spec.default_action or "trigger"
    value = resolve(spec.status, item, root)
    if value is MISSING:
        if spec.default_action is None:
            raise _Bad("status", f"path {spec.status.text!r} not found")
        return spec.default_action
    word = _text(value).strip().lower()
    for action in _ACTIONS:
        if word in spec.values[action]:
            return action
    raise _Bad(
        "status",
        f"{_short(value, 100)!r} is in none of trigger_values, resolve_values, acknowledge_values",
    )


def _one(spec: Spec, index: int, item: Any, root: Any) -> Mapped:
    def get(path: Path | None) -> Any:
        return MISSING if path is None else resolve(path, item, root)

    action = _action(spec, item, root)
    labels: dict[str, str] = {}
    if spec.labels_from is not None:
        _merge_object(get(spec.labels_from), labels, labels=True)
    for name, path in spec.labels.items():
        value = get(path)
        if value is not MISSING:
            labels[name] = _short(value)
    annotations: dict[str, str] = {}
    if spec.annotations_from is not None:
        _merge_object(get(spec.annotations_from), annotations, labels=False)
    for name, path in spec.annotations.items():
        value = get(path)
        if value is not MISSING:
            annotations[name] = _short(value)
    raw_severity = get(spec.severity)
    if spec.severity is None and "severity" in labels:
        raw_severity = labels["severity"]  # as for Alertmanager alerts: the severity label
    if raw_severity is MISSING:
        severity = spec.default_severity
    else:
        word = _text(raw_severity).strip().lower()
        severity = spec.severity_map.get(word) or (
            severity_of(word) if word else spec.default_severity
        )
    labels.setdefault("severity", severity)
    dedup: str | None = None
    raw_dedup = get(spec.dedup_key)
    if spec.dedup_key is not None:
        if raw_dedup is MISSING or isinstance(raw_dedup, dict | list) or _text(raw_dedup) == "":
            raise _Bad("dedup_key", f"path {spec.dedup_key.text!r} gives no string or number")
        dedup = _text(raw_dedup)
    summary_value = get(spec.summary)
    summary = (
        _short(summary_value, 1024)
        if summary_value is not MISSING and _text(summary_value).strip()
        else (
            annotations.get("summary")
            or labels.get("alertname")
            or (dedup or ", ".join(f"{k}={v}" for k, v in sorted(labels.items())))
        )[:1024]
    )
    details: dict[str, Any] = {}
    for name, path in spec.details.items():
        value = get(path)
        if value is not MISSING:
            details[name] = value
    starts = get(spec.starts_at)
    url = get(spec.generator_url)
    if url is not MISSING and (not isinstance(url, str) or len(url) > 2000):
        raise _Bad("generator_url", "must be a string of at most 2000 characters")
    return Mapped(
        index=index,
        action=action,
        dedup_key=dedup,
        summary=summary,
        severity=severity,
        labels=labels,
        annotations=annotations,
        details=details,
        starts_at=None if starts is MISSING else _time(starts, "starts_at"),
        generator_url=url if isinstance(url, str) else None,
    )


def items_of(spec: Spec, body: Any) -> list[Any]:
    """The items of ``body``: at ``items``, else the body's elements or the body itself."""
    if spec.items is None:
        found = body
    else:
        found = resolve(spec.items, body, body)
        if found is MISSING:
            raise MappingError("items", f"path {spec.items.text!r} not found in the body")
    if spec.items is not None and spec.items.each and not isinstance(found, list):
        raise MappingError("items", f"path {spec.items.text!r} is not an array")
    items = found if isinstance(found, list) else [found]
    if len(items) > MAX_ITEMS:
        raise MappingError("items", f"more than {MAX_ITEMS} alerts in one body")
    return items


def apply(spec: Spec, body: Any) -> list[Mapped | ItemError]:
    """Map ``body`` to alerts; each item is a Mapped alert or an ItemError (never raises for an
    item; MappingError when the body as a whole does not fit)."""
    out: list[Mapped | ItemError] = []
    for index, item in enumerate(items_of(spec, body)):
        try:
            out.append(_one(spec, index, item, body))
        except _Bad as bad:
            out.append(ItemError(index, bad.field, bad.message))
    return out


def to_incoming(mapped: Mapped, *, integration_id: int, now: datetime) -> Incoming | ItemError:
    """The Incoming alert for a mapped item; dedup keys are scoped to the integration."""
    if mapped.dedup_key is None:
        if not {k for k in mapped.labels if k != "severity"}:
            return ItemError(
                mapped.index,
                "dedup_key",
                "no dedup_key in the mapping and no labels to fingerprint",
            )
        fp = fingerprint_hex(mapped.labels)
        key = fp
    else:
        key = mapped.dedup_key
        if len(key) > 200:
            key = "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
        fp = fingerprint_hex({"dedup_key": key, "integration": str(integration_id)})
    return Incoming(
        action=mapped.action,
        dedup_key=f"wh:{integration_id}:{key}",
        fingerprint=fp,
        source="webhook",
        severity=mapped.severity,
        summary=mapped.summary,
        labels=mapped.labels,
        annotations=mapped.annotations,
        details=mapped.details,
        generator_url=mapped.generator_url,
        starts_at=mapped.starts_at or now,
    )


def check_for_kind(kind: str, raw: Any) -> dict[str, Any]:
    """The integration config for ``kind`` with mapping ``raw``; InvalidInput names the field."""
    if raw is None:
        return {}
    if kind != "webhook":
        raise InvalidInput(f"mapping: only webhook integrations take a mapping, not {kind}")
    try:
        parse_mapping(raw)
    except MappingError as exc:
        raise InvalidInput(str(exc)) from None
    return {"mapping": raw}
