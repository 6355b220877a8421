"""Load a catalog directory of YAML files, keeping the line and column of every key and value.

Every problem found (YAML syntax, duplicate keys, unknown keys, bad types and values) is collected
as a :class:`Problem` with ``file:line:column``; loading never stops at the first one. Items that are
valid become :class:`Entry` objects for the cross-file checks in ``validate.py``.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, SequenceNode

from ninefold.catalog.spec import (
    LOCATED,
    ConfigFile,
    EscalationPolicySpec,
    IncidentRoleSpec,
    IncidentSeveritySpec,
    NotificationChannelSpec,
    NotificationRulesSpec,
    ScheduleSpec,
    ServiceSpec,
    SLOSpec,
    StatusPageSpec,
    TeamSpec,
    UserSpec,
)
from ninefold.errors import ConfigError

Loc = tuple[str | int, ...]
S = TypeVar("S", bound=BaseModel)

SECTIONS: dict[str, type[BaseModel]] = {
    "users": UserSpec,
    "teams": TeamSpec,
    "services": ServiceSpec,
    "slos": SLOSpec,
    "notification_channels": NotificationChannelSpec,
    "schedules": ScheduleSpec,
    "escalation_policies": EscalationPolicySpec,
    "notification_rules": NotificationRulesSpec,
    "incident_severities": IncidentSeveritySpec,
    "incident_roles": IncidentRoleSpec,
    "status_page": StatusPageSpec,
}
#: Sections that are one mapping rather than a list of items.
MAPPING_SECTIONS = frozenset({"status_page"})
KIND_OF = {
    "users": "user",
    "teams": "team",
    "services": "service",
    "slos": "SLO",
    "notification_channels": "notification channel",
    "schedules": "schedule",
    "escalation_policies": "escalation policy",
    "notification_rules": "notification rules",
    "incident_severities": "incident severity",
    "incident_roles": "incident role",
    "status_page": "status page",
}
assert set(SECTIONS) == set(ConfigFile.model_fields), "SECTIONS must follow ConfigFile"


@dataclass(frozen=True, order=True)
class Problem:
    """One problem at a place in a file (line and column are 1-based)."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class CatalogError(ConfigError):
    """The catalog is invalid; ``problems`` holds every problem found."""

    def __init__(self, problems: Sequence[Problem], where: str = "catalog") -> None:
        self.problems = list(problems)
        count = len(self.problems)
        head = f"{where}: {count} problem{'s' if count != 1 else ''}"
        super().__init__("\n".join([head, *(str(p) for p in self.problems)]))


@dataclass
class SourceFile:
    """A parsed YAML file: its display path and its ruamel round-trip tree."""

    path: str
    root: Any

    def position(self, loc: Loc, *, key: bool = False) -> tuple[int, int]:
        """1-based line and column of the node at ``loc`` (of its key when ``key``).

        Path elements that do not exist in the tree (pydantic's union member tags, missing
        keys) are skipped, so the answer is the deepest node that exists.
        """
        node = self.root
        line, col = _own_position(node)
        last = len(loc) - 1
        for i, part in enumerate(loc):
            if isinstance(node, CommentedMap) and part in node:
                want_key = key and i == last
                line, col = node.lc.key(part) if want_key else node.lc.value(part)
                node = node[part]
            elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
                line, col = node.lc.item(part)
                node = node[part]
        return line + 1, col + 1

    def problem(self, loc: Loc, message: str, *, key: bool = False) -> Problem:
        """A problem located at ``loc``."""
        line, col = self.position(loc, key=key)
        return Problem(self.path, line, col, message)


@dataclass(frozen=True)
class Entry(Generic[S]):
    """A valid item of a section, with where it came from."""

    spec: S
    source: SourceFile
    loc: Loc

    def problem(self, message: str, *sub: str | int, key: bool = False) -> Problem:
        """A problem at ``sub`` inside this item."""
        return self.source.problem((*self.loc, *sub), message, key=key)

    def where(self) -> str:
        """``file:line:column`` of this item."""
        line, col = self.source.position(self.loc)
        return f"{self.source.path}:{line}:{col}"


