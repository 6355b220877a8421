"""Reports API: ``GET /reports/scorecard`` (viewer) as JSON, or rendered as HTML, Markdown, CSV."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import HTMLResponse, PlainTextResponse

from ninefold.deps import ClockDep, SessionDep, Viewer
from ninefold.report import render
from ninefold.report.flows import scorecard as build_scorecard
from ninefold.report.period import parse_period, previous_period
from ninefold.report.schemas import Scorecard

router = APIRouter(tags=["reports"])


@router.get(
    "/reports/scorecard",
    response_model=Scorecard,
    responses={200: {"content": {"text/html": {}, "text/markdown": {}, "text/csv": {}}}},
)
def get_scorecard(
    session: SessionDep,
    clock: ClockDep,
    _: Viewer,
    period: Annotated[
        str | None,
        Query(description="2026-10, 2026-W43, 2026-Q4 or START..END; default last month"),
    ] = None,
    team: str | None = None,
    service: str | None = None,
    tier: int | None = None,
    format: Annotated[Literal["json", "html", "md", "csv"], Query()] = "json",
) -> Any:
    """The reliability scorecard of a period (durations in seconds, rates 0..1)."""
    now = clock.now()
    span = parse_period(period) if period else previous_period("month", now)
    card = build_scorecard(session, period=span, now=now, team=team, service=service, tier=tier)
    if format == "html":
        return HTMLResponse(render.to_html(card))
    if format == "md":
        return PlainTextResponse(render.to_markdown(card), media_type="text/markdown")
    if format == "csv":
        return Response(render.to_csv(card), media_type="text/csv")
    return card
