"""Inbound alert endpoints in the formats senders already speak.

* ``POST /api/v2/alerts``: Alertmanager's API, so Prometheus's ``alerting.alertmanagers`` can
  target ninefold (integration key as bearer token, basic-auth password, or path prefix
  ``/integrations/<key>``).
* ``POST /api/v1/webhooks/alertmanager``: Alertmanager's webhook payload, version 4.
* ``POST /v2/enqueue``: PagerDuty Events API v2 (the routing key is the integration key).

Every accepted alert is committed before the answer, to the intake log
(:mod:`ninefold.alert.intake`), and processed right after; invalid alerts of a batch are named in a
400 while the valid ones are stored. Bodies over 512 KiB get 413; each key has a rate limit.
An integration may require an HMAC signature (:mod:`ninefold.alert.signature_in`).
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from ninefold.alert import dispatch, flows, intake, normalize, signature_in, store
from ninefold.alert.keycache import KeyCache
from ninefold.alert.models import Integration
from ninefold.alert.normalize import Incoming
from ninefold.alert.schemas import AMAlert, AMWebhook, AMWebhookAlert, PDEvent
from ninefold.db.engine import write_lock
from ninefold.integrations.notify.signing import SIGNATURE_HEADER, InvalidSignature

MAX_BODY = 512 * 1024

router = APIRouter(tags=["alerts in"])


class _Refused(Exception):
    def __init__(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        self.response = JSONResponse(body, status_code=status, headers=headers)


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise _Refused(413, {"detail": f"request body over {MAX_BODY // 1024} KiB"})
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise _Refused(413, {"detail": f"request body over {MAX_BODY // 1024} KiB"})
        chunks.append(chunk)
    body = b"".join(chunks)
    request.state.inbound_body = body  # what a required signature is checked against
    return body


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _Refused(400, {"detail": f"body is not valid JSON: {exc}"}) from None
    except RecursionError:
        raise _Refused(400, {"detail": "body is nested too deeply"}) from None


def _credentials(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if scheme.lower() == "basic" and value.strip():
        try:
            user, _, password = base64.b64decode(value.strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return password or user or None
    return None


def _key_cache(request: Request) -> KeyCache:
    state = request.app.state
    cache: KeyCache | None = getattr(state, "integration_key_cache", None)
    if cache is None:
        with _KEY_CACHE_GUARD:
            cache = getattr(state, "integration_key_cache", None)
            if cache is None:
                cache = KeyCache(
                    state.settings.integration_key_cache_seconds, state.session_factory
                )
                state.integration_key_cache = cache
    return cache


_KEY_CACHE_GUARD = threading.Lock()


def _authenticate(
    request: Request, session: Session, key: str | None, *, cached: bool = False
) -> Integration:
    _need_key(key)
    assert key is not None
    now = request.app.state.clock.now()
    integration = (
        _key_cache(request).lookup(session, key, now)
        if cached
        else store.integration_by_key(session, key=key, now=now)
    )
    return _admit(request, integration)


def _need_key(key: str | None) -> None:
    if not key:
        raise _Refused(
            401,
            {
                "detail": "missing integration key: send it as a bearer token, as the basic-auth "
                "password, or in the path /integrations/<key>/…"
            },
            {"WWW-Authenticate": 'Bearer realm="ninefold", Basic realm="ninefold"'},
        )


def _admit(request: Request, integration: Integration | None) -> Integration:
    """The checks after the key lookup: known, within its rate limit, signed if required."""
    if integration is None:
        raise _Refused(401, {"detail": "unknown, rotated or disabled integration key"})
    wait = request.app.state.rate_limiter.check(
        f"integration:{integration.id}", integration.rate_limit_per_minute, time.monotonic()
    )
    if wait:
        raise _Refused(
            429,
            {
                "detail": f"rate limit of {integration.rate_limit_per_minute}/min for this key exceeded"
            },
            {"Retry-After": str(int(wait))},
        )
    if signature_in.required(integration):
        try:
            signature_in.verify(
                integration,
                getattr(request.state, "inbound_body", b""),
                request.headers.get(SIGNATURE_HEADER),
                now=int(request.app.state.clock.now().timestamp()),
            )
        except InvalidSignature as exc:
            raise _Refused(
                401, {"detail": f"this integration requires a valid {SIGNATURE_HEADER}: {exc}"}
            ) from None
    return integration


def _field(err: dict[str, Any]) -> str:
    return ".".join(str(p) for p in err.get("loc", ())) or "(alert)"


@functools.cache
def _list_adapter(model: type[BaseModel]) -> TypeAdapter[list[Any]]:
    return TypeAdapter(list[model])  # type: ignore[valid-type]


def _validate_each(
    raw: list[Any], model: type[BaseModel], prefix: str
) -> tuple[list[tuple[int, Any]], list[dict[str, Any]]]:
    good: list[tuple[int, Any]] = []
    errors: list[dict[str, Any]] = []
    try:  # the usual case, a wholly valid batch, in one call
        return list(enumerate(_list_adapter(model).validate_python(raw))), errors
    except ValidationError:
        pass
    for i, item in enumerate(raw):
        try:
            good.append((i, model.model_validate(item)))
        except ValidationError as exc:
            for err in exc.errors():
                errors.append(
                    {
                        "index": i,
                        "field": f"{prefix}[{i}].{_field(dict(err))}",
                        "message": err["msg"],
                    }
                )
    return good, errors


async def _accept(
    request: Request,
    integration_key: str | None,
    format: str,
    payload: tuple[str, int],
) -> None:
    """Authenticate and commit the batch (``payload``: its valid items as JSON text, and how
    many) to the intake log before the answer; then have it processed: by the engine's intake
    thread (woken now), or here when no engine runs. A key the cache knows is checked on the
    event loop; the commit is awaited there too (:class:`ninefold.alert.intake._Committer`)."""
    state = request.app.state
    with intake.gate(state.engine).acceptor():
        _need_key(integration_key)
        assert integration_key is not None
        known, found = _key_cache(request).peek(integration_key, state.clock.now())
        if known:
            integration_id = _admit(request, found).id
        else:
            integration_id = await run_in_threadpool(_integration_id, request, integration_key)
        text, items = payload
        if items:
            await intake.commit_batch(
                state.engine,
                integration_id=integration_id,
                format=format,
                payload=text,
                items=items,
                now=state.clock.now(),
            )
    if not items:
        return
    if state.engine_runner is not None:
        state.engine_runner.wake_intake()
    else:
        await run_in_threadpool(intake.drain, state)


def _integration_id(request: Request, key: str) -> int:
    with request.app.state.session_factory() as session:
        return _authenticate(request, session, key, cached=True).id


def _store(
    request: Request, integration_key: str | None, build: Callable[[Integration], list[Incoming]]
) -> list[flows.Received]:
    """Authenticate, normalise and process in one transaction (retried once on a dedup race).

    The synchronous path, for senders that are answered with each alert's outcome (the generic
    webhook); the Alertmanager and PagerDuty formats go through the intake log instead.
    """
    factory = request.app.state.session_factory
    for attempt in (1, 2):
        try:
            state = request.app.state
            with write_lock(state.engine), factory() as session, session.begin():
                integration = _authenticate(request, session, integration_key)
                items = build(integration)
                received, queued = dispatch.intake(
                    session,
                    items=items,
                    integration=integration,
                    routing=state.routing,
                    now=state.clock.now(),
                    public_url=state.settings.public_url,
                )
            if queued and state.engine_runner is not None:
                state.engine_runner.wake_delivery()  # push pages out now, not at the next tick
            return received
        except IntegrityError:
            # Another replica opened the same alert at the same moment: read it and update.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _count(request: Request, source: str, received: list[flows.Received]) -> None:
    metrics = request.app.state.metrics
    for r in received:
        metrics.alerts_received.labels(source, r.outcome).inc()


def _as_text(body: bytes, raw: list[Any], good: list[tuple[int, Any]]) -> tuple[str, int]:
    """A wholly valid batch is stored as it came (UTF-8 JSON, the usual case)."""
    try:
        return body.decode("utf-8"), len(good)
    except UnicodeDecodeError:
        return _good_items(raw, good)


def _good_items(raw: list[Any], good: list[tuple[int, Any]]) -> tuple[str, int]:
    """The valid items of a batch as JSON text, in the sender's own shape."""
    return json.dumps([raw[i] for i, _ in good], separators=(",", ":")), len(good)


