"""Pure team-scoped authorisation policy: may this principal change that team-owned object?

No I/O: :mod:`ninefold.identity.guard` resolves who is acting and who owns the object from the
database, then asks :func:`decide`. The rules, in order:

1. Changing anything needs at least the ``responder`` role (``admin`` for admin operations);
   a ``viewer`` is refused.
2. An org-wide principal (an unscoped token, an admin console user) may change anything, as
   before team scoping existed.
3. An object no team owns (a schedule without a team, an alert without a service, an incident
   without services) may be changed by every principal with the role.
4. A team-scoped principal (a token with a team; a non-admin console user, who acts for the teams
   they are a member of) may change an object when it acts for one of the object's owning teams
   (an incident touching the services of several teams belongs to each of them).

Reads are not scoped: everyone with a token or a login sees the whole organisation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ninefold.identity.tokens import role_allows

WRITE_ROLE = "responder"


@dataclass(frozen=True)
class Principal:
    """Who is calling, as the edges (API token dependency, console session) know it.

    ``kind`` is ``token`` or ``user``; a token's ``team_id`` is its scope (None: org-wide); a
    console user's teams are their memberships, looked up when a change needs them.
    """

    kind: str
    name: str
    role: str
    token_id: int | None = None
    team_id: int | None = None
    user_id: int | None = None


@dataclass(frozen=True)
class Actor:
    """A principal resolved for a decision: its role and the teams it acts for.

    ``teams`` is None for an org-wide principal; ``label`` names it in messages, e.g.
    ``token scoped to team 'payments'``.
    """

    role: str
    teams: frozenset[int] | None
    label: str


@dataclass(frozen=True)
class Decision:
    """Allowed or not, and why (the message of a refusal)."""

    allowed: bool
    reason: str


def _teams_phrase(names: list[str]) -> str:
    quoted = [repr(n) for n in sorted(names)]
    if len(quoted) == 1:
        return f"team {quoted[0]}"
    return "teams " + ", ".join(quoted[:-1]) + " and " + quoted[-1]


def token_label(name: str, team: str | None) -> str:
    """How a token is named in a refusal."""
    return f"token scoped to team {team!r}" if team else f"token {name!r}"


def user_label(name: str, teams: list[str]) -> str:
    """How a console user is named in a refusal."""
    where = _teams_phrase(teams) if teams else "no team"
    return f"user {name!r} (member of {where})"


def decide(
    actor: Actor,
    *,
    kind: str,
    name: str,
    owners: Mapping[int, str],
    needed: str = WRITE_ROLE,
) -> Decision:
    """May ``actor`` change the ``kind`` called ``name`` owned by ``owners`` (team id → name)?"""
    if not role_allows(actor.role, needed):
        return Decision(
            False,
            f"{actor.label} has the {actor.role} role; changing {kind} {name!r} needs {needed}",
        )
    if actor.teams is None:
        return Decision(True, "org-wide")
    if not owners:
        return Decision(True, f"{kind} {name!r} is owned by no team")
    shared = actor.teams & owners.keys()
    if shared:
        return Decision(True, f"acts for {_teams_phrase([owners[t] for t in shared])}")
    owned_by = _teams_phrase(list(owners.values()))
    return Decision(False, f"{actor.label} cannot change {kind} {name!r} owned by {owned_by}")
