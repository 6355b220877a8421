"""The status page's history as an Atom feed (RFC 4287), built with ElementTree so it is always
well-formed. One entry per public incident or maintenance; its content is the published updates."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape
from xml.etree import ElementTree as ET

from ninefold.statuspage.schemas import IncidentOut, PageOut

NS = "http://www.w3.org/2005/Atom"


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _content(item: IncidentOut) -> str:
    parts = [
        f"<p><small>{escape(_iso(u.created_at))}</small><br>"
        f"<strong>{escape(u.status.capitalize())}</strong> - {escape(u.body)}</p>"
        for u in item.incident_updates
    ]
    if item.components:
        names = ", ".join(c.name for c in item.components)
        parts.append(f"<p>This affects: {escape(names)}</p>")
    return "".join(parts)


def feed(page: PageOut, items: Sequence[IncidentOut], *, self_url: str) -> bytes:
    """The Atom document (UTF-8 bytes) of ``items``, newest first."""
    ET.register_namespace("", NS)
    root = ET.Element(f"{{{NS}}}feed", {"{http://www.w3.org/XML/1998/namespace}lang": "en"})

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        el = ET.SubElement(parent, f"{{{NS}}}{tag}", attrs)
        if text is not None:
            el.text = text
        return el

    ordered = sorted(items, key=lambda i: (i.updated_at, i.id), reverse=True)
    sub(root, "id", f"{page.url}/history.atom")
    sub(root, "title", f"{page.name} status history")
    updated = max([page.updated_at, *(i.updated_at for i in ordered)])
    sub(root, "updated", _iso(updated))
    sub(root, "link", rel="alternate", type="text/html", href=page.url)
    sub(root, "link", rel="self", type="application/atom+xml", href=self_url)
    author = sub(root, "author")
    sub(author, "name", page.name)
    sub(root, "generator", "ninefold")
    for item in ordered:
        entry = sub(root, "entry")
        sub(entry, "id", item.shortlink)
        sub(entry, "title", item.name)
        sub(entry, "published", _iso(item.created_at))
        sub(entry, "updated", _iso(item.updated_at))
        sub(entry, "link", rel="alternate", type="text/html", href=item.shortlink)
        sub(entry, "content", _content(item), type="html")
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body
