"""The ninefold catalog-as-code format: what a YAML file in the config directory may hold.

A config directory holds any number of ``*.yaml``/``*.yml`` files. Each file is a mapping with any
of the top-level keys ``teams``, ``users``, ``services``, ``slos``, ``notification_channels``,
``schedules``, ``escalation_policies``, ``notification_rules``, ``incident_severities`` and
``incident_roles``, each a list, and ``status_page``, a mapping (in one file only). These Pydantic
models are the one definition of that format; the loader adds file:line:column to their errors.
The on-call sections leave the meaning of layers, levels and rules to ``ninefold.oncall.spec`` and
``ninefold.oncall.escalation`` (the same parsers the API uses); their errors name the field, such as
``layers[0].rotation``, and the loader points at that field.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ninefold.core.durations import parse_duration

NAME_PATTERN = r"^[a-z0-9]([a-z0-9._-]{0,98}[a-z0-9])?$"
_NAME_RE = re.compile(NAME_PATTERN)

Name = Annotated[str, Field(pattern=NAME_PATTERN, description="lower-case slug: a-z, 0-9, . _ -")]
Role = Literal["viewer", "responder", "admin"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Contact(_Strict):
    """How to reach a team."""

    email: str | None = None
    slack: str | None = None
    phone: str | None = None
    url: str | None = None


class MemberSpec(_Strict):
    """A team member, referring to a user by name."""

    user: Name
    role: Literal["member", "lead"] = "member"


class UserSpec(_Strict):
    """A person who can be on call, own things and log in."""

    name: Name
    email: str | None = None
    display_name: str | None = None
    role: Role = "viewer"
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return check_timezone(value)


class TeamSpec(_Strict):
    """A team: owns services, holds members."""

    name: Name
    display_name: str | None = None
    description: str | None = None
    contact: Contact = Contact()
    members: list[MemberSpec] = []


class Links(_Strict):
    """Where to find more about a service."""

    runbook: str | None = None
    dashboard: str | None = None
    repository: str | None = None


class GatePolicy(_Strict):
    """Error-budget policy for release gates: block releases when budget falls below the floor."""

    min_budget_remaining: float = Field(default=0.0, ge=-1.0, le=1.0)
    block_on_no_data: bool = False


class ServiceSpec(_Strict):
    """A service in the catalog."""

    name: Name
    display_name: str | None = None
    tier: int = Field(default=2, ge=0, le=3)
    owner: Name
    description: str | None = None
    lifecycle: str | None = None
    system: str | None = None
    depends_on: list[Name] = []
    links: Links = Links()
    labels: dict[str, str] = {}
    gate: GatePolicy | None = None


class RollingWindow(_Strict):
    """A rolling window such as the last 30 days."""

    rolling: str

    @field_validator("rolling")
    @classmethod
    def _dur(cls, value: str) -> str:
        seconds = parse_duration(value)
        if seconds % 60:
            raise ValueError("rolling window must be a whole number of minutes")
        return value


class CalendarWindow(_Strict):
    """A calendar window: the current week, month or quarter in a time zone."""

    calendar: Literal["week", "month", "quarter"]
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return check_timezone(value)


class Timeslice(_Strict):
    """OpenSLO Timeslices budgeting: a slice is good when its ratio reaches ``target``."""

    length: str = "1m"
    target: float = Field(default=0.95, gt=0.0, le=1.0)

    @field_validator("length")
    @classmethod
    def _len(cls, value: str) -> str:
        seconds = parse_duration(value)
        if seconds % 60 or 86400 % seconds:
            raise ValueError(
                "timeslice length must be whole minutes that divide a day (1m, 5m, 1h …)"
            )
        return value


class RatioSLI(_Strict):
    """Good (or bad) events over total events. Queries are PromQL selectors or expressions
    giving counters; they are only needed when the source is ``prometheus``."""

    good: str | None = None
    bad: str | None = None
    total: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> RatioSLI:
        if self.good is not None and self.bad is not None:
            raise ValueError("give either good or bad, not both")
        return self


class LatencySLI(_Strict):
    """Requests faster than ``threshold`` seconds over all requests, from a histogram."""

    histogram: str | None = None
    threshold: float = Field(gt=0)
    selector: str = ""


class AvailabilitySLI(_Strict):
    """A 0/1 probe gauge (e.g. blackbox exporter ``probe_success``); each sample is an event."""

    probe: str | None = None


class SLISpec(_Strict):
    """Exactly one SLI kind."""

    ratio: RatioSLI | None = None
    latency: LatencySLI | None = None
    availability: AvailabilitySLI | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SLISpec:
        given = [k for k in ("ratio", "latency", "availability") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("sli needs exactly one of: ratio, latency, availability")
        return self

    @property
    def kind(self) -> Literal["ratio", "latency", "availability"]:
        """The SLI kind given."""
        if self.ratio is not None:
            return "ratio"
        if self.latency is not None:
            return "latency"
        return "availability"


class AlertingSpec(_Strict):
    """Which burn-rate alerts to evaluate, and when missing data becomes its own alert."""

    page: bool = True
    ticket: bool = True
    no_data_after: str = "15m"
    page_labels: dict[str, str] = {}
    ticket_labels: dict[str, str] = {}

    @field_validator("no_data_after")
    @classmethod
    def _dur(cls, value: str) -> str:
        parse_duration(value)
        return value


class SLOSpec(_Strict):
    """A service level objective."""

    name: Name
    service: Name
    display_name: str | None = None
    description: str | None = None
    objective: float = Field(gt=0.0, lt=1.0, description="target ratio, e.g. 0.999")
    window: RollingWindow | CalendarWindow = RollingWindow(rolling="30d")
    budgeting: Literal["occurrences", "timeslices"] = "occurrences"
    timeslice: Timeslice | None = None
    source: Literal["push", "prometheus"] = "push"
    sli: SLISpec
    alerting: AlertingSpec = AlertingSpec()
    labels: dict[str, str] = {}

    @model_validator(mode="after")
    def _consistent(self) -> SLOSpec:
        if self.budgeting == "timeslices" and self.timeslice is None:
            object.__setattr__(self, "timeslice", Timeslice())
        if self.source == "prometheus":
            missing = prometheus_queries_missing(self.sli)
            if missing:
                raise ValueError(f"source prometheus needs sli queries: {missing}")
        return self


LOCATED = "located"
"""Error type of on-call checks whose message starts with the path of the bad field."""

ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"


def _located(exc: ValueError) -> PydanticCustomError:
    """A ValueError of the on-call parsers (``layers[0].zone: …``) as an error the loader places
    at that field."""
    return PydanticCustomError(LOCATED, "{message}", {"message": str(exc)})


class NotificationChannelSpec(_Strict):
    """Where pages and notifications go. The signing secret of a webhook is never written in the
    file: ``secret_env`` names the environment variable ``ninefold apply`` reads it from."""

    name: Name
    kind: Literal["webhook", "slack", "teams", "mattermost", "email"]
    target: str = Field(min_length=1, max_length=2000)
    secret_env: str | None = Field(default=None, pattern=ENV_NAME_PATTERN)
    enabled: bool = True

    @model_validator(mode="after")
    def _target(self) -> NotificationChannelSpec:
        from ninefold.notification.schemas import ChannelCreate

        try:
            ChannelCreate(
                name=self.name,
                kind=self.kind,
                target=self.target,
                secret="x" * 8 if self.secret_env else None,
            )
        except ValidationError as exc:
            msg = str(exc.errors(include_url=False)[0]["msg"]).removeprefix("Value error, ")
            if msg.startswith("secret:"):
                msg = "secret_env:" + msg[len("secret:") :]
            raise _located(ValueError(msg)) from None
        return self


class ScheduleSpec(_Strict):
    """An on-call schedule: layers of rotations (later layers win), see ``ninefold.oncall.spec``."""

    name: Name
    team: Name | None = None
    time_zone: str = "UTC"
    description: str | None = None
    layers: list[Any]

    @model_validator(mode="after")
    def _layers(self) -> ScheduleSpec:
        from ninefold.oncall.spec import check_zone, parse_layers

        try:
            check_zone(self.time_zone, "time_zone")
            parse_layers(self.layers, self.time_zone)
        except ValueError as exc:
            raise _located(exc) from None
        return self


class EscalationPolicySpec(_Strict):
    """Who is paged, level after level, until someone acknowledges."""

    name: Name
    team: Name | None = None
    description: str | None = None
    repeat: int = 0
    levels: list[Any]

    @model_validator(mode="after")
    def _levels(self) -> EscalationPolicySpec:
        from ninefold.oncall.escalation import parse_policy

        try:
            parse_policy(self.name, self.levels, self.repeat)
        except ValueError as exc:
            raise _located(exc) from None
        return self


class NotificationRulesSpec(_Strict):
    """How one person is reached when paged: a channel, some time after the page."""

    user: Name
    rules: list[Any]

    @model_validator(mode="after")
    def _rules(self) -> NotificationRulesSpec:
        from ninefold.oncall.escalation import parse_rules

        try:
            parse_rules(self.rules, "rules")
        except ValueError as exc:
            raise _located(exc) from None
        return self


class IncidentSeveritySpec(_Strict):
    """An incident severity level; ``rank`` 1 is the worst. Defining any replaces SEV1–SEV4."""

    name: str = Field(min_length=1, max_length=50, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    rank: int = Field(ge=1, le=100)
    description: str = Field("", max_length=2000)
    channels: list[Name] = []
    """Notification channels that stakeholder updates go to when a request names none."""


class IncidentRoleSpec(_Strict):
    """A custom incident role (besides commander, communications and scribe)."""

    name: str = Field(min_length=1, max_length=50, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    description: str = Field("", max_length=2000)


class StatusComponentSpec(_Strict):
    """A component of the public status page, covering one or more catalog services."""

    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=2000)
    services: list[Name] = Field(min_length=1)
    group: str | None = Field(None, min_length=1, max_length=200)

    @field_validator("name", "group")
    @classmethod
    def _stripped(cls, value: str | None) -> str | None:
        if value is not None and value != value.strip():
            raise ValueError("must not start or end with spaces")
        return value


class StatusPageSpec(_Strict):
    """The public status page: its title and components (groups follow the components' order)."""

    title: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=2000)
    show_maintenance_reason: bool = False
    """Show maintenance windows' reason text publicly (off: a generic text)."""
    components: list[StatusComponentSpec] = []

    @model_validator(mode="after")
    def _unique(self) -> StatusPageSpec:
        seen: set[str] = set()
        for i, component in enumerate(self.components):
            if component.name in seen:
                raise _located(
                    ValueError(f"components[{i}].name: duplicate component {component.name!r}")
                )
            seen.add(component.name)
        return self


