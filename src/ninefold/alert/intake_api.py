"""The alert intake log through the API: backlog, set-aside batches, retry (admin)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy.orm import Session

from ninefold.alert import intake
from ninefold.deps import Admin, SessionDep, Viewer

router = APIRouter(tags=["alerts"])


class FailedBatch(BaseModel):
    """An accepted batch that could not be processed after repeated attempts."""

    id: int
    format: str
    items: int
    received_at: datetime
    attempts: int
    last_error: str | None
    failed_at: datetime | None


class IntakeState(BaseModel):
    """What waits in the intake log, and what was set aside."""

    pending_batches: int
    pending_items: int
    oldest_received_at: datetime | None
    failed_batches: int
    failed: list[FailedBatch]


def state_of(session: Session) -> IntakeState:
    """The intake log's backlog and set-aside batches (API and CLI)."""
    b = intake.backlog(session)
    return IntakeState(
        pending_batches=b.pending_batches,
        pending_items=b.pending_items,
        oldest_received_at=b.oldest_received_at,
        failed_batches=b.failed_batches,
        failed=[
            FailedBatch(
                id=r.id,
                format=r.format,
                items=r.items,
                received_at=r.received_at,
                attempts=r.attempts,
                last_error=r.last_error,
                failed_at=r.failed_at,
            )
            for r in intake.failed(session)
        ],
    )


@router.get("/alerts/intake", summary="Alert intake log: backlog and set-aside batches")
def intake_state(_: Viewer, session: SessionDep) -> IntakeState:
    """Accepted batches not processed yet, and those set aside after repeated failures."""
    return state_of(session)


class Retried(BaseModel):
    """How many set-aside batches were put back in line."""

    retried: int


@router.post("/alerts/intake/retry", summary="Put set-aside intake batches back in line")
def retry_intake(_: Admin, session: SessionDep) -> Retried:
    """After a fix, process the set-aside batches again (the intake thread picks them up)."""
    return Retried(retried=intake.retry_failed(session))
