"""On-call: every schedule with who is on call now, a 7-day calendar strip, the next shifts,
overrides, and a form to add an override (person + time range)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from ninefold.deps import ClockDep, SessionDep
from ninefold.errors import InvalidInput, NinefoldError
from ninefold.oncall import flows, store
from ninefold.oncall.rotation import Schedule, layer_shifts, on_call_at, shifts
from ninefold.web.render import page
from ninefold.web.session import ResponderAct, WebUserDep

router = APIRouter()
DAYS = 7
_PALETTE = ("#1a4fa8", "#1e7a3c", "#8a6100", "#6b3fa0", "#b4490a", "#0f6e75", "#a3245b")


def _strip(
    found: list[Any], start: datetime, end: datetime, people: dict[str, str]
) -> list[dict[str, Any]]:
    """Shift bars as percentages of the [start, end) strip, coloured per person."""
    span = (end - start).total_seconds()
    out = []
    for s in found:
        colour = people.setdefault(s.user, _PALETTE[len(people) % len(_PALETTE)])
        lo = max(s.start, start)
        hi = min(s.end, end)
        out.append(
            {
                "user": s.user,
                "x": (lo - start).total_seconds() / span * 100,
                "w": max((hi - lo).total_seconds() / span * 100, 0.3),
                "colour": colour,
                "start": s.start,
                "end": s.end,
                "override": s.is_override,
                "label": s.label,
            }
        )
    return out


@router.get("/oncall", response_class=HTMLResponse)
def oncall_page(
    request: Request, user: WebUserDep, session: SessionDep, clock: ClockDep
) -> HTMLResponse:
    """Schedules, who is on call, calendar strips and overrides."""
    now = clock.now()
    end = now + timedelta(days=DAYS)
    schedules = []
    for row in store.list_schedules(session):
        sched = flows.schedule_of(row)
        found = shifts(sched, now, end)
        colours: dict[str, str] = {}
        strips = [
            (layer.name, _strip(layer_shifts(layer, now, end), now, end, colours))
            for layer in sched.layers
        ]
        overrides = shifts(Schedule(sched.name, sched.zone, (), sched.overrides), now, end)
        if overrides:
            strips.append(("overrides", _strip(overrides, now, end, colours)))
        schedules.append(
            {
                "row": row,
                "now": on_call_at(sched, now),
                "shifts": found[:12],
                "strip": _strip(found, now, end, colours),
                "layers": strips,
                "overrides": [o for o in row.overrides if o.ends_at > now],
            }
        )
    days = [now + timedelta(days=i) for i in range(DAYS)]
    return page(
        request,
        "oncall.html",
        user,
        schedules=schedules,
        users=sorted(store.user_names(session)),
        days=days,
        now=now,
        default_start=now.strftime("%Y-%m-%dT%H:%M"),
        default_end=(now + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M"),
    )


def _utc(text: str, field: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{field}: a date and time like 2026-11-21T18:00") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


@router.post("/oncall/{schedule}/overrides", response_model=None)
def add_override(
    schedule: str, act: ResponderAct, session: SessionDep, clock: ClockDep
) -> RedirectResponse:
    """Put a person on call over a time range (times in UTC)."""
    try:
        with session.begin_nested():
            start = _utc(act.get("start"), "start")
            end = _utc(act.get("end"), "end")
            flows.add_override(
                session,
                schedule=schedule,
                user=act.get("user"),
                start=start,
                end=end,
                actor=f"user:{act.user.name}",
                now=clock.now(),
            )
    except NinefoldError as exc:
        return RedirectResponse(f"/ui/oncall?error={quote(exc.message)}", status_code=303)
    msg = quote(f"{act.get('user')} is on call for {schedule} from {start:%Y-%m-%d %H:%M} UTC")
    return RedirectResponse(f"/ui/oncall?msg={msg}#s-{quote(schedule)}", status_code=303)
