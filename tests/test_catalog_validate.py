"""Catalog loading and validation: every problem reported with file:line:column."""

from __future__ import annotations

from pathlib import Path

import pytest

from ninefold.catalog.loader import SECTIONS, CatalogError, load_directory, load_text
from ninefold.catalog.spec import ConfigFile
from ninefold.catalog.validate import all_problems, validate_directory

DATA = Path(__file__).parent / "data" / "catalog"
EXAMPLES = Path(__file__).parent.parent / "examples"


def problems_of(tmp_path: Path, files: dict[str, str]) -> list[str]:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return [str(p) for p in all_problems(load_directory(tmp_path))]


def rel(lines: list[str], tmp_path: Path) -> list[str]:
    return [line.replace(f"{tmp_path}/", "") for line in lines]


def test_sections_follow_the_config_file_model() -> None:
    assert set(SECTIONS) == set(ConfigFile.model_fields)


def test_bundled_example_organisation_is_valid() -> None:
    catalog = validate_directory(EXAMPLES / "acme")
    assert len(catalog.teams) >= 3
    assert len(catalog.services) >= 8
    assert {s.spec.tier for s in catalog.services} == {0, 1, 2, 3}
    kinds = {s.spec.sli.kind for s in catalog.slos}
    assert kinds == {"ratio", "latency", "availability"}
    assert any(s.spec.budgeting == "timeslices" for s in catalog.slos)
    assert all(s.spec.source == "push" for s in catalog.slos)
    assert len(catalog.slos) >= 12


def test_valid_fixture_has_no_problems() -> None:
    catalog = validate_directory(DATA / "valid")
    assert [s.spec.name for s in catalog.services] == ["api", "db"]
    assert catalog.slos[0].spec.service == "api"


def test_unknown_keys_are_rejected_at_their_position(tmp_path: Path) -> None:
    text = (
        "teams:\n"
        "  - name: core\n"
        "    colour: blue\n"
        "    members:\n"
        "      - user: ann\n"
        "        rol: lead\n"
        "users:\n"
        "  - name: ann\n"
        "extra: 1\n"
    )
    lines = rel(problems_of(tmp_path, {"a.yaml": text}), tmp_path)
    assert lines[0].startswith("a.yaml:3:5: team 'core': unknown key 'colour'")
    assert lines[1].startswith("a.yaml:6:9: team 'core': unknown key 'rol' (did you mean 'role'?)")
    assert lines[2].startswith("a.yaml:9:1: unknown key 'extra'")
    assert len(lines) == 3


def test_bad_types_and_values_point_at_the_value(tmp_path: Path) -> None:
    text = (
        "services:\n"
        "  - name: api\n"
        "    owner: core\n"
        "    tier: high\n"
        "    links: {runbook: 3}\n"
        "slos:\n"
        "  - name: api-ok\n"
        "    service: api\n"
        "    objective: 1.5\n"
        "    window: {calendar: year}\n"
        "    sli: {ratio: {}}\n"
        "teams:\n"
        "  - name: core\n"
    )
    lines = rel(problems_of(tmp_path, {"s.yaml": text}), tmp_path)
    assert lines == [
        "s.yaml:4:11: service 'api': tier: Input should be a valid integer, "
        "unable to parse string as an integer (got 'high')",
        "s.yaml:5:22: service 'api': links.runbook: Input should be a valid string (got 3)",
        "s.yaml:9:16: SLO 'api-ok': objective: Input should be less than 1 (got 1.5)",
        "s.yaml:10:24: SLO 'api-ok': window.calendar: Input should be 'week', 'month' or "
        "'quarter' (got 'year')",
    ]


def test_missing_required_key_points_at_the_item(tmp_path: Path) -> None:
    text = "teams:\n  - name: core\nservices:\n  - name: api\n    tier: 1\n"
    lines = rel(problems_of(tmp_path, {"m.yaml": text}), tmp_path)
    assert lines == ["m.yaml:4:5: service 'api': missing required key 'owner'"]


