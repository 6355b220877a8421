"""Catalog apply: idempotent sync with a diff, dry run, deletes of managed objects, export."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ninefold.catalog import store
from ninefold.catalog.flows import Change, apply_directory, export_catalog
from ninefold.catalog.importers import to_yaml
from ninefold.catalog.loader import CatalogError
from ninefold.catalog.models import Service, ServiceDependency
from ninefold.catalog.validate import validate_directory
from ninefold.errors import ConfigError
from ninefold.identity.models import Team, User
from ninefold.slo.models import SLO

ACME = Path(__file__).parent.parent / "examples" / "acme"
NOW = datetime(2026, 11, 1, tzinfo=UTC)


def apply(
    factory: sessionmaker[Session], directory: Path, *, dry_run: bool = False
) -> list[Change]:
    with factory() as session, session.begin():
        return apply_directory(session, directory, dry_run=dry_run, now=NOW).changes


def counts(factory: sessionmaker[Session]) -> tuple[int, ...]:
    with factory() as session:
        return tuple(
            session.scalar(select(func.count()).select_from(model)) or 0
            for model in (User, Team, Service, SLO)
        )


@pytest.fixture
def acme(tmp_path: Path) -> Path:
    target = tmp_path / "acme"
    shutil.copytree(ACME, target)
    return target


def test_apply_acme_twice_gives_an_empty_diff(session_factory: sessionmaker[Session]) -> None:
    first = apply(session_factory, ACME)
    assert {c.op for c in first} == {"create"}
    assert counts(session_factory) == (7, 4, 9, 12)
    assert apply(session_factory, ACME) == []
    with session_factory() as session:
        checkout = store.get_service(session, name="checkout")
        assert checkout.owner.name == "payments"
        assert sorted(d.depends_on.name for d in checkout.dependencies) == [
            "auth",
            "catalog",
            "payments-api",
        ]
        assert checkout.managed
        assert checkout.gate_min_budget == 0.1
        payments = store.get_team(session, name="payments")
        assert [(m.user.name, m.role) for m in payments.members] == [
            ("alice", "lead"),
            ("bob", "member"),
            ("frank", "member"),
        ]
        slo = session.scalar(select(SLO).where(SLO.name == "payments-api-availability"))
        assert slo is not None
        assert slo.managed
        assert slo.spec["window"] == {"calendar": "month", "timezone": "America/New_York"}
        assert slo.sli_kind == "ratio"
        assert slo.source == "push"


def test_dry_run_changes_nothing(session_factory: sessionmaker[Session]) -> None:
    planned = apply(session_factory, ACME, dry_run=True)
    assert len(planned) == 40  # 32 catalog objects, 4 schedules, 4 escalation policies
    assert counts(session_factory) == (0, 0, 0, 0)
    assert apply(session_factory, ACME) == planned


def test_updates_list_changed_fields_and_deletes_removed_managed_objects(
    session_factory: sessionmaker[Session], acme: Path
) -> None:
    apply(session_factory, acme)
    services = (acme / "services.yaml").read_text()
    services = services.replace("    tier: 3\n", "    tier: 2\n")
    services = services.replace("depends_on: [catalog, search-api]", "depends_on: [catalog]")
    (acme / "services.yaml").write_text(services)
    slos = (acme / "slos.yaml").read_text()
    slos = slos.replace("objective: 0.95\n", "objective: 0.97\n")
    start = slos.index("  - name: search-latency")
    end = slos.index("  - name: recommendations-probe")
    (acme / "slos.yaml").write_text(slos[:start] + slos[end:])
    teams = (acme / "teams.yaml").read_text()
    (acme / "teams.yaml").write_text(teams.replace("      - user: frank\n", "", 1))

    dry = apply(session_factory, acme, dry_run=True)
    changes = apply(session_factory, acme)
    assert dry == changes
    assert Change("update", "service", "recommendations", ("tier", "depends_on")) in changes
    assert Change("update", "slo", "recommendations-probe", ("objective", "spec")) in changes
    assert Change("update", "team", "payments", ("members",)) in changes
    assert Change("delete", "slo", "search-latency") in changes
    assert len(changes) == 4
    assert apply(session_factory, acme) == []
    with session_factory() as session:
        assert session.scalar(select(SLO).where(SLO.name == "search-latency")) is None
        rec = store.get_service(session, name="recommendations")
        assert rec.tier == 2
        assert [d.depends_on.name for d in rec.dependencies] == ["catalog"]
        assert [m.user.name for m in store.get_team(session, name="payments").members] == [
            "alice",
            "bob",
        ]


def test_removing_a_file_deletes_its_managed_objects_in_dependency_order(
    session_factory: sessionmaker[Session], acme: Path
) -> None:
    apply(session_factory, acme)
    with session_factory() as session, session.begin():
        manual = Service(
            name="manual",
            owner=store.get_team(session, name="platform"),
            created_at=NOW,
            updated_at=NOW,
            dependencies=[],
        )
        session.add(manual)
        session.flush()
        manual.dependencies.append(
            ServiceDependency(depends_on_id=store.get_service(session, name="auth").id)
        )
    (acme / "slos.yaml").unlink()
    (acme / "services.yaml").unlink()
    changes = apply(session_factory, acme)
    ops = [(c.op, c.kind) for c in changes]
    assert ops == [("delete", "slo")] * 12 + [("delete", "service")] * 9
    assert counts(session_factory) == (7, 4, 1, 0)
    with session_factory() as session:
        assert store.get_service(session, name="manual").dependencies == []


def test_unmanaged_objects_are_kept_and_adopted_when_named(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session, session.begin():
        session.add(User(name="alice", role="viewer", created_at=NOW))
        session.add(User(name="outsider", created_at=NOW))
    changes = apply(session_factory, ACME)
    alice = next(c for c in changes if c.name == "alice")
    assert alice.op == "update"
    assert set(alice.fields) == {"email", "display_name", "role", "timezone", "managed"}
    with session_factory() as session:
        outsider = session.scalar(select(User).where(User.name == "outsider"))
        assert outsider is not None
        assert not outsider.managed
    assert apply(session_factory, ACME) == []


def test_deleting_a_team_that_owns_unmanaged_services_is_refused(
    session_factory: sessionmaker[Session], acme: Path
) -> None:
    apply(session_factory, acme)
    with session_factory() as session, session.begin():
        team = store.get_team(session, name="search")
        session.add(
            Service(name="manual", owner=team, created_at=NOW, updated_at=NOW, dependencies=[])
        )
    for name in ("slos.yaml", "services.yaml", "oncall.yaml"):
        (acme / name).unlink()
    teams = (acme / "teams.yaml").read_text()
    start = teams.index("  - name: search\n")
    end = teams.index("  - name: identity\n")
    (acme / "teams.yaml").write_text(teams[:start] + teams[end:])
    with pytest.raises(ConfigError, match=r"cannot delete team 'search'.*manual"):
        apply(session_factory, acme, dry_run=True)
    assert counts(session_factory) == (7, 4, 10, 12)


def test_invalid_directory_raises_with_every_problem(
    session_factory: sessionmaker[Session],
) -> None:
    with pytest.raises(CatalogError) as info:
        apply(session_factory, Path(__file__).parent / "data" / "catalog" / "invalid")
    assert len(info.value.problems) == 10
    assert isinstance(info.value, ConfigError)
    assert counts(session_factory) == (0, 0, 0, 0)


def test_export_round_trips(session_factory: sessionmaker[Session], tmp_path: Path) -> None:
    apply(session_factory, ACME)
    with session_factory() as session:
        exported = export_catalog(session)
    out = tmp_path / "export"
    out.mkdir()
    (out / "catalog.yaml").write_text(to_yaml(exported))
    catalog = validate_directory(out)
    assert len(catalog.slos) == 12
    assert apply(session_factory, out) == []
