"""Importers from other formats (Backstage, OpenSLO, Sloth) into the ninefold catalog YAML shape.

Each importer is a pure function: YAML text in, a ``ConfigFile``-shaped dict out. Problems raise
:class:`ImportFailed` naming the document and the field; things ninefold cannot represent but can
safely leave out are reported through the optional ``warnings`` list.
"""

from __future__ import annotations

import io
import re
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scalarstring import LiteralScalarString

from ninefold.catalog.spec import is_name
from ninefold.errors import InvalidInput


class ImportFailed(InvalidInput):
    """A document could not be imported."""


def load_documents(text: str, source: str) -> list[tuple[int, dict[str, Any]]]:
    """Parse multi-document YAML; returns (1-based document number, mapping) pairs."""
    yaml = YAML(typ="safe", pure=True)
    try:
        docs = list(yaml.load_all(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark is not None else source
        raise ImportFailed(f"{where}: YAML syntax error: {exc.problem or exc.context}") from None
    except YAMLError as exc:
        raise ImportFailed(f"{source}: invalid YAML: {exc}") from None
    out: list[tuple[int, dict[str, Any]]] = []
    for number, doc in enumerate(docs, start=1):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise ImportFailed(f"{source}: document {number} is not a mapping")
        out.append((number, doc))
    if not out:
        raise ImportFailed(f"{source}: no YAML documents found")
    return out


def where_of(source: str, number: int, kind: str, name: Any) -> str:
    """How an error names a document: file, number, and kind and name when known."""
    label = " ".join(part for part in (kind, repr(name) if name else "") if part)
    return f"{source} document {number}" + (f" ({label})" if label else "")


def slug(value: str) -> str:
    """A valid ninefold name for ``value`` (lower case, other characters become ``-``)."""
    text = re.sub(r"[^a-z0-9._-]+", "-", str(value).strip().lower()).strip("-._")
    text = text[:100].rstrip("-._")
    if not is_name(text):
        raise ValueError(f"cannot make a ninefold name out of {value!r}")
    return text


def get(doc: dict[str, Any], path: str, where: str, kind: type | tuple[type, ...] = object) -> Any:
    """Value at a dotted ``path`` of ``doc`` (None when absent); wrong types raise ImportFailed."""
    node: Any = doc
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    if node is not None and not isinstance(node, kind):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        readable = {"dict": "a mapping", "list": "a list", "str": "a string"}.get(names, names)
        raise ImportFailed(f"{where}: {path} must be {readable}, not {type(node).__name__}")
    return node


def str_labels(labels: Any) -> dict[str, str]:
    """Labels as strings (lists, as in OpenSLO, are joined with commas)."""
    if not isinstance(labels, dict):
        return {}
    out: dict[str, str] = {}
    for key, value in labels.items():
        if isinstance(value, list):
            out[str(key)] = ",".join(str(v) for v in value)
        elif value is not None:
            out[str(key)] = str(value)
    return out


def prune(data: Any) -> Any:
    """Drop None values and empty containers, recursively."""
    if isinstance(data, dict):
        pruned = {k: prune(v) for k, v in data.items()}
        return {k: v for k, v in pruned.items() if v is not None and v != {} and v != []}
    if isinstance(data, list):
        return [prune(v) for v in data]
    return data


def owner_team(name: str, description: str) -> dict[str, Any]:
    """A placeholder team for imported services that have no owner in the source format."""
    return {"name": name, "description": description}


def _literal_blocks(data: Any) -> Any:
    """Multi-line strings (PromQL) as ``|`` blocks, which read far better than escaped quotes."""
    if isinstance(data, dict):
        return {k: _literal_blocks(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_literal_blocks(v) for v in data]
    if isinstance(data, str) and "\n" in data:
        return LiteralScalarString("\n".join(line.rstrip() for line in data.splitlines()) + "\n")
    return data


SECTIONS_AFTER_SLOS = (
    "notification_channels",
    "schedules",
    "escalation_policies",
    "notification_rules",
)


def to_yaml(config: dict[str, Any], header: str = "") -> str:
    """Render a ConfigFile-shaped dict as ninefold YAML."""
    yaml = YAML()
    yaml.default_flow_style = False
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 100
    buf = io.StringIO()
    if header:
        buf.write("".join(f"# {line}\n" for line in header.splitlines()))
    sections = ("users", "teams", "services", "slos", *SECTIONS_AFTER_SLOS)
    ordered = {k: config[k] for k in sections if config.get(k)}
    yaml.dump(_literal_blocks(ordered), buf)
    return buf.getvalue()
