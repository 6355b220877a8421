"""API shapes of deployments."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class DeploymentCreate(BaseModel):
    """A deploy event: which service, what version, when and how it ended."""

    model_config = ConfigDict(extra="forbid")

    service: str = Field(min_length=1, max_length=100)
    version: str = Field(min_length=1, max_length=200)
    commit: str | None = Field(None, min_length=1, max_length=100)
    committed_at: AwareDatetime | None = Field(
        None, description="when the commit was made (lead time for changes); not after deployed_at"
    )
    deployed_at: AwareDatetime | None = Field(None, description="defaults to now")
    outcome: Literal["success", "failure", "rollback"] = "success"
    environment: str | None = Field(None, max_length=100)
    description: str | None = Field(None, max_length=2000)
    url: str | None = Field(None, max_length=2000)


class DeploymentRead(BaseModel):
    """A stored deploy."""

    id: int
    service: str
    version: str
    commit: str | None
    committed_at: datetime | None = None
    deployed_at: datetime
    outcome: str
    environment: str | None
    description: str | None
    url: str | None
    created_by: str
    created_at: datetime
    incidents: list[int] = Field(default_factory=list, description="active incidents it joined")


class DeploymentPage(BaseModel):
    """A page of deploys."""

    items: list[DeploymentRead]
    total: int
