"""The pure team-scope policy (ninefold.identity.authz.decide) as a table, and the guard's
behaviour outside requests (CLI, engine: no principal, nothing checked)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ninefold.errors import Forbidden
from ninefold.identity import guard
from ninefold.identity.authz import Actor, Principal, decide, token_label, user_label
from ninefold.identity.models import User
from ninefold.oncall import flows as oncall_flows
from ninefold.oncall.models import ScheduleRow
from tests import factories
from tests.conftest import T0

PAYMENTS, SEARCH = 1, 2
OWNERS_A = {PAYMENTS: "payments"}
OWNERS_B = {SEARCH: "search"}
OWNERS_AB = {PAYMENTS: "payments", SEARCH: "search"}

A_TOKEN = Actor("responder", frozenset([PAYMENTS]), token_label("ci", "payments"))
A_ADMIN_TOKEN = Actor("admin", frozenset([PAYMENTS]), token_label("ci", "payments"))
ORG_TOKEN = Actor("responder", None, token_label("ops", None))
ORG_ADMIN = Actor("admin", None, token_label("root", None))
VIEWER = Actor("viewer", None, token_label("dash", None))
A_VIEWER = Actor("viewer", frozenset([PAYMENTS]), token_label("dash", "payments"))
LONER = Actor("responder", frozenset(), user_label("zoe", []))
BOB = Actor("responder", frozenset([PAYMENTS]), user_label("bob", ["payments"]))

TABLE = [
    # actor, owners, needed, allowed, reason contains
    (A_TOKEN, OWNERS_A, "responder", True, "acts for team 'payments'"),
    (
        A_TOKEN,
        OWNERS_B,
        "responder",
        False,
        "token scoped to team 'payments' cannot change schedule 'search-primary' "
        "owned by team 'search'",
    ),
    (A_TOKEN, OWNERS_AB, "responder", True, "acts for team 'payments'"),
    (A_TOKEN, {}, "responder", True, "owned by no team"),
    (A_TOKEN, OWNERS_A, "admin", False, "has the responder role"),
    (A_ADMIN_TOKEN, OWNERS_A, "admin", True, "acts for"),
    (A_ADMIN_TOKEN, OWNERS_B, "admin", False, "owned by team 'search'"),
    (ORG_TOKEN, OWNERS_B, "responder", True, "org-wide"),
    (ORG_TOKEN, OWNERS_B, "admin", False, "has the responder role"),
    (ORG_ADMIN, OWNERS_A, "admin", True, "org-wide"),
    (ORG_ADMIN, OWNERS_AB, "responder", True, "org-wide"),
    (VIEWER, {}, "responder", False, "has the viewer role"),
    (VIEWER, OWNERS_B, "responder", False, "needs responder"),
    (A_VIEWER, OWNERS_A, "responder", False, "has the viewer role"),
    (LONER, OWNERS_A, "responder", False, "user 'zoe' (member of no team) cannot change"),
    (LONER, {}, "responder", True, "owned by no team"),
    (BOB, OWNERS_B, "responder", False, "user 'bob' (member of team 'payments') cannot change"),
    (BOB, OWNERS_AB, "responder", True, "acts for team 'payments'"),
]


@pytest.mark.parametrize(("actor", "owners", "needed", "allowed", "reason"), TABLE)
def test_policy_table(
    actor: Actor, owners: dict[int, str], needed: str, allowed: bool, reason: str
) -> None:
    decision = decide(actor, kind="schedule", name="search-primary", owners=owners, needed=needed)
    assert decision.allowed is allowed
    assert reason in decision.reason


def test_refusal_names_every_owning_team() -> None:
    loner = Actor("responder", frozenset([9]), token_label("x", "infra"))
    decision = decide(loner, kind="incident", name="7", owners=OWNERS_AB)
    assert not decision.allowed
    assert decision.reason == (
        "token scoped to team 'infra' cannot change incident '7' owned by teams "
        "'payments' and 'search'"
    )


LAYERS = [{"rotation": "daily", "start": "2026-01-05T09:00:00Z", "participants": ["carol"]}]


def _put(s: Session, tz: str) -> ScheduleRow:
    return oncall_flows.put_schedule(
        s, name="search-primary", layers=LAYERS, time_zone=tz, team="search", description=None,
        now=T0,
    )  # fmt: skip


def test_guard_checks_flows_only_when_a_principal_acts(
    session_factory: sessionmaker[Session],
) -> None:
    """The check sits in the flow: the same call is refused for a team-scoped principal and
    allowed for the CLI/engine (no principal) and for a member of the owning team."""
    with session_factory() as s, s.begin():
        payments = factories.team(s, "payments", T0)
        search = factories.team(s, "search", T0)
        s.add(User(name="carol", created_at=T0))
        _put(s, "UTC")
        payments_id, search_id = payments.id, search.id
    scoped = Principal("token", "ci", "admin", token_id=1, team_id=payments_id)
    refused = pytest.raises(Forbidden, match="owned by team 'search'")
    with session_factory() as s, s.begin(), guard.acting_as(scoped), refused:
        _put(s, "Europe/Paris")
    with session_factory() as s:
        assert s.scalars(select(ScheduleRow.time_zone)).one() == "UTC"  # nothing changed
    own = Principal("token", "ci", "admin", token_id=1, team_id=search_id)
    with session_factory() as s, s.begin(), guard.acting_as(own):
        assert _put(s, "Europe/Paris").time_zone == "Europe/Paris"
    with session_factory() as s, s.begin():  # a CLI command: no principal
        row = _put(s, "Asia/Tokyo")
        assert row.time_zone == "Asia/Tokyo"
    assert guard.current_principal() is None
