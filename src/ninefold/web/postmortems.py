"""Postmortems: list, and the editor for a draft (Markdown sections, review state, inline
action items)."""

from __future__ import annotations

from datetime import date
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from ninefold.deps import ClockDep, SessionDep
from ninefold.errors import InvalidInput, NinefoldError
from ninefold.oncall import store as oncall_store
from ninefold.postmortem import action_flows, draft, flows, store
from ninefold.postmortem.states import ITEM_STATUSES, POSTMORTEM_STATUSES
from ninefold.web.render import page
from ninefold.web.session import Act, ResponderAct, WebUserDep

router = APIRouter()


@router.get("/postmortems", response_class=HTMLResponse)
def postmortems_page(
    request: Request, user: WebUserDep, session: SessionDep, status: str = ""
) -> HTMLResponse:
    """Postmortems, newest first."""
    rows, total = store.list_postmortems(
        session, status=status if status in POSTMORTEM_STATUSES else None, limit=100, offset=0
    )
    return page(
        request,
        "postmortems.html",
        user,
        rows=rows,
        total=total,
        status=status,
        statuses=POSTMORTEM_STATUSES,
    )


@router.get("/postmortems/{postmortem_id}", response_class=HTMLResponse)
def postmortem_page(
    postmortem_id: int, request: Request, user: WebUserDep, session: SessionDep, clock: ClockDep
) -> HTMLResponse:
    """The editor."""
    pm = store.get_postmortem(session, postmortem_id=postmortem_id)
    items, _ = store.list_items(session, postmortem_id=pm.id, limit=200)
    sections = flows.sections_of(pm)
    return page(
        request,
        "postmortem.html",
        user,
        pm=pm,
        sections=pm.sections,
        warnings=draft.blame_findings(sections),
        items=items,
        item_statuses=ITEM_STATUSES,
        users=sorted(oncall_store.user_names(session)),
        today=clock.now().date(),
        editable=pm.status in ("draft", "in_review"),
    )


def _apply(act: Act, session: SessionDep, pm_id: int, kind: str, now: object) -> str:
    from datetime import datetime

    assert isinstance(now, datetime)
    name = act.user.name
    if kind == "section":
        pm = store.get_postmortem(session, postmortem_id=pm_id, lock=True)
        flows.edit_section(
            session, pm=pm, key=act.get("key"), body=act.form.get("body", ""), actor=name, now=now
        )
        return "Section saved"
    if kind == "status":
        pm = store.get_postmortem(session, postmortem_id=pm_id, lock=True)
        flows.set_status(session, pm=pm, status=act.get("status"), actor=name, now=now)
        return f"Postmortem is now {act.get('status').replace('_', ' ')}"
    if kind == "item":
        pm = store.get_postmortem(session, postmortem_id=pm_id)
        if not act.get("title"):
            raise InvalidInput("title: required")
        due = act.get("due_date")
        try:
            due_date = date.fromisoformat(due) if due else None
        except ValueError:
            raise InvalidInput("due_date: a date like 2026-12-01") from None
        action_flows.create_item(
            session,
            title=act.get("title"),
            actor=name,
            now=now,
            owner=act.get("owner") or None,
            due_date=due_date,
            priority=act.get("priority") or "P3",
            incident_id=pm.incident_id,
            postmortem_id=pm.id,
            team=None,
            description="",
        )
        return "Action item added"
    if kind == "item-status":
        item = store.get_item(session, item_id=int(act.get("item_id") or 0), lock=True)
        action_flows.update_item(session, item=item, now=now, status=act.get("status"))
        return "Action item updated"
    raise InvalidInput(f"unknown change {kind!r}")


@router.post("/postmortems/{postmortem_id}/{kind}", response_model=None)
def change(
    postmortem_id: int, kind: str, act: ResponderAct, session: SessionDep, clock: ClockDep
) -> RedirectResponse:
    """Edit a section, move the review state, add or update action items."""
    url = f"/ui/postmortems/{postmortem_id}"
    try:
        with session.begin_nested():
            msg = _apply(act, session, postmortem_id, kind, clock.now())
    except NinefoldError as exc:
        return RedirectResponse(f"{url}?error={quote(exc.message)}", status_code=303)
    anchor = f"#sec-{act.get('key')}" if kind == "section" else "#items" if "item" in kind else ""
    return RedirectResponse(f"{url}?msg={quote(msg)}{anchor}", status_code=303)
