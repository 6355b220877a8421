"""Catalog use cases: apply a YAML directory to the database (idempotent, with a diff) and export.

The apply works on name-keyed snapshots: the desired state comes from the validated YAML, the
current state from the database, both as plain values. Their difference is the :class:`Diff`,
the same in dry-run and real runs; a real run then writes the desired values in the caller's
transaction. Objects with ``managed=True`` that the YAML no longer mentions are deleted; objects
the YAML creates, or that it names and that already existed, become managed.

On-call objects (notification channels, schedules, escalation policies, a user's personal
notification rules) are written through the same ``ninefold.oncall`` flows as the API, with
``managed=True``. A channel's secret is read from the environment variable its ``secret_env``
names when the apply runs; it is compared like any field but never shown.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from ninefold.catalog import store
from ninefold.catalog.loader import Catalog, CatalogError, Problem
from ninefold.catalog.models import Service, ServiceDependency
from ninefold.catalog.spec import (
    EscalationPolicySpec,
    NotificationChannelSpec,
    NotificationRulesSpec,
    ScheduleSpec,
    ServiceSpec,
    SLOSpec,
    TeamSpec,
    UserSpec,
)
from ninefold.catalog.validate import validate_directory
from ninefold.core.clock import SystemClock
from ninefold.errors import ConfigError
from ninefold.identity.models import Team, TeamMember, User
from ninefold.incident import store as incident_store
from ninefold.incident.models import IncidentRoleRow, IncidentSeverityRow
from ninefold.notification import store as channel_store
from ninefold.notification.models import NotificationChannel
from ninefold.oncall import flows as oncall_flows
from ninefold.oncall import store as oncall_store
from ninefold.oncall.escalation import parse_rules
from ninefold.oncall.models import NotificationRuleRow
from ninefold.slo.models import SLO
from ninefold.statuspage import catalog as statuspage_catalog

KINDS = (
    "user",
    "team",
    "service",
    "slo",
    "channel",
    "schedule",
    "escalation_policy",
    "notification_rules",
    "incident_severity",
    "incident_role",
    *statuspage_catalog.KINDS,
)
Snapshot = dict[str, dict[str, dict[str, Any]]]


class Change(NamedTuple):
    """One line of a diff: ``op`` is create, update or delete; ``fields`` lists what an update changes."""

    op: str
    kind: str
    name: str
    fields: tuple[str, ...] = ()


@dataclass
class Diff:
    """What an apply changed (or would change)."""

    changes: list[Change] = field(default_factory=list)

    def summary(self) -> str:
        """A one-line count of creates, updates and deletes."""
        counts = {
            op: sum(1 for c in self.changes if c[0] == op) for op in ("create", "update", "delete")
        }
        return ", ".join(f"{n} {op}" for op, n in counts.items())

    @property
    def empty(self) -> bool:
        """Whether nothing changes."""
        return not self.changes


def apply_directory(
    session: Session, directory: Path, *, dry_run: bool, now: datetime | None = None
) -> Diff:
    """Validate ``directory`` and sync it into the database; with ``dry_run`` only compute the diff.

    Raises :class:`ninefold.errors.ConfigError` (a ``CatalogError`` listing every
    ``file:line:column`` problem) when the directory is invalid. Never commits.
    """
    return apply_catalog(session, validate_directory(directory), dry_run=dry_run, now=now)


def apply_catalog(
    session: Session, catalog: Catalog, *, dry_run: bool, now: datetime | None = None
) -> Diff:
    """Sync an already validated catalog (see :func:`apply_directory`)."""
    desired = _desired(catalog)
    current = _current(session)
    diff = _plan(desired, current)
    if not dry_run and diff.changes:
        _write(session, desired, diff, now or SystemClock().now())
    return diff


# --- snapshots -------------------------------------------------------------------------------


def _user_values(spec: UserSpec) -> dict[str, Any]:
    return {
        "email": spec.email,
        "display_name": spec.display_name,
        "role": spec.role,
        "timezone": spec.timezone,
    }


def _team_values(spec: TeamSpec) -> dict[str, Any]:
    return {
        "display_name": spec.display_name,
        "description": spec.description,
        "contact": spec.contact.model_dump(exclude_none=True),
        "members": sorted([m.user, m.role] for m in spec.members),
    }


def _service_values(spec: ServiceSpec) -> dict[str, Any]:
    return {
        "display_name": spec.display_name,
        "tier": spec.tier,
        "owner": spec.owner,
        "description": spec.description,
        "lifecycle": spec.lifecycle,
        "system": spec.system,
        "runbook_url": spec.links.runbook,
        "dashboard_url": spec.links.dashboard,
        "repository_url": spec.links.repository,
        "labels": dict(spec.labels),
        "gate_min_budget": spec.gate.min_budget_remaining if spec.gate else None,
        "gate_block_on_no_data": spec.gate.block_on_no_data if spec.gate else False,
        "depends_on": sorted(set(spec.depends_on)),
    }


def _slo_values(spec: SLOSpec) -> dict[str, Any]:
    return {
        "service": spec.service,
        "display_name": spec.display_name,
        "description": spec.description,
        "objective": spec.objective,
        "sli_kind": spec.sli.kind,
        "source": spec.source,
        "budgeting": spec.budgeting,
        "spec": spec.model_dump(mode="json"),
    }


def _channel_values(spec: NotificationChannelSpec, secret: str | None) -> dict[str, Any]:
    return {
        "kind": spec.kind,
        "target": spec.target.strip(),
        "secret": secret,
        "enabled": spec.enabled,
    }


def _schedule_values(spec: ScheduleSpec) -> dict[str, Any]:
    return {
        "team": spec.team,
        "time_zone": spec.time_zone,
        "description": spec.description,
        "layers": list(spec.layers),
    }


def _policy_values(spec: EscalationPolicySpec) -> dict[str, Any]:
    return {
        "team": spec.team,
        "description": spec.description,
        "repeat": spec.repeat,
        "levels": list(spec.levels),
    }


def _rules_values(spec: NotificationRulesSpec) -> dict[str, Any]:
    return {
        "rules": [
            [int(r.delay.total_seconds()), r.channel] for r in parse_rules(spec.rules, "rules")
        ]
    }


def _secrets(catalog: Catalog) -> dict[str, str | None]:
    """Each channel's secret from the environment; a variable that is not set is a problem."""
    out: dict[str, str | None] = {}
    problems: list[Problem] = []
    for entry in catalog.notification_channels:
        env = entry.spec.secret_env
        value = os.environ.get(env) if env else None
        if env and not value:
            problems.append(
                entry.problem(
                    f"environment variable {env} (the channel's secret) is not set", "secret_env"
                )
            )
        elif value is not None and len(value) < 8:
            problems.append(
                entry.problem(
                    f"environment variable {env}: a secret needs 8 characters or more",
                    "secret_env",
                )
            )
        out[entry.spec.name] = value
    if problems:
        raise CatalogError(problems, "notification channels")
    return out


