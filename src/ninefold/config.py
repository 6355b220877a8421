"""Settings: NINEFOLD_* environment variables, optionally a YAML/TOML-free ``.env``-style file.

Settings are read from, in order of precedence: explicit keyword arguments, ``NINEFOLD_*``
environment variables, and the config file named by ``NINEFOLD_CONFIG_FILE`` (YAML mapping of
the same names, lower case, without the prefix). Nothing is read at import time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from ninefold.errors import ConfigError

DEFAULT_DB = "sqlite:///ninefold.db"


class Settings(BaseSettings):
    """Validated ninefold settings."""

    model_config = SettingsConfigDict(env_prefix="NINEFOLD_", extra="forbid")

    database_url: str = Field(
        DEFAULT_DB, description="SQLAlchemy URL: sqlite:///file.db or postgresql+psycopg://…"
    )
    db_pool_size: int = Field(
        20, ge=1, le=1000, description="database connections kept open per process"
    )
    db_max_overflow: int = Field(
        10, ge=0, le=1000, description="connections opened beyond the pool under load, per process"
    )
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    config_dir: Path | None = Field(
        None, description="catalog YAML directory applied at serve start"
    )
    routing_file: Path | None = Field(
        None, description="alert routing YAML (Alertmanager route tree, receivers -> channels)"
    )
    delivery_interval_seconds: float = Field(1.0, gt=0, le=60)
    intake_poll_seconds: float = Field(
        1.0,
        gt=0,
        le=60,
        description="How often the alert intake processor looks for batches it was not woken "
        "for (left by a crash or accepted by another replica); requests wake it at once.",
    )
    integration_key_cache_seconds: float = Field(
        2.0,
        ge=0,
        le=300,
        description="How long a replica trusts a looked-up integration key (0: no cache). "
        "Changes made through the same replica apply at once; another replica's rotation or "
        "disabling applies here after at most this long.",
    )
    notification_lease_seconds: float = Field(
        300.0,
        ge=1,
        le=86400,
        description="how long a replica's claim on a notification lasts; a replica that dies "
        "mid-send delays its claimed notifications by at most this long",
    )
    notification_timeout_seconds: float = Field(
        10.0, gt=0, le=120, description="timeout of one webhook or SMTP delivery attempt"
    )
    notification_retry_base_seconds: float = Field(
        5.0,
        gt=0,
        le=3600,
        description="ceiling of the first retry's delay; it doubles per attempt up to 15 "
        "minutes, and each delay is drawn at random below its ceiling (full jitter)",
    )
    notification_max_attempts: int = Field(
        12, ge=1, le=100, description="attempts before a notification is dead-lettered"
    )
    smtp_host: str | None = Field(None, description="SMTP relay for email channels")
    smtp_port: int = Field(25, ge=1, le=65535)
    smtp_from: str = "ninefold@localhost"
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = None
    evaluation_interval_seconds: float = Field(30.0, gt=0, le=3600)
    pager_interval_seconds: float = Field(
        1.0,
        gt=0,
        le=60,
        description="tick of group flushes, escalation steps and heartbeat checks",
    )
    engine_enabled: bool = True
    prometheus_url: str | None = Field(
        None, description="default Prometheus for source: prometheus SLOs"
    )
    prometheus_timeout_seconds: float = Field(10.0, gt=0, le=300)
    max_event_age_days: int = Field(35, ge=1, le=3660, description="oldest pushed event accepted")
    max_event_future_seconds: int = Field(300, ge=0, le=86400, description="clock skew allowed")
    default_gate_min_budget: float = Field(0.0, ge=-1.0, le=1.0)
    postmortem_severities: list[str] | None = Field(
        None,
        description="severities that always get a postmortem (JSON list); unset: ranks 1 and 2",
    )
    postmortem_budget_threshold: float = Field(
        0.2, gt=0, le=100, description="error budget share an incident must consume for one"
    )
    postmortem_template: Path | None = Field(
        None, description="Jinja2 Markdown template of postmortem drafts (default: built in)"
    )
    action_item_reminder_channel: str | None = Field(
        None, description="channel for overdue action-item reminders of owners without rules"
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    public_url: str = "http://127.0.0.1:8080"
    secret_key: str | None = Field(
        None,
        min_length=16,
        repr=False,
        description="signs acknowledge/resolve links; unset: a random key kept in the database",
    )

    oidc_issuer: str | None = Field(
        None,
        description="OpenID Connect issuer URL (discovery at <issuer>/.well-known/"
        "openid-configuration); unset: no single sign-on",
    )
    oidc_client_id: str | None = Field(None, description="client id registered at the provider")
    oidc_client_secret: str | None = Field(None, repr=False, description="its client secret")
    oidc_provider_name: str = Field("SSO", max_length=60, description="'Sign in with <this>'")
    oidc_scopes: str = "openid email profile"
    oidc_username_claim: str = Field(
        "preferred_username", description="claim naming the user (falls back to email)"
    )
    oidc_groups_claim: str = "groups"
    oidc_role_groups: dict[str, Literal["viewer", "responder", "admin"]] = Field(
        default_factory=dict,
        description="provider group -> console role (JSON); the highest match wins",
    )
    oidc_team_groups: dict[str, str] = Field(
        default_factory=dict, description="provider group -> team name (JSON) for memberships"
    )
    oidc_default_role: Literal["viewer", "responder", "admin"] = "viewer"
    oidc_create_users: bool = Field(True, description="create unknown users on first login")
    oidc_timeout_seconds: float = Field(10.0, gt=0, le=120)
    password_login: bool = Field(True, description="keep username + password login on")

    @model_validator(mode="after")
    def _oidc_complete(self) -> Settings:
        if self.oidc_issuer and not self.oidc_client_id:
            raise ValueError("oidc_client_id is needed with oidc_issuer")
        if self.oidc_issuer and not self.oidc_issuer.startswith(("https://", "http://")):
            raise ValueError("oidc_issuer must be an http(s) URL")
        if not self.password_login and not self.oidc_issuer:
            raise ValueError("password_login can only be off when oidc_issuer is set")
        return self

    @field_validator("database_url")
    @classmethod
    def _db_url(cls, value: str) -> str:
        if not (value.startswith("sqlite") or value.startswith("postgresql")):
            raise ValueError("database_url must be sqlite:///… or postgresql+psycopg://…")
        if value.startswith("postgresql://") or value.startswith("postgres://"):
            # psycopg 3 is the driver we ship; spell it out so SQLAlchemy does not look for psycopg2.
            value = "postgresql+psycopg://" + value.split("://", 1)[1]
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Keyword arguments beat the environment, which beats the config file."""
        return (init_settings, env_settings, _FileSource(settings_cls))

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is SQLite."""
        return self.database_url.startswith("sqlite")


class _FileSource(PydanticBaseSettingsSource):
    """Reads the YAML file named by NINEFOLD_CONFIG_FILE, if any."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = os.environ.get("NINEFOLD_CONFIG_FILE")
        if not path:
            return {}
        from ruamel.yaml import YAML
        from ruamel.yaml.error import YAMLError

        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from exc
        try:
            data = YAML(typ="safe").load(text) or {}
        except YAMLError as exc:
            raise ConfigError(f"{path}: invalid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: the config file must be a mapping of setting names")
        return {str(k): v for k, v in data.items()}


def load_settings(**overrides: Any) -> Settings:
    """Build Settings or raise ConfigError with one line per problem."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"]) or "settings"
            lines.append(f"NINEFOLD_{name.upper()}: {err['msg']}")
        raise ConfigError("invalid settings:\n  " + "\n  ".join(lines)) from None