def test_dangling_references_and_bad_fields_all_reported_in_one_run() -> None:
    with pytest.raises(CatalogError) as info:
        validate_directory(DATA / "invalid")
    found = [str(p).replace(f"{DATA}/invalid/", "") for p in info.value.problems]
    assert found == [
        "broken.yaml:4:5: duplicate key 'owner' (first at line 3)",
        "services.yaml:3:12: team 'ghosts' is not defined",
        "services.yaml:4:11: service 'api': tier: Input should be a valid integer, "
        "unable to parse string as an integer (got 'high')",
        "services.yaml:5:22: service 'missing' is not defined",
        "services.yaml:8:18: dependency cycle: api -> db -> api",
        "services.yaml:11:14: service 'apii' is not defined (did you mean 'api'?)",
        "syntax.yaml:3:1: YAML syntax error: expected ',' or ']', but got '<stream end>'",
        "teams.yaml:3:5: team 'core': unknown key 'colour'; allowed here: name, display_name, "
        "description, contact, members",
        "teams.yaml:5:15: user 'nobody' is not defined",
        "teams.yaml:8:11: user 'ann': role: Input should be 'viewer', 'responder' or 'admin' "
        "(got 'superuser')",
    ]
    assert "10 problems" in info.value.message


def test_duplicates_across_files_name_the_first_definition(tmp_path: Path) -> None:
    lines = rel(
        problems_of(
            tmp_path,
            {
                "a.yaml": "teams:\n  - name: core\n",
                "b.yaml": "teams:\n  - name: other\n  - name: core\n",
            },
        ),
        tmp_path,
    )
    assert len(lines) == 1
    assert lines[0].startswith("b.yaml:3:11: duplicate team 'core' (first defined at ")
    assert lines[0].endswith("a.yaml:2:5)")


def test_self_dependency_duplicate_member_and_three_service_cycle(tmp_path: Path) -> None:
    text = (
        "users: [{name: ann}]\n"
        "teams:\n"
        "  - name: core\n"
        "    members: [{user: ann}, {user: ann}]\n"
        "services:\n"
        "  - {name: a, owner: core, depends_on: [b]}\n"
        "  - {name: b, owner: core, depends_on: [c]}\n"
        "  - {name: c, owner: core, depends_on: [a, c]}\n"
    )
    lines = rel(problems_of(tmp_path, {"x.yaml": text}), tmp_path)
    assert "x.yaml:4:35: user 'ann' is listed twice" in lines
    assert any("a service cannot depend on itself" in line for line in lines)
    assert sum("dependency cycle: a -> b -> c -> a" in line for line in lines) == 1


def test_top_level_must_be_a_mapping_and_sections_lists(tmp_path: Path) -> None:
    assert rel(problems_of(tmp_path, {"a.yaml": "- 1\n"}), tmp_path)[0].startswith(
        "a.yaml:1:1: a catalog file must be a mapping"
    )
    (tmp_path / "a.yaml").unlink()
    lines = rel(problems_of(tmp_path, {"b.yaml": "teams:\n  name: core\n"}), tmp_path)
    assert lines == ["b.yaml:2:3: teams must be a list (each item starting with '-')"]


def test_empty_directory_and_missing_directory(tmp_path: Path) -> None:
    assert "no *.yaml" in str(all_problems(load_directory(tmp_path))[0])
    assert "not a directory" in str(all_problems(load_directory(tmp_path / "nope"))[0])


def test_empty_file_and_empty_sections_are_fine(tmp_path: Path) -> None:
    assert problems_of(tmp_path, {"a.yaml": "", "b.yml": "teams:\nslos: []\n"}) == []


def test_window_union_reports_the_closest_alternative() -> None:
    text = (
        "slos:\n"
        "  - name: x\n"
        "    service: s\n"
        "    objective: 0.9\n"
        "    window: {rolling: 30x}\n"
        "    sli: {ratio: {}}\n"
    )
    catalog = load_text(text, "w.yaml")
    assert [str(p) for p in catalog.problems] == [
        "w.yaml:5:23: SLO 'x': window.rolling: invalid duration '30x': use a number and a "
        "unit (s, m, h, d, w), e.g. 5m"
    ]
