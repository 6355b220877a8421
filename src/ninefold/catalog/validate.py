"""Cross-file checks of a loaded catalog: duplicate names, dangling references, dependency cycles."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ninefold.catalog.loader import KIND_OF, Catalog, CatalogError, Item, Problem, load_directory


def check(catalog: Catalog) -> list[Problem]:
    """Every cross-reference problem of ``catalog`` (its per-file problems are not repeated).

    Runs on the plain data of every item, valid or not, so one run reports both a bad field and a
    dangling reference of the same item.
    """
    problems: list[Problem] = []
    by_section: dict[str, list[Item]] = {s: [] for s in KIND_OF}
    for item in catalog.items:
        by_section[item.section].append(item)
    names = {s: _unique(items, KIND_OF[s], problems) for s, items in by_section.items()}

    def ref(item: Item, section: str, value: Any, *loc: str | int) -> None:
        if isinstance(value, str) and value not in names[section]:
            hint = _hint(value, names[section])
            problems.append(
                item.problem(f"{KIND_OF[section]} {value!r} is not defined{hint}", *loc)
            )

    for team in by_section["teams"]:
        seen: set[str] = set()
        for i, member in _each(team.data.get("members")):
            user = member.get("user") if isinstance(member, dict) else None
            ref(team, "users", user, "members", i, "user")
            if isinstance(user, str) and user in seen:
                problems.append(
                    team.problem(f"user {user!r} is listed twice", "members", i, "user")
                )
            seen.add(str(user))
    for svc in by_section["services"]:
        ref(svc, "teams", svc.data.get("owner"), "owner")
        seen = set()
        for i, dep in _each(svc.data.get("depends_on")):
            if dep == svc.data.get("name"):
                problems.append(svc.problem("a service cannot depend on itself", "depends_on", i))
            else:
                ref(svc, "services", dep, "depends_on", i)
            if isinstance(dep, str) and dep in seen:
                problems.append(svc.problem(f"dependency {dep!r} is listed twice", "depends_on", i))
            seen.add(str(dep))
    for slo in by_section["slos"]:
        ref(slo, "services", slo.data.get("service"), "service")
    problems.extend(_cycles(by_section["services"]))
    _check_oncall(by_section, ref, problems)
    return problems


def _check_oncall(by_section: dict[str, list[Item]], ref: Any, problems: list[Problem]) -> None:
    """References of schedules, escalation policies and personal notification rules."""
    sections = {"user": "users", "schedule": "schedules", "team": "teams"}
    for sched in by_section["schedules"]:
        ref(sched, "teams", sched.data.get("team"), "team")
        for i, layer in _each(sched.data.get("layers")):
            if isinstance(layer, dict):
                for j, user in _each(layer.get("participants")):
                    ref(sched, "users", user, "layers", i, "participants", j)
    for policy in by_section["escalation_policies"]:
        ref(policy, "teams", policy.data.get("team"), "team")
        for i, level in _each(policy.data.get("levels")):
            targets = level.get("targets") if isinstance(level, dict) else None
            for j, target in _each(targets):
                if not isinstance(target, dict):
                    continue
                if set(target) == {"type", "name"}:
                    kind, name, key = target["type"], target["name"], "name"
                elif len(target) == 1:
                    kind, name = next(iter(target.items()))
                    key = kind
                else:
                    continue
                if kind in sections:
                    ref(policy, sections[kind], name, "levels", i, "targets", j, key)
    first: dict[str, Item] = {}
    for rules in by_section["notification_rules"]:
        user = rules.data.get("user")
        ref(rules, "users", user, "user")
        if isinstance(user, str) and user in first:
            problems.append(
                rules.problem(
                    f"duplicate notification rules of {user!r}"
                    f" (first defined at {first[user].where()})",
                    "user",
                )
            )
        elif isinstance(user, str):
            first[user] = rules
        for i, rule in _each(rules.data.get("rules")):
            if isinstance(rule, dict):
                ref(rules, "notification_channels", rule.get("channel"), "rules", i, "channel")
    for sev in by_section["incident_severities"]:
        for i, channel in _each(sev.data.get("channels")):
            ref(sev, "notification_channels", channel, "channels", i)
    _check_status_page(by_section["status_page"], ref, problems)


def _check_status_page(pages: list[Item], ref: Any, problems: list[Problem]) -> None:
    """One status page in the whole directory; its components name known services."""
    for page in pages[1:]:
        problems.append(page.problem(f"status_page is already defined at {pages[0].where()}"))
    for page in pages:
        for i, component in _each(page.data.get("components")):
            if not isinstance(component, dict):
                continue
            seen: set[str] = set()
            for j, service in _each(component.get("services")):
                ref(page, "services", service, "components", i, "services", j)
                if isinstance(service, str) and service in seen:
                    problems.append(
                        page.problem(
                            f"service {service!r} is listed twice", "components", i, "services", j
                        )
                    )
                seen.add(str(service))


def _each(value: Any) -> list[tuple[int, Any]]:
    return list(enumerate(value)) if isinstance(value, list) else []


def validate_directory(directory: Path) -> Catalog:
    """Load and check ``directory``; raise :class:`CatalogError` listing every problem."""
    catalog = load_directory(directory)
    problems = sorted({*catalog.problems, *check(catalog)})
    if problems:
        raise CatalogError(problems, str(directory))
    return catalog


def all_problems(catalog: Catalog) -> list[Problem]:
    """Per-file and cross-file problems of ``catalog``, sorted by file and position."""
    return sorted({*catalog.problems, *check(catalog)})


def _unique(items: Sequence[Item], kind: str, problems: list[Problem]) -> set[str]:
    first: dict[str, Item] = {}
    for item in items:
        name = item.data.get("name")
        if not isinstance(name, str):
            continue
        if name in first:
            problems.append(
                item.problem(
                    f"duplicate {kind} {name!r} (first defined at {first[name].where()})", "name"
                )
            )
        else:
            first[name] = item
    return set(first)


def _hint(ref: str, known: set[str]) -> str:
    close = difflib.get_close_matches(ref, sorted(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _cycles(services: Sequence[Item]) -> list[Problem]:
    """One problem per dependency cycle, at the edge that closes it."""
    graph: dict[str, list[str]] = {}
    where: dict[str, Item] = {}
    for svc in services:
        name = svc.data.get("name")
        if isinstance(name, str) and name not in graph:
            graph[name] = [str(d) for _, d in _each(svc.data.get("depends_on"))]
            where[name] = svc
    problems: list[Problem] = []
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []
    reported: set[frozenset[str]] = set()

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for i, dep in enumerate(graph.get(node, [])):
            if dep not in graph or dep == node:
                continue
            if state.get(dep) == 1:
                cycle = [*stack[stack.index(dep) :], dep]
                key = frozenset(cycle)
                if key not in reported:
                    reported.add(key)
                    problems.append(
                        where[node].problem(
                            "dependency cycle: " + " -> ".join(cycle), "depends_on", i
                        )
                    )
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for name in graph:
        if name not in state:
            visit(name)
    return problems
