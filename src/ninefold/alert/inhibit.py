"""Alertmanager inhibition rules: a firing source alert mutes matching target alerts.

A target alert is inhibited by a rule when it matches the rule's target matchers and some
*firing* alert matches the source matchers and has the same value for every ``equal`` label
(a label missing on both sides counts as equal, as does missing versus empty). When the target
also matches the source matchers, only sources that do not themselves match the target
matchers count, so an alert never inhibits itself and two alerts matching both sides never
inhibit each other (``inhibit/inhibit.go``). As in Alertmanager, silenced or inhibited
sources still inhibit; the caller passes firing alerts only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ninefold.alert.matchers import (
    CONFIG_LABEL_NAME,
    Matcher,
    from_match_maps,
    matches,
    parse_config_matchers,
)

_RULE_KEYS = frozenset(
    {
        "source_match",
        "source_match_re",
        "source_matchers",
        "target_match",
        "target_match_re",
        "target_matchers",
        "equal",
    }
)

Labels = Mapping[str, str]


@dataclass(frozen=True)
class InhibitRule:
    """One ``inhibit_rules`` entry."""

    source_matchers: tuple[Matcher, ...]
    target_matchers: tuple[Matcher, ...]
    equal: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in self.equal:
            if not CONFIG_LABEL_NAME.fullmatch(name):
                raise ValueError(f"inhibit rule equal: invalid label name {name!r}")

    def inhibits(self, source: Labels, target: Labels) -> bool:
        """Whether the firing alert ``source`` inhibits the alert ``target`` under this rule."""
        if not matches(self.target_matchers, target) or not matches(self.source_matchers, source):
            return False
        if any(source.get(n, "") != target.get(n, "") for n in self.equal):
            return False
        two_sided = matches(self.source_matchers, target)
        return not (two_sided and matches(self.target_matchers, source))


def parse_inhibit_rule(node: Mapping[str, Any]) -> InhibitRule:
    """Build a rule from its config form (``source_matchers``, ``source_match[_re]``, … ``equal``)."""
    if not isinstance(node, Mapping):
        raise ValueError("an inhibit rule must be a mapping")
    unknown = sorted(set(node) - _RULE_KEYS)
    if unknown:
        raise ValueError(f"inhibit rule: unknown field(s) {', '.join(map(str, unknown))}")
    sides: dict[str, tuple[Matcher, ...]] = {}
    for side in ("source", "target"):
        for kind in ("match", "match_re"):
            value = node.get(f"{side}_{kind}")
            if value is not None and not isinstance(value, Mapping):
                raise ValueError(f"inhibit rule {side}_{kind} must be a mapping")
        try:
            found = from_match_maps(node.get(f"{side}_match"), node.get(f"{side}_match_re"))
            found += parse_config_matchers(node.get(f"{side}_matchers") or [])
        except ValueError as exc:
            raise ValueError(f"inhibit rule {side}: {exc}") from None
        sides[side] = tuple(found)
    equal = node.get("equal") or []
    if isinstance(equal, str) or not isinstance(equal, Sequence):
        raise ValueError("inhibit rule equal must be a list of label names")
    if not all(isinstance(name, str) for name in equal):
        raise ValueError("inhibit rule equal must contain only label names")
    return InhibitRule(sides["source"], sides["target"], tuple(equal))


def parse_inhibit_rules(nodes: Iterable[Mapping[str, Any]] | None) -> list[InhibitRule]:
    """Build every rule of a config's ``inhibit_rules`` list."""
    rules: list[InhibitRule] = []
    for i, node in enumerate(nodes or []):
        try:
            rules.append(parse_inhibit_rule(node))
        except ValueError as exc:
            raise ValueError(f"inhibit_rules[{i}]: {exc}") from None
    return rules


def inhibiting_source(
    target_labels: Labels,
    firing_sources: Iterable[Labels],
    rules: InhibitRule | Iterable[InhibitRule],
) -> Labels | None:
    """The first firing alert that inhibits ``target_labels`` under any rule, or None."""
    rule_list = [rules] if isinstance(rules, InhibitRule) else list(rules)
    sources = list(firing_sources)
    for rule in rule_list:
        if not matches(rule.target_matchers, target_labels):
            continue
        for source in sources:
            if rule.inhibits(source, target_labels):
                return source
    return None


def inhibited(
    target_labels: Labels,
    firing_sources: Iterable[Labels],
    rules: InhibitRule | Iterable[InhibitRule],
) -> bool:
    """Whether any firing alert inhibits ``target_labels`` under any of the rules."""
    return inhibiting_source(target_labels, firing_sources, rules) is not None
