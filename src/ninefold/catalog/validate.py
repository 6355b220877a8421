"""Cross-file checks of a loaded catalog: duplicate names, dangling references, dependency cycles."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ninefold.catalog.loader import KIND_OF, Catalog, CatalogError, Entry, Problem, load_directory


def check(catalog: Catalog) -> list[Problem]:
    """Every cross-reference problem of ``catalog`` (its per-file problems are not repeated)."""
    problems: list[Problem] = []
    names: dict[str, set[str]] = {}
    for section in ("users", "teams", "services", "slos"):
        entries: list[Entry[Any]] = getattr(catalog, section)
        names[section] = _unique(entries, KIND_OF[section], problems)
        names[section] |= catalog.invalid_names.get(section, set())

    def dangling(entry: Entry[Any], section: str, ref: str, *loc: str | int) -> None:
        if ref not in names[section]:
            problems.append(
                entry.problem(
                    f"{KIND_OF[section]} {ref!r} is not defined{_hint(ref, names[section])}", *loc
                )
            )

    for team in catalog.teams:
        seen: set[str] = set()
        for i, member in enumerate(team.spec.members):
            dangling(team, "users", member.user, "members", i, "user")
            if member.user in seen:
                problems.append(
                    team.problem(f"user {member.user!r} is listed twice", "members", i, "user")
                )
            seen.add(member.user)
    for svc in catalog.services:
        dangling(svc, "teams", svc.spec.owner, "owner")
        seen = set()
        for i, dep in enumerate(svc.spec.depends_on):
            if dep == svc.spec.name:
                problems.append(svc.problem("a service cannot depend on itself", "depends_on", i))
            else:
                dangling(svc, "services", dep, "depends_on", i)
            if dep in seen:
                problems.append(svc.problem(f"dependency {dep!r} is listed twice", "depends_on", i))
            seen.add(dep)
    for slo in catalog.slos:
        dangling(slo, "services", slo.spec.service, "service")
    problems.extend(_cycles(catalog.services))
    return problems


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


def _unique(entries: Sequence[Entry[Any]], kind: str, problems: list[Problem]) -> set[str]:
    first: dict[str, Entry[Any]] = {}
    for entry in entries:
        name = entry.spec.name
        if name in first:
            problems.append(
                entry.problem(
                    f"duplicate {kind} {name!r} (first defined at {first[name].where()})", "name"
                )
            )
        else:
            first[name] = entry
    return set(first)


def _hint(ref: str, known: set[str]) -> str:
    close = difflib.get_close_matches(ref, sorted(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _cycles(services: Sequence[Entry[Any]]) -> list[Problem]:
    """One problem per dependency cycle, at the edge that closes it."""
    graph: dict[str, list[str]] = {}
    where: dict[str, Entry[Any]] = {}
    for svc in services:
        if svc.spec.name not in graph:
            graph[svc.spec.name] = list(svc.spec.depends_on)
            where[svc.spec.name] = svc
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
