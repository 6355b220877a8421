"""Pydantic I/O for the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class AuditRead(BaseModel):
    """One audit entry: who changed which object, when, and the values before and after."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor: str
    action: Literal["create", "update", "delete"]
    object_type: str
    object_id: str
    object_name: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
