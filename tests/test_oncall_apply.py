"""Catalog-as-code for on-call: schedules, escalation policies, notification channels and
personal notification rules in the YAML that ``ninefold apply`` syncs."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ninefold.catalog.flows import Change, apply_directory, export_catalog
from ninefold.catalog.importers import to_yaml
from ninefold.catalog.loader import CatalogError, load_directory
from ninefold.catalog.validate import all_problems, validate_directory
from ninefold.errors import ConfigError
from ninefold.notification import store as channel_store
from ninefold.notification.models import NotificationChannel
from ninefold.oncall import flows as oncall_flows
from ninefold.oncall import store as oncall_store
from ninefold.oncall.models import EscalationPolicyRow, NotificationRuleRow, ScheduleRow

ACME = Path(__file__).parent.parent / "examples" / "acme"
NOW = datetime(2026, 11, 1, tzinfo=UTC)

PEOPLE = """\
users:
  - name: alice
  - name: bob
  - name: carol
teams:
  - name: payments
    members: [{user: alice}, {user: bob}]
"""

ONCALL = """\
notification_channels:
  - name: alice-email
    kind: email
    target: alice@example.com
  - name: alice-phone
    kind: webhook
    target: https://pager.example.com/alice
    secret_env: ALICE_PHONE_SECRET
schedules:
  - name: payments-primary
    team: payments
    time_zone: Europe/Berlin
    description: weekly, Monday 09:00
    layers:
      - name: weekly
        rotation: weekly
        start: 2026-01-05T09:00:00+01:00
        handoff: "09:00"
        handoff_weekday: monday
        participants: [alice, bob]
escalation_policies:
  - name: payments
    team: payments
    repeat: 1
    levels:
      - delay: 10m
        targets: [{schedule: payments-primary}]
      - delay: 15m
        targets: [{user: alice}, {team: payments}]
notification_rules:
  - user: alice
    rules: [{after: 0m, channel: alice-email}, {after: 5m, channel: alice-phone}]
