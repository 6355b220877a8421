"""The OpenAPI schema as ninefold really answers: its own shape of 422 validation errors.

FastAPI documents every 422 as ``{"detail": [{loc, msg, type}]}``, but ninefold's handler (in
``app.py``) answers ``{"detail": "<where>: <message>", "errors": [{loc, msg, type}]}`` and domain
errors answer ``{"detail": "<message>"}``; clients generated from the schema, and schemathesis,
would reject every real 422.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

VALIDATION_ERROR: dict[str, Any] = {
    "title": "ValidationError",
    "type": "object",
    "required": ["loc", "msg"],
    "properties": {
        "loc": {"title": "Location", "type": "array", "items": {"type": "string"}},
        "msg": {"title": "Message", "type": "string"},
        "type": {"title": "Error Type", "anyOf": [{"type": "string"}, {"type": "null"}]},
    },
}

HTTP_VALIDATION_ERROR: dict[str, Any] = {
    "title": "HTTPValidationError",
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {"title": "Detail", "type": "string", "description": "the first problem"},
        "errors": {
            "title": "Errors",
            "type": "array",
            "items": {"$ref": "#/components/schemas/ValidationError"},
            "description": "every problem (request validation only)",
        },
    },
}


def install_error_schema(app: FastAPI) -> None:
    """Make ``app.openapi()`` document ninefold's 422 body instead of FastAPI's default."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                description=app.description,
                routes=app.routes,
            )
            schemas = schema.get("components", {}).get("schemas", {})
            if "HTTPValidationError" in schemas:
                schemas["HTTPValidationError"] = HTTP_VALIDATION_ERROR
                schemas["ValidationError"] = VALIDATION_ERROR
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
