"""Pydantic I/O for identity."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from ninefold.identity.tokens import ROLES


class TokenCreate(BaseModel):
    """Request to create an API token."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    role: str = Field(pattern="^(" + "|".join(ROLES) + ")$")
    team: str | None = None
    expires_at: datetime | None = None
    expires_in: str | None = Field(None, max_length=50)
    """A duration such as ``30d`` (instead of ``expires_at``), counted from now."""


class TokenRead(BaseModel):
    """A token as listed: never the secret."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str
    role: str
    team_id: int | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class TokenCreated(TokenRead):
    """A token just created: the secret is shown here once."""

    token: str


class WhoAmI(BaseModel):
    """The calling principal."""

    token_id: int
    name: str
    role: str
    team_id: int | None