def _desired(catalog: Catalog) -> Snapshot:
    secrets = _secrets(catalog)
    out: Snapshot = {
        "user": {e.spec.name: _user_values(e.spec) for e in catalog.users},
        "team": {e.spec.name: _team_values(e.spec) for e in catalog.teams},
        "service": {e.spec.name: _service_values(e.spec) for e in catalog.services},
        "slo": {e.spec.name: _slo_values(e.spec) for e in catalog.slos},
        "channel": {
            e.spec.name: _channel_values(e.spec, secrets[e.spec.name])
            for e in catalog.notification_channels
        },
        "schedule": {e.spec.name: _schedule_values(e.spec) for e in catalog.schedules},
        "escalation_policy": {
            e.spec.name: _policy_values(e.spec) for e in catalog.escalation_policies
        },
        "notification_rules": {
            e.spec.user: _rules_values(e.spec) for e in catalog.notification_rules
        },
        "incident_severity": {
            e.spec.name: {
                "rank": e.spec.rank,
                "description": e.spec.description,
                "channels": list(e.spec.channels),
            }
            for e in catalog.incident_severities
        },
        "incident_role": {
            e.spec.name: {"description": e.spec.description} for e in catalog.incident_roles
        },
    }
    out.update(statuspage_catalog.desired(catalog))
    for values in out.values():
        for v in values.values():
            v["managed"] = True
    return out


# kinds whose snapshot values are plain columns of one row, named like the row's attributes
_PLAIN_FIELDS = {
    "user": ("email", "display_name", "role", "timezone"),
    "channel": ("kind", "target", "secret", "enabled"),
    "incident_severity": ("rank", "description", "channels"),
    "incident_role": ("description",),
}


