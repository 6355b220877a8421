"""Notification texts of incidents, as Jinja2 templates kept apart from the flow code.

Each template renders a title (first line) and a body (the rest). Templates see plain values
only (see ``render``), never ORM rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import Environment, StrictUndefined

TEMPLATES: Mapping[str, str] = {
    "role_page": (
        "You are {{ role_label }} of incident #{{ id }} ({{ severity }}): {{ title }}\n"
        "{{ actor }} assigned you as {{ role_label }}."
        "{% if services %} Affected: {{ services | join(', ') }}.{% endif %}\n"
        "{% if summary %}{{ summary }}{% endif %}"
    ),
    "responder_page": (
        "Incident #{{ id }} ({{ severity }}): {{ title }}\n"
        "{{ actor }} asked you to join the response"
        "{% if source_name %} (from {{ source }} {{ source_name }}){% endif %}."
        "{% if services %} Affected: {{ services | join(', ') }}.{% endif %}"
    ),
    "stakeholder_update": (
        "{{ public_status | capitalize }}: {{ title }}\n"
        "{{ message }}\n"
        "{% if services %}Affected: {{ services | join(', ') }}. {% endif %}"
        "Severity {{ severity }}, incident #{{ id }}."
    ),
}

# Plain text, not HTML: the payload formatters escape for their own formats (email HTML, Slack).
_ENV = Environment(undefined=StrictUndefined, autoescape=False)  # noqa: S701


def render(name: str, values: Mapping[str, Any]) -> tuple[str, str]:
    """Render template ``name`` with ``values``; returns (title, body)."""
    text = _ENV.from_string(TEMPLATES[name]).render(**values).strip()
    title, _, body = text.partition("\n")
    return title.strip(), body.strip()
