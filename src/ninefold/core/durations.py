"""Parse and format Prometheus-style durations such as ``5m``, ``1h30m`` or ``30d``."""

from __future__ import annotations

import re
from functools import lru_cache

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PART = re.compile(r"(\d+)([smhdw])")
_FULL = re.compile(r"^(\d+[smhdw])+$")


def parse_duration(text: str) -> int:
    """Return the number of seconds in a duration like ``30d`` or ``1h30m``; raise ValueError."""
    # The few durations of SLO specs are parsed for every evaluation: keep them, not any text.
    return _parse_cached(text) if len(text) <= 32 else _parse(text)


@lru_cache(maxsize=4096)
def _parse_cached(text: str) -> int:
    return _parse(text)


def _parse(text: str) -> int:
    value = text.strip()
    if not _FULL.match(value):
        raise ValueError(
            f"invalid duration {text!r}: use a number and a unit (s, m, h, d, w), e.g. 5m"
        )
    seconds = sum(int(n) * _UNITS[u] for n, u in _PART.findall(value))
    if seconds <= 0:
        raise ValueError(f"invalid duration {text!r}: must be positive")
    return seconds


def format_duration(seconds: int) -> str:
    """Format seconds in the largest exact unit, as Prometheus does (``3600`` -> ``1h``)."""
    if seconds <= 0:
        raise ValueError("duration must be positive")
    out = ""
    rest = seconds
    for unit, size in (("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if unit == "w" and rest % size:
            continue
        count, rest = divmod(rest, size)
        if count:
            out += f"{count}{unit}"
    return out