def _plain_rows(session: Session) -> dict[str, Sequence[Any]]:
    return {
        "user": store.all_users(session),
        "channel": channel_store.list_channels(session),
        "incident_severity": incident_store.severities(session),
        "incident_role": incident_store.roles(session),
    }


def _current(session: Session) -> Snapshot:
    out: Snapshot = {kind: {} for kind in KINDS}
    for kind, rows in _plain_rows(session).items():
        for row in rows:
            out[kind][row.name] = {f: getattr(row, f) for f in (*_PLAIN_FIELDS[kind], "managed")}
    for team in store.all_teams(session):
        out["team"][team.name] = {
            "display_name": team.display_name,
            "description": team.description,
            "contact": dict(team.contact or {}),
            "members": sorted([m.user.name, m.role] for m in team.members),
            "managed": team.managed,
        }
    for svc in store.all_services(session):
        out["service"][svc.name] = {
            "display_name": svc.display_name,
            "tier": svc.tier,
            "owner": svc.owner.name,
            "description": svc.description,
            "lifecycle": svc.lifecycle,
            "system": svc.system,
            "runbook_url": svc.runbook_url,
            "dashboard_url": svc.dashboard_url,
            "repository_url": svc.repository_url,
            "labels": dict(svc.labels or {}),
            "gate_min_budget": svc.gate_min_budget,
            "gate_block_on_no_data": svc.gate_block_on_no_data,
            "depends_on": sorted(d.depends_on.name for d in svc.dependencies),
            "managed": svc.managed,
        }
    for slo in store.all_slos(session):
        out["slo"][slo.name] = {
            "service": slo.service.name,
            "display_name": slo.display_name,
            "description": slo.description,
            "objective": slo.objective,
            "sli_kind": slo.sli_kind,
            "source": slo.source,
            "budgeting": slo.budgeting,
            "spec": slo.spec,
            "managed": slo.managed,
        }
    for sched in oncall_store.list_schedules(session):
        out["schedule"][sched.name] = {
            "team": sched.team.name if sched.team else None,
            "time_zone": sched.time_zone,
            "description": sched.description,
            "layers": sched.layers,
            "managed": sched.managed,
        }
    for policy in oncall_store.list_policies(session):
        out["escalation_policy"][policy.name] = {
            "team": policy.team.name if policy.team else None,
            "description": policy.description,
            "repeat": policy.repeat,
            "levels": policy.levels,
            "managed": policy.managed,
        }
    for person, rules in _rules_by_user(session).items():
        out["notification_rules"][person] = {
            "rules": [[r.delay_seconds, r.channel] for r in rules],
            "managed": all(r.managed for r in rules),
        }
    out.update(statuspage_catalog.current(session))
    return out


def _rules_by_user(session: Session) -> dict[str, list[NotificationRuleRow]]:
    """Every user's personal notification rules (users without rules left out)."""
    names = sorted(oncall_store.user_names(session))
    return {u: rs for u, rs in oncall_store.rules_by_user(session, names=names).items() if rs}


def _plan(desired: Snapshot, current: Snapshot) -> Diff:
    diff = Diff()
    for kind in KINDS:
        for name, want in desired[kind].items():
            have = current[kind].get(name)
            if have is None:
                diff.changes.append(Change("create", kind, name))
                continue
            changed = tuple(k for k, v in want.items() if have.get(k) != v)
            if changed:
                diff.changes.append(Change("update", kind, name, changed))
    deletes = {
        kind: [n for n, v in current[kind].items() if v["managed"] and n not in desired[kind]]
        for kind in KINDS
    }
    _check_deletes(deletes, desired, current)
    for kind in reversed(KINDS):
        diff.changes.extend(Change("delete", kind, name) for name in sorted(deletes[kind]))
    return diff


