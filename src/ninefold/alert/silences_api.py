"""Silence endpoints, in Alertmanager's API v2 shapes (matchers with isRegex/isEqual)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from ninefold.alert.models import SilenceRow
from ninefold.alert.silence import check_new, from_api, state
from ninefold.alert.store import to_silence
from ninefold.core.pagination import Page, PageDep
from ninefold.deps import ClockDep, Responder, SessionDep, Viewer
from ninefold.errors import InvalidInput, NotFound
from ninefold.identity import guard

router = APIRouter(tags=["silences"])


class MatcherIO(BaseModel):
    """A matcher as Alertmanager's API writes it."""

    name: str = Field(min_length=1, max_length=200)
    value: str = Field(max_length=2000)
    isRegex: bool = False
    isEqual: bool = True


class SilenceCreate(BaseModel):
    """A new silence (Alertmanager's PostableSilence without an id)."""

    model_config = ConfigDict(extra="forbid")

    matchers: list[MatcherIO] = Field(min_length=1, max_length=50)
    startsAt: datetime
    endsAt: datetime
    createdBy: str = Field(min_length=1, max_length=200)
    comment: str = Field(min_length=1, max_length=2000)


class SilenceRead(SilenceCreate):
    """A stored silence and its state (pending, active, expired)."""

    id: int
    state: str


def _read(row: SilenceRow, now: datetime) -> SilenceRead:
    return SilenceRead(
        id=row.id,
        matchers=[MatcherIO.model_validate(m) for m in row.matchers],
        startsAt=row.starts_at,
        endsAt=row.ends_at,
        createdBy=row.created_by,
        comment=row.comment,
        state=str(state(to_silence(row), now)),
    )


@router.post("/silences", status_code=status.HTTP_201_CREATED)
def create_silence(
    body: SilenceCreate, _: Responder, session: SessionDep, clock: ClockDep
) -> dict[str, Any]:
    """Create a silence; answers ``{"silenceID": id}`` like Alertmanager."""
    now = clock.now()
    doc = body.model_dump(mode="json")
    try:
        silence = from_api(doc)
        check_new(silence, now)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    guard.check_silence(session, name="new", matchers=doc["matchers"])
    row = SilenceRow(
        matchers=doc["matchers"],
        starts_at=silence.starts_at,
        ends_at=silence.ends_at,
        created_by=body.createdBy,
        comment=body.comment,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    return {"silenceID": row.id}


@router.get("/silences")
def list_silences(
    _: Viewer, session: SessionDep, clock: ClockDep, page: PageDep
) -> Page[SilenceRead]:
    """Silences, newest first."""
    rows = session.scalars(select(SilenceRow).order_by(SilenceRow.id.desc())).all()
    now = clock.now()
    items = [_read(r, now) for r in rows[page.offset : page.offset + page.limit]]
    return Page(items=items, total=len(rows), limit=page.limit, offset=page.offset)


@router.delete("/silences/{silence_id}")
def expire_silence(
    silence_id: int, _: Responder, session: SessionDep, clock: ClockDep
) -> SilenceRead:
    """Expire a silence now (a pending one ends before it starts)."""
    row = session.get(SilenceRow, silence_id)
    if row is None:
        raise NotFound(f"silence {silence_id} not found")
    guard.check_silence(session, name=str(silence_id), matchers=row.matchers)
    now = clock.now()
    if row.ends_at > now:
        # A pending silence ends before it starts: keep start < end so the row stays valid.
        row.starts_at = min(row.starts_at, now - timedelta(microseconds=1))
        row.ends_at = now
        row.updated_at = now
    return _read(row, now)