@dataclass
class Catalog:
    """Everything loaded from a directory: valid entries, problems, and names seen."""

    users: list[Entry[UserSpec]] = field(default_factory=list)
    teams: list[Entry[TeamSpec]] = field(default_factory=list)
    services: list[Entry[ServiceSpec]] = field(default_factory=list)
    slos: list[Entry[SLOSpec]] = field(default_factory=list)
    notification_channels: list[Entry[NotificationChannelSpec]] = field(default_factory=list)
    schedules: list[Entry[ScheduleSpec]] = field(default_factory=list)
    escalation_policies: list[Entry[EscalationPolicySpec]] = field(default_factory=list)
    notification_rules: list[Entry[NotificationRulesSpec]] = field(default_factory=list)
    incident_severities: list[Entry[IncidentSeveritySpec]] = field(default_factory=list)
    incident_roles: list[Entry[IncidentRoleSpec]] = field(default_factory=list)
    status_page: list[Entry[StatusPageSpec]] = field(default_factory=list)
    """At most one (``validate`` reports a second one)."""
    problems: list[Problem] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    # every mapping item, valid or not, as plain data: cross-file checks run on these so that
    # an item with a bad field still has its references checked in the same run
    items: list[Item] = field(default_factory=list)


@dataclass(frozen=True)
class Item:
    """One mapping item of a section as plain data, valid or not."""

    section: str
    data: dict[str, Any]
    source: SourceFile
    loc: Loc

    def problem(self, message: str, *sub: str | int) -> Problem:
        """A problem at ``sub`` inside this item."""
        return self.source.problem((*self.loc, *sub), message)

    def where(self) -> str:
        """``file:line:column`` of this item."""
        line, col = self.source.position(self.loc)
        return f"{self.source.path}:{line}:{col}"


def _own_position(node: Any) -> tuple[int, int]:
    lc = getattr(node, "lc", None)
    if lc is None or lc.line is None:
        return 0, 0
    return int(lc.line), int(lc.col)


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = True  # reported by _duplicate_keys with their positions
    return yaml