def _check_deletes(deletes: dict[str, list[str]], desired: Snapshot, current: Snapshot) -> None:
    """Refuse deletes that would take objects the config does not manage with them."""
    problems: list[str] = []
    gone_services = set(deletes["service"])
    for name in deletes["team"]:
        owned = sorted(
            s
            for s, v in current["service"].items()
            if v["owner"] == name and s not in desired["service"] and s not in gone_services
        )
        if owned:
            problems.append(
                f"cannot delete team {name!r}: it still owns services not managed by this"
                f" config: {', '.join(owned)} (add them to the config or give them another owner)"
            )
    for name in deletes["service"]:
        slos = sorted(
            s
            for s, v in current["slo"].items()
            if v["service"] == name and s not in desired["slo"] and not v["managed"]
        )
        if slos:
            problems.append(
                f"cannot delete service {name!r}: SLOs not managed by this config depend on it:"
                f" {', '.join(slos)}"
            )
    for name in deletes["schedule"]:
        policies = sorted(
            p
            for p, v in current["escalation_policy"].items()
            if not v["managed"]
            and p not in desired["escalation_policy"]
            and name in _targets(v["levels"], "schedule")
        )
        if policies:
            problems.append(
                f"cannot delete schedule {name!r}: escalation policies not managed by this"
                f" config page it: {', '.join(policies)}"
            )
    for name in deletes["channel"]:
        users = sorted(
            u
            for u, v in current["notification_rules"].items()
            if not v["managed"]
            and u not in desired["notification_rules"]
            and any(channel == name for _, channel in v["rules"])
        )
        if users:
            problems.append(
                f"cannot delete notification channel {name!r}: notification rules not managed"
                f" by this config use it: {', '.join(users)}"
            )
    if problems:
        raise ConfigError("\n".join(problems))


def _targets(levels: Any, kind: str) -> set[str]:
    """Names of the ``kind`` targets in stored policy levels."""
    out: set[str] = set()
    for level in levels if isinstance(levels, list) else []:
        targets = level.get("targets") if isinstance(level, dict) else None
        for target in targets if isinstance(targets, list) else []:
            if isinstance(target, dict) and target.get("type") == kind:
                out.add(str(target.get("name")))
            elif isinstance(target, dict) and len(target) == 1 and kind in target:
                out.add(str(target[kind]))
    return out


# --- writing ---------------------------------------------------------------------------------


def _assign(row: Any, values: dict[str, Any], skip: Iterable[str] = ()) -> None:
    for key, value in values.items():
        if key not in skip:
            setattr(row, key, value)


def _upsert_plain(
    session: Session,
    desired: Snapshot,
    touched: set[tuple[str, str]],
    kind: str,
    rows: dict[str, Any],
    model: type[Any],
    now: datetime,
) -> None:
    """Create or update the touched ``kind`` rows (a plain-column kind) from the desired values;
    ``rows`` (name to row) gains the new ones. Stamps ``updated_at`` where the model has it."""
    for name, values in desired[kind].items():
        if (kind, name) in touched:
            row = rows.get(name) or model(name=name, created_at=now)
            _assign(row, values)
            if hasattr(model, "updated_at"):
                row.updated_at = now
            rows[name] = row
            session.add(row)
    session.flush()


def _write(session: Session, desired: Snapshot, diff: Diff, now: datetime) -> None:
    touched = {(c.kind, c.name) for c in diff.changes if c.op in ("create", "update")}
    users = {u.name: u for u in store.all_users(session)}
    _upsert_plain(session, desired, touched, "user", users, User, now)

    teams = {t.name: t for t in store.all_teams(session)}
    for name, values in desired["team"].items():
        if ("team", name) in touched:
            team = teams.get(name) or Team(name=name, created_at=now, members=[])
            _assign(team, values, skip=("members",))
            team.updated_at = now
            _sync_members(team, values["members"], users)
            teams[name] = team
            session.add(team)
    session.flush()

    services = {s.name: s for s in store.all_services(session)}
    for name, values in desired["service"].items():
        if ("service", name) in touched:
            svc = services.get(name) or Service(name=name, created_at=now, dependencies=[])
            _assign(svc, values, skip=("owner", "depends_on"))
            svc.owner = teams[values["owner"]]
            svc.updated_at = now
            services[name] = svc
            session.add(svc)
    session.flush()
    for name, values in desired["service"].items():
        if ("service", name) in touched:
            _sync_dependencies(services[name], values["depends_on"], services)
    session.flush()

    slos = {s.name: s for s in store.all_slos(session)}
    for name, values in desired["slo"].items():
        if ("slo", name) in touched:
            slo = slos.get(name) or SLO(name=name, created_at=now)
            _assign(slo, values, skip=("service",))
            slo.service = services[values["service"]]
            slo.updated_at = now
            session.add(slo)
    session.flush()

    _write_oncall(session, desired, touched, now)
    _write_incident_config(session, desired, touched, now)
    statuspage_catalog.write(session, desired, touched, services, now)

    rows: dict[str, dict[str, Any]] = {
        "slo": slos,
        "service": services,
        "team": teams,
        "user": users,
        "channel": {c.name: c for c in channel_store.list_channels(session)},
        "schedule": {r.name: r for r in oncall_store.list_schedules(session)},
        "escalation_policy": {r.name: r for r in oncall_store.list_policies(session)},
        "incident_severity": {r.name: r for r in incident_store.severities(session)},
        "incident_role": {r.name: r for r in incident_store.roles(session)},
        **statuspage_catalog.rows(session),
    }
    # drop the dependency rows of services about to go first: the database cascades rows that
    # point at a deleted service, and the ORM would then try to delete them a second time
    gone = [services[c.name] for c in diff.changes if c.op == "delete" and c.kind == "service"]
    for svc in gone:
        svc.dependencies.clear()
    session.flush()
    rules = _rules_by_user(session)
    for change in diff.changes:
        if change.op == "delete" and change.kind == "notification_rules":
            for rule in rules.get(change.name, []):
                session.delete(rule)
            session.flush()
        elif change.op == "delete":
            session.delete(rows[change.kind][change.name])
            session.flush()
    session.expire_all()


