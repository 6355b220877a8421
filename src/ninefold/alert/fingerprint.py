"""Alertmanager-compatible alert identity: label-set fingerprints and aggregation-group keys.

An alert's identity is the FNV-1a 64-bit hash of its labels sorted by name, each written as
``name 0xff value 0xff`` (UTF-8), exactly as ``model.LabelSet.Fingerprint`` in
``prometheus/common`` computes it; the empty set hashes to the FNV offset basis. Alertmanager
prints it as 16 lowercase hex digits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

FNV_OFFSET_BASIS = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
_MASK = 0xFFFFFFFFFFFFFFFF
#: A byte that never occurs in valid UTF-8, used by Prometheus to separate names and values.
SEPARATOR = 0xFF


def _fnv1a(h: int, data: bytes) -> int:
    for byte in data:
        h = ((h ^ byte) * FNV_PRIME) & _MASK
    return h


def hash_pairs(pairs: Iterable[tuple[str, str]]) -> int:
    """FNV-1a 64 over already ordered ``(name, value)`` pairs, each followed by 0xff separators."""
    h = FNV_OFFSET_BASIS
    sep = bytes([SEPARATOR])
    for name, value in pairs:
        h = _fnv1a(h, name.encode("utf-8", "surrogatepass") + sep)
        h = _fnv1a(h, value.encode("utf-8", "surrogatepass") + sep)
    return h


def normalize_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """Drop labels whose value is empty: Prometheus and Alertmanager treat them as absent."""
    return {name: value for name, value in labels.items() if value != ""}


def fingerprint(labels: Mapping[str, str]) -> int:
    """Alertmanager's fingerprint of a label set as an unsigned 64-bit integer.

    Labels with an empty value are left out first, because Alertmanager's API strips them from
    incoming alerts before it computes the fingerprint (``removeEmptyLabels``); use
    :func:`labelset_fingerprint` to hash a set exactly as given.
    """
    return labelset_fingerprint(normalize_labels(labels))


def labelset_fingerprint(labels: Mapping[str, str]) -> int:
    """``model.LabelSet.Fingerprint``: FNV-1a 64 over the labels sorted by name, empty values kept."""
    return hash_pairs(sorted(labels.items()))


def fingerprint_hex(labels: Mapping[str, str]) -> str:
    """The fingerprint as Alertmanager prints it: 16 lowercase hex digits."""
    return format_fingerprint(fingerprint(labels))


def format_fingerprint(value: int) -> str:
    """Format a 64-bit fingerprint as 16 lowercase hex digits (Go's ``%016x``)."""
    if not 0 <= value <= _MASK:
        raise ValueError(f"fingerprint {value} is not an unsigned 64-bit integer")
    return f"{value:016x}"


def parse_fingerprint(text: str) -> int:
    """Parse a 1–16 digit hex fingerprint (as Alertmanager's ``ParseFingerprint``); raise ValueError."""
    if not 1 <= len(text) <= 16 or any(c not in "0123456789abcdefABCDEF" for c in text):
        raise ValueError(f"invalid fingerprint {text!r}: expected up to 16 hex digits")
    return int(text, 16)


def group_labels(
    labels: Mapping[str, str], group_by: Iterable[str], *, group_by_all: bool = False
) -> dict[str, str]:
    """The labels of an alert that define its aggregation group (all of them for ``...``).

    Names in ``group_by`` the alert lacks are simply absent, as in Alertmanager, so an alert
    without ``cluster`` and one with ``cluster=""`` fall into the same group.
    """
    clean = normalize_labels(labels)
    if group_by_all:
        return clean
    wanted = set(group_by)
    return {name: value for name, value in clean.items() if name in wanted}


def go_quote(text: str) -> str:
    """Quote a string the way Go's ``strconv.Quote`` (``%q``) does."""
    if text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'  # what the loop below gives, without a step per character
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        elif ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif 0xD800 <= code <= 0xDFFF:
            out.append("\\ufffd")  # Go sees an invalid rune and writes U+FFFD's escape
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


_GO_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


def labelset_string(labels: Mapping[str, str]) -> str:
    """``model.LabelSet.String()``: ``{a="1", b="2"}`` sorted by name, values Go-quoted."""
    return "{" + ", ".join(f"{n}={go_quote(v)}" for n, v in sorted(labels.items())) + "}"


def group_key(route_key: str, labels: Mapping[str, str]) -> str:
    """Aggregation-group key: ``<route key>:<group labels>``, byte for byte Alertmanager's.

    ``route_key`` is the route's path of matcher lists (``routing.Route.key``, e.g.
    ``{}/{team="db"}``) and ``labels`` the group labels from :func:`group_labels`. This is the
    ``groupKey`` Alertmanager puts into webhook payloads. Like Alertmanager's key it does not
    tell apart two sibling routes with identical matchers; ``routing.Route.id`` does.
    """
    return f"{route_key}:{labelset_string(labels)}"


def group_fingerprint(labels: Mapping[str, str]) -> int:
    """Fingerprint of a group's labels, which Alertmanager uses to find the group in a route."""
    return labelset_fingerprint(labels)