"""


def apply(
    factory: sessionmaker[Session], directory: Path, *, dry_run: bool = False
) -> list[Change]:
    with factory() as session, session.begin():
        return apply_directory(session, directory, dry_run=dry_run, now=NOW).changes


def write(directory: Path, **files: str) -> Path:
    directory.mkdir(exist_ok=True)
    for name, text in files.items():
        (directory / f"{name}.yaml").write_text(textwrap.dedent(text))
    return directory


def counts(factory: sessionmaker[Session]) -> tuple[int, ...]:
    with factory() as session:
        return tuple(
            session.scalar(select(func.count()).select_from(model)) or 0
            for model in (
                NotificationChannel,
                ScheduleRow,
                EscalationPolicyRow,
                NotificationRuleRow,
            )
        )


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALICE_PHONE_SECRET", "s3cret-signing-key")


@pytest.fixture
def org(tmp_path: Path) -> Path:
    return write(tmp_path / "org", people=PEOPLE, oncall=ONCALL)


def problems_of(directory: Path) -> list[str]:
    return [
        str(p).removeprefix(str(directory) + "/") for p in all_problems(load_directory(directory))
    ]


# --- apply -------------------------------------------------------------------------------------


def test_apply_creates_on_call_objects_and_a_second_apply_changes_nothing(
    session_factory: sessionmaker[Session], org: Path
) -> None:
    changes = apply(session_factory, org)
    on_call = [(c.op, c.kind, c.name) for c in changes if c.kind not in ("user", "team")]
    assert on_call == [
        ("create", "channel", "alice-email"),
        ("create", "channel", "alice-phone"),
        ("create", "schedule", "payments-primary"),
        ("create", "escalation_policy", "payments"),
        ("create", "notification_rules", "alice"),
    ]
    assert apply(session_factory, org) == []
    with session_factory() as session:
        sched = oncall_store.get_schedule(session, name="payments-primary")
        assert sched.managed
        assert sched.team is not None
        assert sched.team.name == "payments"
        assert sched.time_zone == "Europe/Berlin"
        # 2026-11-02 is a Monday, week 43 after the start: alice until 09:00 Berlin time
        # (08:00 UTC), then bob
        assert oncall_flows.on_call(
            session, schedule="payments-primary", at=datetime(2026, 11, 2, 7, 59, tzinfo=UTC)
        ) == ["alice"]
        assert oncall_flows.on_call(
            session, schedule="payments-primary", at=datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
        ) == ["bob"]
        policy = oncall_flows.policy_of(oncall_store.get_policy(session, name="payments"))
        assert policy.repeat == 1
        assert [(t.kind, t.name) for t in policy.levels[1].targets] == [
            ("user", "alice"),
            ("team", "payments"),
        ]
        assert oncall_store.get_policy(session, name="payments").managed
        rules = oncall_store.rules_by_user(session, names=["alice"])["alice"]
        assert [(r.delay_seconds, r.channel, r.managed) for r in rules] == [
            (0, "alice-email", True),
            (300, "alice-phone", True),
        ]
        phone = channel_store.get_channel(session, name="alice-phone")
        assert (phone.secret, phone.managed) == ("s3cret-signing-key", True)
        assert channel_store.get_channel(session, name="alice-email").secret is None


def test_dry_run_writes_nothing_and_matches_the_real_run(
    session_factory: sessionmaker[Session], org: Path
) -> None:
    planned = apply(session_factory, org, dry_run=True)
    assert counts(session_factory) == (0, 0, 0, 0)
    assert apply(session_factory, org) == planned
    assert counts(session_factory) == (2, 1, 1, 2)


def test_changes_are_updates_with_their_fields_and_removals_delete_managed_rows(
    session_factory: sessionmaker[Session], org: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    apply(session_factory, org)
    text = ONCALL.replace("participants: [alice, bob]", "participants: [bob, alice]")
    text = text.replace("repeat: 1", "repeat: 2")
    text = text.replace("{after: 5m, channel: alice-phone}", "{after: 10m, channel: alice-phone}")
    write(org, oncall=text)
    monkeypatch.setenv("ALICE_PHONE_SECRET", "rotated-signing-key")
    dry = apply(session_factory, org, dry_run=True)
    assert apply(session_factory, org) == dry
    assert dry == [
        Change("update", "channel", "alice-phone", ("secret",)),
        Change("update", "schedule", "payments-primary", ("layers",)),
        Change("update", "escalation_policy", "payments", ("repeat",)),
        Change("update", "notification_rules", "alice", ("rules",)),
    ]
    assert apply(session_factory, org) == []

    (org / "oncall.yaml").unlink()
    gone = apply(session_factory, org)
    assert gone == [
        Change("delete", "notification_rules", "alice"),
        Change("delete", "escalation_policy", "payments"),
        Change("delete", "schedule", "payments-primary"),
        Change("delete", "channel", "alice-email"),
        Change("delete", "channel", "alice-phone"),
    ]
    assert counts(session_factory) == (0, 0, 0, 0)


def test_rows_made_through_the_api_are_kept_and_adopted_when_named(
    session_factory: sessionmaker[Session], org: Path
) -> None:
    write(org, oncall="")
    apply(session_factory, org)
    layers = [{"rotation": "daily", "start": "2026-01-05T09:00:00Z", "participants": ["carol"]}]
    with session_factory() as session, session.begin():
        channel_store.add_channel(
            session,
            name="carol-email",
            kind="email",
            target="carol@example.com",
            secret=None,
            enabled=True,
            now=NOW,
        )
        for name in ("manual", "payments-primary"):
            oncall_flows.put_schedule(
                session,
                name=name,
                layers=layers,
                time_zone="UTC",
                team=None,
                description=None,
                now=NOW,
            )
        oncall_flows.put_policy(
            session,
            name="manual",
            levels=[{"delay": "5m", "targets": [{"schedule": "manual"}]}],
            repeat=0,
            team=None,
            description=None,
            now=NOW,
        )
        oncall_flows.put_rules(
            session, user="carol", rules=[{"after": 0, "channel": "carol-email"}], now=NOW
        )
    write(org, oncall=ONCALL)
    changes = apply(session_factory, org)
    adopted = next(c for c in changes if c.name == "payments-primary")
    assert adopted.op == "update"
    assert set(adopted.fields) == {"team", "time_zone", "description", "layers", "managed"}
    assert not [c for c in changes if c.op == "delete"]
    write(org, oncall="")
    removed = apply(session_factory, org)
    assert {(c.op, c.kind, c.name) for c in removed} == {
        ("delete", "notification_rules", "alice"),
        ("delete", "escalation_policy", "payments"),
        ("delete", "schedule", "payments-primary"),
        ("delete", "channel", "alice-email"),
        ("delete", "channel", "alice-phone"),
    }
    with session_factory() as session:
        assert not oncall_store.get_schedule(session, name="manual").managed
        assert not oncall_store.get_policy(session, name="manual").managed
        assert [
            r.channel for r in oncall_store.rules_by_user(session, names=["carol"])["carol"]
        ] == ["carol-email"]
        assert channel_store.get_channel(session, name="carol-email").managed is False


def test_deleting_a_schedule_an_api_policy_pages_is_refused(
    session_factory: sessionmaker[Session], org: Path
) -> None:
    apply(session_factory, org)
    with session_factory() as session, session.begin():
        oncall_flows.put_policy(
            session,
            name="manual",
            levels=[{"delay": "5m", "targets": [{"schedule": "payments-primary"}]}],
            repeat=0,
            team=None,
            description=None,
            now=NOW,
        )
    write(org, oncall="")
    with pytest.raises(ConfigError, match=r"cannot delete schedule 'payments-primary'.*manual"):
        apply(session_factory, org, dry_run=True)
    assert counts(session_factory) == (2, 1, 2, 2)


def test_a_missing_secret_variable_is_a_problem_at_its_line(
    session_factory: sessionmaker[Session], org: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ALICE_PHONE_SECRET")
    with pytest.raises(CatalogError) as info:
        apply(session_factory, org, dry_run=True)
    assert [str(p).removeprefix(str(org) + "/") for p in info.value.problems] == [
        "oncall.yaml:8:17: environment variable ALICE_PHONE_SECRET (the channel's secret) is not set"
    ]
    assert counts(session_factory) == (0, 0, 0, 0)


def test_acme_has_a_schedule_and_a_team_policy_per_team(
    session_factory: sessionmaker[Session],
) -> None:
    apply(session_factory, ACME)
    assert apply(session_factory, ACME) == []
    with session_factory() as session:
        unowned = [s.name for s in oncall_store.list_schedules(session) if s.team is None]
        assert unowned == []
        for team in ("payments", "platform", "search", "identity"):
            row = oncall_store.team_by_name(session, name=team)
            policy = oncall_store.team_policy(session, team_id=row.id)
            assert policy is not None
            assert policy.managed
            assert oncall_flows.on_call(session, schedule=f"{team}-primary", at=NOW)


def test_export_writes_on_call_back_and_round_trips(
    session_factory: sessionmaker[Session],
    org: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    apply(session_factory, org)
    with session_factory() as session:
        exported = export_catalog(session)
    assert exported["notification_channels"][1] == {
        "name": "alice-phone",
        "kind": "webhook",
        "target": "https://pager.example.com/alice",
        "secret_env": "NINEFOLD_SECRET_ALICE_PHONE",
    }
    assert exported["notification_rules"] == [
        {
            "user": "alice",
            "rules": [
                {"after": "0m", "channel": "alice-email"},
                {"after": "5m", "channel": "alice-phone"},
            ],
        }
    ]
    out = tmp_path / "export"
    out.mkdir()
    (out / "catalog.yaml").write_text(to_yaml(exported))
    catalog = validate_directory(out)
    assert (len(catalog.schedules), len(catalog.escalation_policies)) == (1, 1)
    monkeypatch.setenv("NINEFOLD_SECRET_ALICE_PHONE", "s3cret-signing-key")
    assert apply(session_factory, out) == []


# --- validation: every kind of mistake at its file:line:column ---------------------------------


def test_each_kind_of_mistake_is_reported_at_its_line(tmp_path: Path) -> None:
    broken = """\
    notification_channels:
      - name: hook
        kind: webhook
        target: not-a-url
    schedules:
      - name: bad-rotation
        layers:
          - rotation: fortnightly
            start: 2026-01-05T09:00:00Z
            participants: [alice]
      - name: bad-zone
        time_zone: Mars/Olympus
        layers: [{start: 2026-01-05T09:00:00Z, participants: [alice]}]
      - name: bad-layer-zone
        layers:
          - start: 2026-01-05T09:00:00Z
            zone: Europe/Atlantis
            participants: [alice]
      - name: ghost-user
        team: ghosts
        layers:
          - start: 2026-01-05T09:00:00Z
            participants: [alice, zed]
      - name: bad-restriction
        layers:
          - start: 2026-01-05T09:00:00Z
            participants: [alice]
            restrictions: [{type: daily, start: "9am", end: "17:00"}]
    escalation_policies:
      - name: refs
        levels:
          - delay: 10m
            targets: [{schedule: nope}, {user: zed}, {team: ghosts}]
      - name: bad-delay
        levels:
          - delay: soon
            targets: [{user: alice}]
      - name: typo
        level: []
    notification_rules:
      - user: alice
        rules: [{after: 0m, channel: alice-pager}]
      - user: bob
        rules: [{after: 5 minutes, channel: alice-email}]
    """
    org = write(
        tmp_path / "org",
        people=PEOPLE,
        channels="notification_channels: [{name: alice-email, kind: email, target: a@x.io}]\n",
        oncall=broken,
    )
    assert problems_of(org) == [
        "oncall.yaml:4:13: notification channel 'hook': target: a webhook channel needs an http(s) URL",
        "oncall.yaml:8:19: schedule 'bad-rotation': layers[0].rotation: must be hourly, daily,"
        " weekly or custom",
        "oncall.yaml:12:16: schedule 'bad-zone': time_zone: unknown IANA time zone 'Mars/Olympus'",
        "oncall.yaml:17:15: schedule 'bad-layer-zone': layers[0].zone: unknown IANA time zone",
        "oncall.yaml:20:11: team 'ghosts' is not defined",
        "oncall.yaml:23:31: user 'zed' is not defined",
        "oncall.yaml:28:45: schedule 'bad-restriction': layers[0].restrictions[0].start: a wall"
        ' time is HH:MM, e.g. "09:00"',
        "oncall.yaml:33:30: schedule 'nope' is not defined",
        "oncall.yaml:33:44: user 'zed' is not defined",
        "oncall.yaml:33:57: team 'ghosts' is not defined",
        "oncall.yaml:36:16: escalation policy 'bad-delay': levels[0].delay: invalid duration"
        " 'soon': use a number and a unit (s, m, h, d, w), e.g. 5m",
        "oncall.yaml:38:5: escalation policy 'typo': missing required key 'levels'",
        "oncall.yaml:39:5: escalation policy 'typo': unknown key 'level' (did you mean 'levels'?);"
        " allowed here: name, team, description, repeat, levels",
        "oncall.yaml:42:34: notification channel 'alice-pager' is not defined (did you mean"
        " 'alice-email'?)",
        "oncall.yaml:44:21: notification rules of 'bob': rules[0].after: invalid duration"
        " '5 minutes': use a number and a unit (s, m, h, d, w), e.g. 5m",
    ]


def test_duplicates_and_a_valid_directory(tmp_path: Path) -> None:
    dupes = ONCALL + "  - user: alice\n    rules: []\n"
    dupes = dupes.replace(
        "schedules:\n",
        "schedules:\n  - {name: payments-primary, layers: [{start: 2026-01-05T09:00:00Z, participants: [bob]}]}\n",
    )
    org = write(tmp_path / "org", people=PEOPLE, oncall=dupes)
    found = problems_of(org)
    assert any(
        p.startswith("oncall.yaml:11:11: duplicate schedule 'payments-primary' (first defined at")
        for p in found
    ), found
    assert any(
        p.startswith("oncall.yaml:34:11: duplicate notification rules of 'alice'") for p in found
    ), found
    good = write(tmp_path / "good", people=PEOPLE, oncall=ONCALL)
    assert problems_of(good) == []
    assert problems_of(ACME) == []