def _write_oncall(
    session: Session, desired: Snapshot, touched: set[tuple[str, str]], now: datetime
) -> None:
    """Channels, then schedules, policies and rules through the on-call flows (managed)."""
    channels = {c.name: c for c in channel_store.list_channels(session)}
    _upsert_plain(session, desired, touched, "channel", channels, NotificationChannel, now)
    for name, values in desired["schedule"].items():
        if ("schedule", name) in touched:
            oncall_flows.put_schedule(
                session,
                name=name,
                layers=values["layers"],
                time_zone=values["time_zone"],
                team=values["team"],
                description=values["description"],
                now=now,
                managed=True,
            )
    for name, values in desired["escalation_policy"].items():
        if ("escalation_policy", name) in touched:
            oncall_flows.put_policy(
                session,
                name=name,
                levels=values["levels"],
                repeat=values["repeat"],
                team=values["team"],
                description=values["description"],
                now=now,
                managed=True,
            )
    for user, values in desired["notification_rules"].items():
        if ("notification_rules", user) in touched:
            oncall_flows.put_rules(
                session,
                user=user,
                rules=[{"after": f"{s}s", "channel": c} for s, c in values["rules"]],
                now=now,
                managed=True,
            )
    session.flush()


def _write_incident_config(
    session: Session, desired: Snapshot, touched: set[tuple[str, str]], now: datetime
) -> None:
    """Incident severities and custom roles (managed)."""
    severities = {r.name: r for r in incident_store.severities(session)}
    _upsert_plain(
        session, desired, touched, "incident_severity", severities, IncidentSeverityRow, now
    )
    roles = {r.name: r for r in incident_store.roles(session)}
    _upsert_plain(session, desired, touched, "incident_role", roles, IncidentRoleRow, now)


def _sync_members(team: Team, wanted: list[list[str]], users: dict[str, User]) -> None:
    # in place, because one flush inserts before it deletes and (team, user) is unique
    roles = {user: role for user, role in wanted}
    for member in list(team.members):
        if member.user.name not in roles:
            team.members.remove(member)
        else:
            member.role = roles.pop(member.user.name)
    for user, role in roles.items():
        team.members.append(TeamMember(user=users[user], role=role))


def _sync_dependencies(svc: Service, wanted: list[str], services: dict[str, Service]) -> None:
    keep = set(wanted)
    for dep in list(svc.dependencies):
        if dep.depends_on.name in keep:
            keep.discard(dep.depends_on.name)
        else:
            svc.dependencies.remove(dep)
    for name in sorted(keep):
        svc.dependencies.append(ServiceDependency(depends_on=services[name]))


# --- export ----------------------------------------------------------------------------------