def _wholly_valid(body: bytes, model: type[BaseModel]) -> tuple[str, int] | None:
    """The usual case in one step: a UTF-8 JSON array of valid items, parsed and validated by
    pydantic's own JSON parser (no Python objects for the raw JSON), stored as it came. None
    for anything else, which the item-by-item path then explains."""
    try:
        items = _list_adapter(model).validate_json(body)
        return body.decode("utf-8"), len(items)
    except (ValidationError, UnicodeDecodeError):
        return None


async def _alertmanager_api(request: Request, key: str | None) -> Response:
    try:
        body = await _read_body(request)
        errors: list[dict[str, Any]] = []
        good: list[tuple[int, Any]] = []
        payload = _wholly_valid(body, AMAlert)
        if payload is None:
            raw = _json(body)
            if not isinstance(raw, list):
                raise _Refused(400, {"detail": "body must be a JSON array of alerts"})
            good, errors = _validate_each(raw, AMAlert, "alerts")
            payload = _good_items(raw, good) if errors else _as_text(body, raw, good)
        await _accept(request, key, intake.AM_API, payload)
    except _Refused as refused:
        return refused.response
    if errors:
        first = errors[0]
        return JSONResponse(
            {
                "code": 400,
                "message": f"{first['field']}: {first['message']}",
                "errors": errors,
                "accepted": len(good),
            },
            status_code=400,
        )
    return Response(status_code=200)


