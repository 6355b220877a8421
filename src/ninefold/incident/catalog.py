"""Default severities and roles of incidents (pure; catalog YAML may replace or extend them).

Severities: when the catalog defines ``incident_severities`` those are the only ones; otherwise
SEV1–SEV4 below. Roles: the three built-in roles always exist; ``incident_roles`` adds custom
ones (or re-describes a built-in one).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class SeverityDef:
    """A severity level; ``rank`` 1 is the worst."""

    name: str
    rank: int
    description: str
    channels: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class RoleDef:
    """An incident role."""

    name: str
    description: str


DEFAULT_SEVERITIES = (
    SeverityDef(
        "SEV1", 1, "Critical: a core service is down or data is at risk for many customers."
    ),
    SeverityDef("SEV2", 2, "Major: a core feature is broken or badly degraded for many customers."),
    SeverityDef("SEV3", 3, "Minor: partial degradation, a workaround exists or few are affected."),
    SeverityDef("SEV4", 4, "Low: no customer impact yet; internal or cosmetic problem."),
)

BUILTIN_ROLES = (
    RoleDef("commander", "Incident commander: runs the response and makes the calls."),
    RoleDef("communications", "Communications lead: writes stakeholder and status page updates."),
    RoleDef("scribe", "Scribe: keeps the timeline, notes decisions and key moments."),
)


def notification_severity(rank: int) -> str:
    """The notification severity (critical, error, warning, info) for a severity rank."""
    return {1: "critical", 2: "error", 3: "warning"}.get(rank, "info")