class ConfigFile(_Strict):
    """One YAML file of the config directory."""

    teams: list[TeamSpec] = []
    users: list[UserSpec] = []
    services: list[ServiceSpec] = []
    slos: list[SLOSpec] = []
    notification_channels: list[NotificationChannelSpec] = []
    schedules: list[ScheduleSpec] = []
    escalation_policies: list[EscalationPolicySpec] = []
    notification_rules: list[NotificationRulesSpec] = []
    incident_severities: list[IncidentSeveritySpec] = []
    incident_roles: list[IncidentRoleSpec] = []
    status_page: StatusPageSpec | None = None


def prometheus_queries_missing(sli: SLISpec) -> str:
    """Name the PromQL fields a Prometheus-backed SLI lacks (empty string when complete)."""
    if sli.ratio is not None:
        if sli.ratio.total is None or (sli.ratio.good is None and sli.ratio.bad is None):
            return "ratio.total and ratio.good or ratio.bad"
    elif sli.latency is not None:
        if sli.latency.histogram is None:
            return "latency.histogram"
    elif sli.availability is not None and sli.availability.probe is None:
        return "availability.probe"
    return ""


def check_timezone(value: str) -> str:
    """Validate an IANA time zone name."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone {value!r} (use an IANA name like Europe/Berlin)"
        ) from exc
    return value


def is_name(value: str) -> bool:
    """Whether ``value`` is a valid ninefold object name."""
    return bool(_NAME_RE.match(value))
