"""Admin API for console passwords: ``PUT /api/v1/users/{name}/password``."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, ConfigDict, Field

from ninefold.deps import Admin, ClockDep, SessionDep
from ninefold.web import auth

router = APIRouter(tags=["identity"])


class PasswordBody(BaseModel):
    """A new console password."""

    model_config = ConfigDict(extra="forbid")

    password: str = Field(min_length=auth.MIN_PASSWORD, max_length=1000)


@router.put("/users/{name}/password", status_code=status.HTTP_204_NO_CONTENT)
def set_password(
    name: str, body: PasswordBody, _: Admin, session: SessionDep, clock: ClockDep
) -> Response:
    """Set a user's console password (argon2); their open sessions end."""
    auth.set_password(session, user_name=name, password=body.password, now=clock.now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)
