"""Identity endpoints: who am I, and token management (admin)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, status

from ninefold.clock_utils import aware
from ninefold.core.durations import parse_duration
from ninefold.deps import Admin, ClockDep, SessionDep, Viewer
from ninefold.errors import InvalidInput
from ninefold.identity import store
from ninefold.identity.schemas import TokenCreate, TokenCreated, TokenRead, WhoAmI

router = APIRouter(tags=["identity"])


@router.get("/whoami")
def whoami(principal: Viewer) -> WhoAmI:
    """The token making the request."""
    return WhoAmI(
        token_id=principal.token_id,
        name=principal.name,
        role=principal.role,
        team_id=principal.team_id,
    )


@router.get("/tokens")
def list_tokens(_: Admin, session: SessionDep) -> list[TokenRead]:
    """Every token (without secrets)."""
    return [TokenRead.model_validate(t) for t in store.list_tokens(session)]


@router.post("/tokens", status_code=status.HTTP_201_CREATED)
def create_token(body: TokenCreate, _: Admin, session: SessionDep, clock: ClockDep) -> TokenCreated:
    """Create a token; the secret is in the answer and nowhere else."""
    now = clock.now()
    expires_at = aware(body.expires_at) if body.expires_at else None
    if body.expires_in is not None:
        if expires_at is not None:
            raise InvalidInput("give expires_at or expires_in, not both")
        try:
            expires_at = now + timedelta(seconds=parse_duration(body.expires_in))
        except ValueError as exc:
            raise InvalidInput(f"expires_in: {exc}") from None
    team = store.get_team(session, name=body.team) if body.team else None
    token, secret = store.create_token(
        session, name=body.name, role=body.role, now=now, expires_at=expires_at, team=team
    )
    return TokenCreated(token=secret, **TokenRead.model_validate(token).model_dump())


@router.delete("/tokens/{token_id}")
def revoke_token(token_id: int, _: Admin, session: SessionDep, clock: ClockDep) -> TokenRead:
    """Revoke a token; it stops working at once."""
    return TokenRead.model_validate(store.revoke_token(session, token_id=token_id, now=clock.now()))