def _duplicate_keys(node: Node | None, path: str) -> Iterable[Problem]:
    if isinstance(node, MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            k = getattr(key_node, "value", None)
            if isinstance(k, str | int | float | bool) and k in seen:
                mark = key_node.start_mark
                yield Problem(
                    path,
                    mark.line + 1,
                    mark.column + 1,
                    f"duplicate key {k!r} (first at line {seen[k]})",
                )
            elif isinstance(k, str | int | float | bool):
                seen[k] = key_node.start_mark.line + 1
            yield from _duplicate_keys(value_node, path)
    elif isinstance(node, SequenceNode):
        for item in node.value:
            yield from _duplicate_keys(item, path)


MAX_NODES = 1_000_000
"""Nodes a document may expand to once aliases are followed (a big catalog has tens of thousands)."""


def _expands_too_far(node: Node | None) -> bool:
    """Whether following aliases visits more than MAX_NODES nodes (a cycle visits infinitely
    many; nested aliases, as in the "billion laughs" document, exponentially many)."""
    stack: list[Any] = [node]
    visited = 0
    while stack:
        current = stack.pop()
        visited += 1
        if visited > MAX_NODES:
            return True
        if isinstance(current, MappingNode):
            stack.extend(v for pair in current.value for v in pair)
        elif isinstance(current, SequenceNode):
            stack.extend(current.value)
    return False


MAX_FLOW_DEPTH = 100
"""Open ``[``/``{`` on one line beyond which a file is refused before parsing: the YAML parser
takes time growing faster than the square of the depth (800 levels take seconds)."""


def _flow_depth(text: str) -> tuple[int, int]:
    """The deepest run of unclosed ``[``/``{`` on one line, and that line (1-based)."""
    deepest, where = 0, 1
    for number, line in enumerate(text.splitlines(), start=1):
        depth = 0
        for ch in line:
            if ch in "[{":
                depth += 1
                if depth > deepest:
                    deepest, where = depth, number
            elif ch in "]}":
                depth = max(depth - 1, 0)
    return deepest, where


def parse_yaml(text: str, path: str) -> tuple[Any, list[Problem]]:
    """Parse one YAML document with positions; returns the tree (None if unusable) and problems."""
    depth, line = _flow_depth(text)
    if depth > MAX_FLOW_DEPTH:
        what = f"more than {MAX_FLOW_DEPTH} nested [ or {{ on one line"
        return None, [
            Problem(path, line, 1, f"YAML error: the document is nested too deeply ({what})")
        ]
    try:
        composed = _yaml().compose(text)
        if _expands_too_far(composed):
            what = f"aliases expand to more than {MAX_NODES} nodes (or refer to themselves)"
            return None, [Problem(path, 1, 1, f"YAML error: {what}")]
        problems = list(_duplicate_keys(composed, path))
        return _yaml().load(text), problems
    except RecursionError:
        return None, [Problem(path, 1, 1, "YAML error: the document is nested too deeply")]
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        what = exc.problem or exc.context or "invalid YAML"
        return None, [Problem(path, line, col, f"YAML syntax error: {what}")]
    except YAMLError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid YAML"
        return None, [Problem(path, 1, 1, f"YAML error: {first}")]


def plain(node: Any) -> Any:
    """Turn a ruamel round-trip tree into plain dicts, lists, str, int, float, bool and None."""
    if isinstance(node, dict):
        return {plain(k): plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return str(node)  # dates and other scalars: let the model reject them with a clear type


def load_directory(directory: Path) -> Catalog:
    """Load every ``*.yaml``/``*.yml`` file under ``directory`` (recursively, sorted)."""
    catalog = Catalog()
    if not directory.is_dir():
        catalog.problems.append(Problem(str(directory), 1, 1, "not a directory"))
        return catalog
    files = sorted(
        p
        for p in directory.rglob("*")
        if p.suffix in (".yaml", ".yml")
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(directory).parts)
    )
    if not files:
        catalog.problems.append(
            Problem(str(directory), 1, 1, "no *.yaml or *.yml files in this directory")
        )
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            catalog.problems.append(Problem(str(path), 1, 1, f"cannot read file: {exc}"))
            continue
        load_text(text, str(path), catalog)
    return catalog


def load_text(text: str, path: str, catalog: Catalog | None = None) -> Catalog:
    """Load one file's text into ``catalog`` (a new one when not given)."""
    catalog = catalog if catalog is not None else Catalog()
    catalog.files.append(path)
    root, problems = parse_yaml(text, path)
    catalog.problems.extend(problems)
    if root is None:
        return catalog
    source = SourceFile(path, root)
    if not isinstance(root, CommentedMap):
        catalog.problems.append(
            source.problem((), "a catalog file must be a mapping with keys: " + ", ".join(SECTIONS))
        )
        return catalog
    for key in root:
        if key not in SECTIONS:
            catalog.problems.append(source.problem((key,), _unknown_key(key, SECTIONS), key=True))
            continue
        items = root[key]
        if items is None:
            continue
        if key in MAPPING_SECTIONS:
            if isinstance(items, CommentedMap):
                _load_item(catalog, source, key, None, items)
            else:
                catalog.problems.append(source.problem((key,), f"{key} must be a mapping"))
            continue
        if not isinstance(items, CommentedSeq):
            catalog.problems.append(
                source.problem((key,), f"{key} must be a list (each item starting with '-')")
            )
            continue
        for index, item in enumerate(items):
            _load_item(catalog, source, key, index, item)
    return catalog


def _load_item(
    catalog: Catalog, source: SourceFile, section: str, index: int | None, item: Any
) -> None:
    model = SECTIONS[section]
    loc: Loc = (section,) if index is None else (section, index)
    data = plain(item)
    label = KIND_OF[section]
    if isinstance(data, dict) and isinstance(data.get("name"), str):
        label = f"{label} {data['name']!r}"
    elif isinstance(data, dict) and isinstance(data.get("user"), str):
        label = f"{label} of {data['user']!r}"
    if isinstance(data, dict):
        catalog.items.append(Item(section, data, source, loc))
    try:
        spec = model.model_validate(data)
    except ValidationError as exc:
        for sub, message, on_key in _describe(model, exc):
            catalog.problems.append(source.problem((*loc, *sub), f"{label}: {message}", key=on_key))
        return
    entries: list[Any] = getattr(catalog, section)
    entries.append(Entry(spec, source, loc))


def _describe(model: type[BaseModel], exc: ValidationError) -> list[tuple[Loc, str, bool]]:
    """Readable messages for a model's validation errors, one per real problem.

    For unions (the SLO ``window``) pydantic reports the errors of every member; keep those of the
    member that came closest (fewest errors) so the user sees what to fix, not every alternative.
    """
    errors = exc.errors(include_url=False)
    groups: dict[Loc, dict[str, list[Any]]] = {}  # union location -> member tag -> errors
    plain_errors: list[Any] = []
    for err in errors:
        loc = tuple(err["loc"])
        tag_at = next((i for i, p in enumerate(loc) if _is_tag(err, loc, i)), None)
        if tag_at is None:
            plain_errors.append(err)
        else:
            groups.setdefault(loc[:tag_at], {}).setdefault(str(loc[tag_at]), []).append(err)
    for members in groups.values():
        best = sorted(members.values(), key=len)[0]
        plain_errors.extend(best)
    out: list[tuple[Loc, str, bool]] = []
    for err in plain_errors:
        full = tuple(err["loc"])
        loc = tuple(p for i, p in enumerate(full) if not _is_tag(err, full, i))
        out.append(_message(model, loc, err))
    return out


def _is_tag(err: Any, loc: Loc, index: int) -> bool:
    """Whether ``loc[index]`` is a union member tag (``RollingWindow``) rather than a key.

    The last element of an unknown-key error is the user's key, whatever its case
    (``Name:`` instead of ``name:``), never a tag.
    """
    part = loc[index]
    if err["type"] == "extra_forbidden" and index == len(loc) - 1:
        return False
    return isinstance(part, str) and part[:1].isupper()


def _field_path(message: str) -> Loc:
    """The leading ``layers[0].restrictions[1].start`` of an on-call message, as a location."""
    head, sep, _ = message.partition(": ")
    if not sep or not _PATH_RE.fullmatch(head):
        return ()
    return tuple(int(index) if index else name for name, index in _PATH_PART_RE.findall(head))


def _message(model: type[BaseModel], loc: Loc, err: Any) -> tuple[Loc, str, bool]:
    kind = err["type"]
    if kind == LOCATED:
        # the message already names the field; point at it
        message = str(err["msg"])
        return (*loc, *_field_path(message)), message, False
    dotted = _dotted(loc)
    if kind == "extra_forbidden":
        parent = _model_at(model, loc[:-1])
        allowed = list(parent.model_fields) if parent is not None else []
        return loc, _unknown_key(str(loc[-1]), allowed), True
    if kind == "missing":
        return loc[:-1], f"missing required key {loc[-1]!r}", False
    msg = str(err["msg"])
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    elif msg.startswith("Assertion failed, "):
        msg = msg[len("Assertion failed, ") :]
    value = err.get("input")
    if kind not in ("value_error", "assertion_error") and isinstance(
        value, str | int | float | bool
    ):
        msg = f"{msg} (got {value!r})"
    if isinstance(value, dict | list) and kind.endswith("_type"):
        msg = f"{msg} (got a {'mapping' if isinstance(value, dict) else 'list'})"
    return loc, f"{dotted}: {msg}" if dotted else msg, False


_PATH_RE = re.compile(r"[A-Za-z_]\w*(?:\[\d+\]|\.[A-Za-z_]\w*)*")
_PATH_PART_RE = re.compile(r"([A-Za-z_]\w*)|\[(\d+)\]")


def _dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _unknown_key(key: str, allowed: Iterable[str]) -> str:
    allowed = list(allowed)
    msg = f"unknown key {key!r}"
    close = difflib.get_close_matches(str(key), allowed, n=1)
    if close:
        msg += f" (did you mean {close[0]!r}?)"
    if allowed:
        msg += f"; allowed here: {', '.join(allowed)}"
    return msg


def _model_at(model: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The model class that sits at ``loc`` inside ``model`` (best effort)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        info = current.model_fields.get(part)
        if info is None:
            return None
        current = _unwrap(info.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    """Strip Optional / list / dict so the model inside a field annotation is returned."""
    origin = typing.get_origin(annotation)
    if origin in (list, dict):
        return _unwrap(typing.get_args(annotation)[-1])
    if origin in (typing.Union, types.UnionType):
        models = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _unwrap(models[0]) if len(models) == 1 else None
    return annotation
