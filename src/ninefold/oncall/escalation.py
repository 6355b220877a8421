"""Escalation policies as a pure calculator: which level is paged when, and who each rule reaches.

A policy is ordered levels; each level names targets (users, schedules, teams) and a delay: if
nobody acknowledges within that delay, the next level is paged. After the last level the policy
starts again from the first, ``repeat`` more times (PagerDuty's ``num_loops``); then it stays on
the last level without further steps (``exhausted``). Every level is entered at the exact moment
its predecessor's delay ran out, so a late engine tick pages the same levels at the same logical
times as a punctual one.

Personal notification rules say how one paged person is reached: channel and delay after the
page (email at once, a phone webhook after 5 minutes if nobody acknowledged).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ninefold.core.durations import parse_duration

TARGET_KINDS = ("user", "schedule", "team")


@dataclass(frozen=True)
class Target:
    """Who a level pages: a user, whoever is on call on a schedule, or every member of a team."""

    kind: str
    name: str


@dataclass(frozen=True)
class Level:
    """One escalation level: its targets, and how long before the next level is paged."""

    delay: timedelta
    targets: tuple[Target, ...]


@dataclass(frozen=True)
class Policy:
    """An escalation policy."""

    name: str
    levels: tuple[Level, ...]
    repeat: int = 0


@dataclass(frozen=True)
class Position:
    """Where an escalation is: ``level`` of loop ``loop``, paged at ``started_at``."""

    level: int
    loop: int
    started_at: datetime


@dataclass(frozen=True)
class Rule:
    """A personal notification rule: ``channel``, ``delay`` after the person was paged."""

    delay: timedelta
    channel: str


def _duration(value: Any, where: str) -> timedelta:
    if isinstance(value, bool):
        raise ValueError(f"{where}: must be a duration such as 5m or 1h")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"{where}: must not be negative")
        return timedelta(minutes=value)
    if not isinstance(value, str):
        raise ValueError(f"{where}: must be a duration such as 5m or 1h")
    if value.strip().rstrip("smhdw") in ("0", "00"):
        return timedelta(0)
    try:
        parsed = timedelta(seconds=parse_duration(value))
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    if parsed < timedelta(0):
        raise ValueError(f"{where}: must not be negative")
    return parsed


def parse_targets(raw: Any, where: str) -> tuple[Target, ...]:
    """``[{user: alice}, {schedule: primary}, {team: payments}]`` → targets."""
    if not isinstance(raw, Sequence) or isinstance(raw, str) or not raw:
        raise ValueError(f"{where}: must be a non-empty list of targets")
    out: list[Target] = []
    for i, item in enumerate(raw):
        if isinstance(item, Mapping) and {"type", "name"} <= set(item) and len(item) == 2:
            kind, name = item["type"], item["name"]
        elif isinstance(item, Mapping) and len(item) == 1:
            kind, name = next(iter(item.items()))
        else:
            raise ValueError(
                f"{where}[{i}]: a target is {{user: NAME}}, {{schedule: NAME}} or {{team: NAME}}"
            )
        if kind not in TARGET_KINDS:
            raise ValueError(f"{where}[{i}]: unknown target type {kind!r} (user, schedule, team)")
        if not isinstance(name, str) or not name:
            raise ValueError(f"{where}[{i}].{kind}: must be a name")
        out.append(Target(kind, name))
    return tuple(out)


def parse_policy(name: str, levels: Any, repeat: Any = 0) -> Policy:
    """Build a policy from its document; ValueError names the bad field."""
    if not isinstance(levels, Sequence) or isinstance(levels, str) or not levels:
        raise ValueError("levels: must be a non-empty list")
    if isinstance(repeat, bool) or not isinstance(repeat, int) or not 0 <= repeat <= 20:
        raise ValueError("repeat: must be a whole number from 0 to 20")
    parsed: list[Level] = []
    for i, level in enumerate(levels):
        if not isinstance(level, Mapping):
            raise ValueError(f"levels[{i}]: must be a mapping with delay and targets")
        unknown = sorted(set(level) - {"delay", "targets"})
        if unknown:
            raise ValueError(f"levels[{i}]: unknown field(s) {', '.join(map(str, unknown))}")
        delay = _duration(level.get("delay", "30m"), f"levels[{i}].delay")
        if delay < timedelta(minutes=1) and (i < len(levels) - 1 or repeat):
            raise ValueError(f"levels[{i}].delay: must be at least 1m")
        parsed.append(Level(delay, parse_targets(level.get("targets"), f"levels[{i}].targets")))
    return Policy(name, tuple(parsed), repeat)


def parse_rules(raw: Any, where: str = "rules") -> tuple[Rule, ...]:
    """``[{after: 0m, channel: alice-email}, …]`` → rules, in order of delay."""
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise ValueError(f"{where}: must be a list of {{after, channel}}")
    out: list[Rule] = []
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise ValueError(f"{where}[{i}]: must be a mapping with after and channel")
        unknown = sorted(set(item) - {"after", "channel"})
        if unknown:
            raise ValueError(f"{where}[{i}]: unknown field(s) {', '.join(map(str, unknown))}")
        channel = item.get("channel")
        if not isinstance(channel, str) or not channel:
            raise ValueError(f"{where}[{i}].channel: must be a channel name")
        out.append(Rule(_duration(item.get("after", 0), f"{where}[{i}].after"), channel))
    return tuple(sorted(out, key=lambda r: r.delay))


def exhausted(policy: Policy, pos: Position) -> bool:
    """Whether ``pos`` is the last level of the last loop (nothing follows)."""
    return pos.level == len(policy.levels) - 1 and pos.loop >= policy.repeat


def advance(policy: Policy, pos: Position, now: datetime) -> list[Position]:
    """Every level entered after ``pos`` up to ``now`` (in order; empty if none is due)."""
    out: list[Position] = []
    cur = pos
    while not exhausted(policy, cur):
        due = cur.started_at + policy.levels[cur.level].delay
        if due > now:
            break
        if cur.level + 1 < len(policy.levels):
            cur = Position(cur.level + 1, cur.loop, due)
        else:
            cur = Position(0, cur.loop + 1, due)
        out.append(cur)
        if len(out) > 1000:  # a zero-delay loop cannot spin: delays are >= 1m
            break
    return out


def next_level_at(policy: Policy, pos: Position) -> datetime | None:
    """When the level after ``pos`` is paged, or None when the policy is exhausted."""
    if exhausted(policy, pos):
        return None
    return pos.started_at + policy.levels[pos.level].delay
