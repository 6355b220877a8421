"""Property-based fuzzing of the catalog YAML loader: whatever the text, ``load_text`` and the
cross-reference check answer with problems at ``file:line:column`` (or a catalog), and never raise.

Three kinds of input: arbitrary text (mostly not YAML at all), arbitrary YAML documents (JSON is
YAML, so random JSON values serialised both ways), and catalog-shaped documents whose sections and
field names are real but whose values are random, which reach the models' validation.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ninefold.catalog import loader, validate
from ninefold.catalog.loader import SECTIONS, Catalog, load_text

PATH = "fuzz.yaml"

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["5m", "30d", "0.999", "UTC", "Europe/Berlin", "weekly", "page", "-1", ""]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)


def _fields(section: str) -> list[str]:
    return sorted(SECTIONS[section].model_fields)


@st.composite
def catalog_docs(draw: st.DrawFn) -> dict[str, Any]:
    """A document with real section and field names and random values."""
    doc: dict[str, Any] = {}
    for section in draw(st.lists(st.sampled_from(sorted(SECTIONS)), max_size=3, unique=True)):
        fields = _fields(section)
        if section in loader.MAPPING_SECTIONS:
            doc[section] = draw(st.dictionaries(st.sampled_from(fields), json_values, max_size=5))
            continue
        item = st.dictionaries(
            st.one_of(st.sampled_from(fields), st.text(max_size=8)) if fields else st.text(),
            json_values,
            max_size=6,
        )
        doc[section] = draw(st.one_of(st.lists(item, max_size=3), json_values))
    return doc


def _check(text: str) -> Catalog:
    catalog = load_text(text, PATH)
    problems = list(catalog.problems)
    if not catalog.problems:
        problems = validate.check(catalog)
    for problem in problems:
        assert problem.file == PATH
        assert problem.line >= 1
        assert problem.column >= 1
        assert problem.message.strip()
        assert str(problem).startswith(f"{PATH}:{problem.line}:{problem.column}: ")
    return catalog


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=300))
@example(text="teams: [")
@example(text="- a\n- b")
@example(text="teams:\n  - name: a\n    name: b\n")
@example(text="? [a, b]\n: c\n")
@example(text="&a [*a]")
@example(text="teams: !!python/object:os.system {}")
@example(text="\ufeffservices: 3")
@example(text="slos:\n  - objective: .inf\n    window: {rolling: 99999999999999999999d}\n")
def test_arbitrary_text_gives_problems_or_a_catalog(text: str) -> None:
    _check(text)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(value=json_values, indent=st.sampled_from([None, 2]))
def test_arbitrary_yaml_documents(value: Any, indent: int | None) -> None:
    _check(json.dumps(value, indent=indent))


@settings(max_examples=250, suppress_health_check=[HealthCheck.too_slow])
@given(doc=catalog_docs(), indent=st.sampled_from([None, 2]))
def test_catalog_shaped_documents_with_random_values(
    doc: dict[str, Any], indent: int | None
) -> None:
    catalog = _check(json.dumps(doc, indent=indent))
    for problem in catalog.problems:
        assert problem.line <= json.dumps(doc, indent=indent).count("\n") + 1


def test_what_the_fuzzer_found() -> None:
    # an unknown key starting with a capital letter was taken for a pydantic union tag: IndexError
    problems = [str(p) for p in load_text("teams:\n  - Name: web\n", PATH).problems]
    assert f"{PATH}:2:5: team: unknown key 'Name' (did you mean 'name'?)" in problems[1]
    # an alias that contains itself, or aliases that expand exponentially: RecursionError / hang
    laughs = "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
        f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n" for p, n in zip("abcde", "bcdef", strict=True)
    )
    for text in ("&a [*a]", "teams: &t\n  - *t\n", laughs):
        (problem,) = load_text(text, PATH).problems
        assert "aliases expand to more than" in problem.message
    # very deep nesting: RecursionError, and the parser's time grows faster than depth squared
    (deep,) = load_text("teams: []\nx: " + "[" * 5000 + "]" * 5000, PATH).problems
    assert deep.line == 2
    assert deep.message.startswith("YAML error: the document is nested too deeply")
    blocks = "".join(f"{' ' * 2 * i}k:\n" for i in range(1200))  # block style, not flow
    assert load_text(blocks, PATH).problems[0].message.startswith("YAML error: the document is")