def _dump(model: type[BaseModel], kind: str, data: dict[str, Any]) -> dict[str, Any]:
    try:
        spec = model.model_validate({k: v for k, v in data.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(
            f"cannot export {kind} {data.get('name')!r}: {where}: {first['msg']}"
        ) from exc
    dumped: dict[str, Any] = spec.model_dump(mode="json", exclude_defaults=True)
    return dumped


def export_catalog(session: Session) -> dict[str, Any]:
    """Dump the database's users, teams, services, SLOs and on-call objects in the ninefold
    YAML shape. A channel with a secret is written with ``secret_env:
    NINEFOLD_SECRET_<NAME>``; the secret itself never leaves the database."""
    out: dict[str, Any] = {"users": [], "teams": [], "services": [], "slos": []}
    for user in store.all_users(session):
        out["users"].append(
            _dump(
                UserSpec,
                "user",
                {
                    "name": user.name,
                    "email": user.email,
                    "display_name": user.display_name,
                    "role": user.role,
                    "timezone": user.timezone,
                },
            )
        )
    for team in store.all_teams(session):
        out["teams"].append(
            _dump(
                TeamSpec,
                "team",
                {
                    "name": team.name,
                    "display_name": team.display_name,
                    "description": team.description,
                    "contact": dict(team.contact or {}),
                    "members": [{"user": m.user.name, "role": m.role} for m in team.members],
                },
            )
        )
    for svc in store.all_services(session):
        gate: dict[str, Any] | None = None
        if svc.gate_min_budget is not None or svc.gate_block_on_no_data:
            gate = {
                "min_budget_remaining": svc.gate_min_budget or 0.0,
                "block_on_no_data": svc.gate_block_on_no_data,
            }
        out["services"].append(
            _dump(
                ServiceSpec,
                "service",
                {
                    "name": svc.name,
                    "display_name": svc.display_name,
                    "tier": svc.tier,
                    "owner": svc.owner.name,
                    "description": svc.description,
                    "lifecycle": svc.lifecycle,
                    "system": svc.system,
                    "depends_on": [d.depends_on.name for d in svc.dependencies],
                    "links": {
                        "runbook": svc.runbook_url,
                        "dashboard": svc.dashboard_url,
                        "repository": svc.repository_url,
                    },
                    "labels": dict(svc.labels or {}),
                    "gate": gate,
                },
            )
        )
    for slo in store.all_slos(session):
        out["slos"].append(_dump(SLOSpec, "slo", dict(slo.spec)))
    _export_oncall(session, out)
    out["incident_severities"] = [
        {"name": r.name, "rank": r.rank, "description": r.description, "channels": r.channels}
        for r in incident_store.severities(session)
    ]
    out["incident_roles"] = [
        {"name": r.name, "description": r.description} for r in incident_store.roles(session)
    ]
    out["status_page"] = statuspage_catalog.export(session)
    return {k: v for k, v in out.items() if v}


def secret_env_name(channel: str) -> str:
    """The environment variable ``export`` names for a channel's secret (it never writes one)."""
    return "NINEFOLD_SECRET_" + re.sub(r"[^A-Z0-9]", "_", channel.upper())


def _after(seconds: int) -> str:
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s" if seconds else "0m"


def _export_oncall(session: Session, out: dict[str, Any]) -> None:
    """Notification channels, schedules, escalation policies and personal rules."""
    out["notification_channels"] = [
        _dump(
            NotificationChannelSpec,
            "notification channel",
            {
                "name": c.name,
                "kind": c.kind,
                "target": c.target,
                "secret_env": secret_env_name(c.name) if c.secret else None,
                "enabled": c.enabled,
            },
        )
        for c in channel_store.list_channels(session)
    ]
    out["schedules"] = [
        _dump(
            ScheduleSpec,
            "schedule",
            {
                "name": r.name,
                "team": r.team.name if r.team else None,
                "time_zone": r.time_zone,
                "description": r.description,
                "layers": r.layers,
            },
        )
        for r in oncall_store.list_schedules(session)
    ]
    out["escalation_policies"] = [
        _dump(
            EscalationPolicySpec,
            "escalation policy",
            {
                "name": r.name,
                "team": r.team.name if r.team else None,
                "description": r.description,
                "repeat": r.repeat,
                "levels": r.levels,
            },
        )
        for r in oncall_store.list_policies(session)
    ]
    out["notification_rules"] = [
        _dump(
            NotificationRulesSpec,
            "notification rules",
            {
                "user": user,
                "rules": [{"after": _after(r.delay_seconds), "channel": r.channel} for r in rules],
            },
        )
        for user, rules in _rules_by_user(session).items()
    ]