@router.post("/api/v2/alerts", summary="Alertmanager API: receive alerts from Prometheus")
async def alertmanager_api(request: Request) -> Response:
    """Alertmanager-compatible alert intake (key as bearer token or basic-auth password)."""
    return await _alertmanager_api(request, _credentials(request))


@router.post(
    "/integrations/{key}/api/v2/alerts", summary="Alertmanager API with the key in the path"
)
async def alertmanager_api_prefixed(key: str, request: Request) -> Response:
    """Alertmanager-compatible alert intake for senders configured with a path prefix."""
    return await _alertmanager_api(request, key)


async def _alertmanager_webhook(request: Request, key: str | None) -> Response:
    try:
        raw = _json(await _read_body(request))
        try:
            hook = AMWebhook.model_validate(raw)
        except ValidationError as exc:
            err = exc.errors()[0]
            raise _Refused(400, {"detail": f"{_field(dict(err))}: {err['msg']}"}) from None
        good, errors = _validate_each(hook.alerts, AMWebhookAlert, "alerts")
        payload = _good_items(hook.alerts, good)
        await _accept(request, key, intake.AM_WEBHOOK, payload)
    except _Refused as refused:
        return refused.response
    if errors:
        return JSONResponse(
            {
                "detail": f"{errors[0]['field']}: {errors[0]['message']}",
                "errors": errors,
                "accepted": len(good),
            },
            status_code=400,
        )
    return JSONResponse({"status": "success", "accepted": len(good)})


@router.post("/api/v1/webhooks/alertmanager", summary="Alertmanager webhook (version 4)")
async def alertmanager_webhook(request: Request) -> Response:
    """Receive an Alertmanager webhook notification (key as bearer token or basic auth)."""
    return await _alertmanager_webhook(request, _credentials(request))


@router.post(
    "/integrations/{key}/alertmanager", summary="Alertmanager webhook with the key in the path"
)
async def alertmanager_webhook_prefixed(key: str, request: Request) -> Response:
    """Receive an Alertmanager webhook notification; the key is part of the URL."""
    return await _alertmanager_webhook(request, key)


def _pd_invalid(errors: list[str]) -> JSONResponse:
    return JSONResponse(
        {"status": "invalid event", "message": "Event object is invalid", "errors": errors},
        status_code=400,
    )


@router.post("/v2/enqueue", status_code=202, summary="PagerDuty Events API v2")
async def pagerduty_enqueue(request: Request) -> Response:
    """PagerDuty Events API v2: trigger, acknowledge or resolve by dedup_key."""
    try:
        raw = _json(await _read_body(request))
    except _Refused as refused:
        return refused.response
    if not isinstance(raw, dict):
        return _pd_invalid(["Event object must be a JSON object"])
    try:
        event = PDEvent.model_validate(raw)
    except ValidationError as exc:
        return _pd_invalid([f"{_field(dict(e))}: {e['msg']}" for e in exc.errors()])
    if event.event_action == "trigger" and event.payload is None:
        return _pd_invalid(["payload: is required for trigger events"])
    if event.event_action != "trigger" and not event.dedup_key:
        return _pd_invalid([f"dedup_key: is required for {event.event_action} events"])
    dedup = normalize.pagerduty_dedup_key(event, uuid.uuid4().hex)
    stored = json.dumps({"event": raw, "dedup": dedup}, separators=(",", ":"))
    try:
        await _accept(request, event.routing_key, intake.PAGERDUTY, (stored, 1))
    except _Refused as refused:
        if refused.response.status_code == 401:
            return JSONResponse(
                {
                    "status": "invalid event",
                    "message": "Event object is invalid",
                    "errors": ["routing_key: unknown integration key"],
                },
                status_code=403,
            )
        return refused.response
    return JSONResponse(
        {"status": "success", "message": "Event processed", "dedup_key": dedup}, status_code=202
    )
