"""Generic JSON webhook: any sender's body, read through the integration's declarative mapping.

* ``POST /api/v1/webhooks/generic`` (integration key as bearer token or basic-auth password)
* ``POST /integrations/{key}/webhook`` (key in the path, for senders that cannot set headers)

The integration must be of kind ``webhook``; its ``config["mapping"]`` (see
:mod:`ninefold.alert.mapping`) says where the alerts are. Valid items are committed; invalid ones
are named in a 400 (``alerts[i].field``) next to the number accepted.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from ninefold.alert import inbound, mapping, store
from ninefold.alert.models import Integration
from ninefold.alert.normalize import Incoming
from ninefold.deps import Admin, SessionDep

router = APIRouter(tags=["alerts in"])


def spec_of(integration: Integration) -> mapping.Spec:
    """The integration's mapping (ninefold's simple shape when it has none)."""
    raw = (integration.config or {}).get("mapping") or mapping.SIMPLE_SHAPE
    return mapping.parse_mapping(raw)


def _parse(body: bytes) -> Any:
    try:
        data = json.loads(body)
        # Lone surrogates (\ud800) parse but cannot be stored as UTF-8: refuse them here.
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except RecursionError:
        raise inbound._Refused(400, {"detail": "body is nested too deeply"}) from None
    except UnicodeEncodeError:
        raise inbound._Refused(
            400, {"detail": "body is not valid JSON: invalid \\u escape (lone surrogate)"}
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise inbound._Refused(400, {"detail": f"body is not valid JSON: {exc}"}) from None
    return data


async def _webhook(request: Request, key: str | None) -> Response:
    errors: list[dict[str, Any]] = []
    accepted = 0

    def build(integration: Integration) -> list[Incoming]:
        nonlocal accepted
        errors.clear()
        if integration.kind != "webhook":
            raise inbound._Refused(
                400,
                {
                    "detail": f"this key belongs to a {integration.kind} integration; "
                    "generic webhooks need an integration of kind webhook"
                },
            )
        now = request.app.state.clock.now()
        try:
            results = mapping.apply(spec_of(integration), raw)
        except mapping.MappingError as exc:
            raise inbound._Refused(400, {"detail": str(exc)}) from None
        items: list[Incoming] = []
        for mapped in results:
            result = (
                mapping.to_incoming(mapped, integration_id=integration.id, now=now)
                if isinstance(mapped, mapping.Mapped)
                else mapped
            )
            if isinstance(result, mapping.ItemError):
                errors.append(
                    {
                        "index": result.index,
                        "field": f"alerts[{result.index}].{result.field}",
                        "message": result.message,
                    }
                )
            else:
                items.append(result)
        accepted = len(items)
        return items

    try:
        raw = _parse(await inbound._read_body(request))
        received = await run_in_threadpool(inbound._store, request, key, build)
    except inbound._Refused as refused:
        return refused.response
    inbound._count(request, "webhook", received)
    outcomes = [{"dedup_key": r.dedup_key, "outcome": r.outcome} for r in received]
    if errors:
        return JSONResponse(
            {
                "detail": f"{errors[0]['field']}: {errors[0]['message']}",
                "errors": errors,
                "accepted": accepted,
                "alerts": outcomes,
            },
            status_code=400,
        )
    return JSONResponse({"status": "success", "accepted": accepted, "alerts": outcomes})


@router.post("/api/v1/webhooks/generic", summary="Generic JSON webhook (declarative mapping)")
async def generic_webhook(request: Request) -> Response:
    """Receive any JSON body; the integration's mapping says where the alerts are."""
    return await _webhook(request, inbound._credentials(request))


@router.post("/integrations/{key}/webhook", summary="Generic JSON webhook with the key in the path")
async def generic_webhook_prefixed(key: str, request: Request) -> Response:
    """Generic JSON webhook for senders that cannot set an Authorization header."""
    return await _webhook(request, key)


class MappingBody(BaseModel):
    """A webhook integration's mapping."""

    mapping: dict[str, Any]


admin_router = APIRouter(tags=["alerts"])


@admin_router.get("/integrations/{name}/mapping")
def get_mapping(name: str, _: Admin, session: SessionDep) -> MappingBody:
    """The mapping a webhook integration uses (ninefold's simple shape when none was set)."""
    row = store.get_integration(session, name=name)
    return MappingBody(mapping=(row.config or {}).get("mapping") or mapping.SIMPLE_SHAPE)


@admin_router.put("/integrations/{name}/mapping")
def put_mapping(name: str, body: MappingBody, _: Admin, session: SessionDep) -> MappingBody:
    """Replace a webhook integration's mapping (422 names the bad mapping field)."""
    row = store.get_integration(session, name=name)
    row.config = {**(row.config or {}), **mapping.check_for_kind(row.kind, body.mapping)}
    return MappingBody(mapping=body.mapping)
