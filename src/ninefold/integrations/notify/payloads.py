"""Pure payload builders: a notification as the JSON or email each receiving service documents.

Formats:

- generic: ninefold's own JSON document (versioned, every field of the notification);
- Slack incoming webhook: ``text`` (the notification fallback), Block Kit ``blocks`` for the message
  and one secondary ``attachments`` entry whose ``color`` bar shows severity (blocks have no colour);
- Microsoft Teams (Workflows "when a Teams webhook request is received"): a ``message`` whose one
  attachment is an Adaptive Card (``application/vnd.microsoft.card.adaptive``, schema 1.4);
- Mattermost incoming webhook: ``text`` plus Slack-style ``attachments`` with ``color`` and
  ``fields``, optional ``username`` and ``icon_url``;
- email: subject, plain text and an HTML alternative in one ``EmailMessage``.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from enum import StrEnum
from typing import Any

from ninefold.integrations.notify.message import (
    KIND_LABELS,
    Notification,
    NotificationKind,
    Severity,
)

GENERIC_VERSION = "1"
ADAPTIVE_CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
ADAPTIVE_CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
# Teams renders Adaptive Cards up to 1.5 on desktop but 1.4 everywhere, mobile included.
ADAPTIVE_CARD_VERSION = "1.4"

# Block Kit limits (characters): header text 150, section text 3000, field 2000, button text 75,
# button url 3000, at most 10 section fields.
_SLACK_HEADER_MAX = 150
_SLACK_TEXT_MAX = 3000
_SLACK_FIELD_MAX = 2000
_SLACK_MAX_FIELDS = 10
_SLACK_URL_MAX = 3000

SEVERITY_COLOURS: Mapping[Severity, str] = {
    Severity.CRITICAL: "#d1242f",
    Severity.ERROR: "#e8590c",
    Severity.WARNING: "#f2c744",
    Severity.INFO: "#439fe0",
}
RESOLVED_COLOUR = "#2eb886"
ACKNOWLEDGED_COLOUR = "#8b949e"

# Adaptive Card TextBlock colours are named, not hex.
_CARD_COLOURS: Mapping[Severity, str] = {
    Severity.CRITICAL: "attention",
    Severity.ERROR: "attention",
    Severity.WARNING: "warning",
    Severity.INFO: "accent",
}


class PayloadFormat(StrEnum):
    """The JSON dialects a webhook channel can speak."""

    GENERIC = "generic"
    SLACK = "slack"
    TEAMS = "teams"
    MATTERMOST = "mattermost"


def colour(notification: Notification) -> str:
    """Return the hex colour for a notification: green when resolved, grey when acknowledged."""
    if notification.kind is NotificationKind.RESOLVED:
        return RESOLVED_COLOUR
    if notification.kind is NotificationKind.ACKNOWLEDGED:
        return ACKNOWLEDGED_COLOUR
    return SEVERITY_COLOURS[notification.severity]


def _iso(notification: Notification) -> str:
    return notification.occurred_at.isoformat().replace("+00:00", "Z")


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _actions(notification: Notification) -> list[tuple[str, str]]:
    """(label, url) for each link present, in the order a reader wants them."""
    links = notification.links
    pairs = [("Acknowledge", links.ack), ("Resolve", links.resolve), ("View", links.view)]
    # Acting on an alert that is already resolved is pointless; keep only the view link.
    if notification.kind is NotificationKind.RESOLVED:
        pairs = pairs[2:]
    return [(label, url) for label, url in pairs if url]


def _facts(notification: Notification) -> list[tuple[str, str]]:
    facts = [
        ("Service", notification.service),
        ("Severity", notification.severity.value),
        ("Status", KIND_LABELS[notification.kind]),
        ("Occurred", _iso(notification)),
    ]
    facts += [(name, value) for name, value in notification.labels.items()]
    return facts


def generic_payload(notification: Notification) -> dict[str, Any]:
    """Return ninefold's generic webhook document for ``notification``."""
    links = notification.links
    return {
        "version": GENERIC_VERSION,
        "idempotency_key": notification.idempotency_key,
        "kind": notification.kind.value,
        "title": notification.title,
        "summary": notification.summary,
        "severity": notification.severity.value,
        "service": notification.service,
        "alert_id": notification.alert_id,
        "labels": dict(notification.labels),
        "annotations": dict(notification.annotations),
        "links": {"ack": links.ack, "resolve": links.resolve, "view": links.view},
        "occurred_at": _iso(notification),
    }


def _slack_escape(text: str) -> str:
    # Slack's mrkdwn treats these three as control characters; everything else is literal.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(notification: Notification) -> dict[str, Any]:
    """Return a Slack incoming-webhook body: fallback ``text``, Block Kit ``blocks``, a colour bar."""
    n = notification
    context = (
        f"*{_slack_escape(n.service)}* · {n.severity.value} · "
        f"{KIND_LABELS[n.kind].lower()} · <!date^{int(n.occurred_at.timestamp())}"
        f"^{{date_short_pretty}} {{time}}|{_iso(n)}>"
    )
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": _truncate(f"{KIND_LABELS[n.kind]}: {n.title}", _SLACK_HEADER_MAX),
                "emoji": True,
            },
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
    ]
    if n.summary:
        blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": _truncate(_slack_escape(n.summary), _SLACK_TEXT_MAX),
                },
            }
        )
    buttons: list[dict[str, Any]] = []
    for label, url in _actions(n):
        if len(url) > _SLACK_URL_MAX:
            continue
        button: dict[str, Any] = {
            "type": "button",
            "text": {"type": "plain_text", "text": label},
            "url": url,
            "action_id": f"ninefold_{label.lower()}",
        }
        if label == "Acknowledge":
            button["style"] = "primary"
        buttons.append(button)
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    payload: dict[str, Any] = {"text": _slack_escape(n.headline), "blocks": blocks}
    label_fields = [
        {
            "type": "mrkdwn",
            "text": _truncate(f"*{_slack_escape(k)}*\n{_slack_escape(v)}", _SLACK_FIELD_MAX),
        }
        for k, v in n.labels.items()
    ][:_SLACK_MAX_FIELDS]
    attachment: dict[str, Any] = {"color": colour(n), "fallback": _slack_escape(n.headline)}
    if label_fields:
        attachment["blocks"] = [{"type": "section", "fields": label_fields}]
    else:
        attachment["blocks"] = [
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "no labels"}]}
        ]
    payload["attachments"] = [attachment]
    return payload


def teams_payload(notification: Notification) -> dict[str, Any]:
    """Return a Teams webhook body: a ``message`` carrying one Adaptive Card attachment."""
    n = notification
    title_colour = (
        "good"
        if n.kind is NotificationKind.RESOLVED
        else "default"
        if n.kind is NotificationKind.ACKNOWLEDGED
        else _CARD_COLOURS[n.severity]
    )
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": f"{KIND_LABELS[n.kind]}: {n.title}",
            "size": "Large",
            "weight": "Bolder",
            "color": title_colour,
            "wrap": True,
            "style": "heading",
        },
    ]
    if n.summary:
        body.append({"type": "TextBlock", "text": n.summary, "wrap": True})
    body.append(
        {
            "type": "FactSet",
            "facts": [{"title": name, "value": value} for name, value in _facts(n)],
        }
    )
    card: dict[str, Any] = {
        "$schema": ADAPTIVE_CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": ADAPTIVE_CARD_VERSION,
        "fallbackText": n.headline,
        "body": body,
        "msteams": {"width": "Full"},
    }
    actions = [{"type": "Action.OpenUrl", "title": label, "url": url} for label, url in _actions(n)]
    if actions:
        card["actions"] = actions
    return {
        "type": "message",
        "attachments": [
            {"contentType": ADAPTIVE_CARD_CONTENT_TYPE, "contentUrl": None, "content": card}
        ],
    }


def mattermost_payload(
    notification: Notification, *, username: str | None = None, icon_url: str | None = None
) -> dict[str, Any]:
    """Return a Mattermost incoming-webhook body: ``text`` with links and a coloured attachment."""
    n = notification
    links = " · ".join(f"[{label}]({url})" for label, url in _actions(n))
    text = f"**{n.headline}**" + (f"\n{links}" if links else "")
    attachment: dict[str, Any] = {
        "fallback": n.headline,
        "color": colour(n),
        "title": n.title,
        "text": n.summary,
        "fields": [{"short": True, "title": name, "value": value} for name, value in _facts(n)],
        "footer": "ninefold",
    }
    if n.links.view:
        attachment["title_link"] = n.links.view
    payload: dict[str, Any] = {"text": text, "attachments": [attachment]}
    if username:
        payload["username"] = username
    if icon_url:
        payload["icon_url"] = icon_url
    return payload


def webhook_payload(
    notification: Notification,
    fmt: PayloadFormat = PayloadFormat.GENERIC,
    *,
    username: str | None = None,
    icon_url: str | None = None,
) -> dict[str, Any]:
    """Return the JSON document for ``fmt`` (``username``/``icon_url`` apply to Mattermost only)."""
    fmt = PayloadFormat(fmt)
    if fmt is PayloadFormat.SLACK:
        return slack_payload(notification)
    if fmt is PayloadFormat.TEAMS:
        return teams_payload(notification)
    if fmt is PayloadFormat.MATTERMOST:
        return mattermost_payload(notification, username=username, icon_url=icon_url)
    return generic_payload(notification)


def encode_json(document: Mapping[str, Any]) -> bytes:
    """Serialise a payload compactly as UTF-8; the exact bytes are what a signature covers."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def _one_line(text: str) -> str:
    # Header values must not contain line breaks (header injection); fold them into spaces.
    return " ".join(text.split())


def email_subject(notification: Notification, *, prefix: str = "[ninefold]") -> str:
    """Return the subject line, e.g. ``[ninefold] [CRITICAL] Page: checkout: budget burning``."""
    n = notification
    core = f"[{n.severity.value.upper()}] {KIND_LABELS[n.kind]}: {n.service}: {n.title}"
    return _one_line(f"{prefix} {core}" if prefix else core)


def email_text(notification: Notification) -> str:
    """Return the plain-text body."""
    n = notification
    lines = [n.headline, ""]
    if n.summary:
        lines += [n.summary, ""]
    lines += [f"{name}: {value}" for name, value in _facts(n)]
    if n.annotations:
        lines.append("")
        lines += [f"{name}: {value}" for name, value in n.annotations.items()]
    actions = _actions(n)
    if actions:
        lines.append("")
        lines += [f"{label}: {url}" for label, url in actions]
    if n.kind is not NotificationKind.RESOLVED and (n.links.ack or n.links.resolve):
        lines += ["", "Action links are signed and expire; each works only for this alert."]
    lines += ["", f"-- ninefold · {n.idempotency_key}"]
    return "\n".join(lines) + "\n"


def email_html(notification: Notification) -> str:
    """Return the HTML body (inline styles only: mail clients drop style sheets)."""
    n = notification
    esc = html.escape
    rows = "".join(
        f'<tr><th align="left" style="padding:2px 12px 2px 0">{esc(k)}</th><td>{esc(v)}</td></tr>'
        for k, v in [*_facts(n), *n.annotations.items()]
    )
    buttons = " ".join(
        f'<a href="{esc(url, quote=True)}" style="display:inline-block;padding:6px 12px;'
        f'background:{colour(n)};color:#ffffff;text-decoration:none;border-radius:4px">'
        f"{esc(label)}</a>"
        for label, url in _actions(n)
    )
    summary = f"<p>{esc(n.summary)}</p>" if n.summary else ""
    return (
        '<!DOCTYPE html><html><body style="font-family:sans-serif">'
        f'<div style="border-left:6px solid {colour(n)};padding-left:12px">'
        f"<h2>{esc(KIND_LABELS[n.kind])}: {esc(n.title)}</h2>{summary}"
        f"<table>{rows}</table>"
        f'<p>{buttons}</p></div><p style="color:#8b949e;font-size:small">'
        f"ninefold · {esc(n.idempotency_key)}</p></body></html>"
    )


def message_id(notification: Notification, *, domain: str) -> str:
    """Return a Message-ID derived from the idempotency key, so a retried send is the same message."""
    digest = hashlib.sha256(notification.idempotency_key.encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def email_message(
    notification: Notification,
    *,
    sender: str,
    recipients: Sequence[str],
    subject_prefix: str = "[ninefold]",
) -> EmailMessage:
    """Return the email for ``notification``: plain text with an HTML alternative."""
    if isinstance(recipients, str):
        recipients = [recipients]
    if not recipients:
        raise ValueError("an email needs at least one recipient")
    msg = EmailMessage()
    msg["Subject"] = email_subject(notification, prefix=subject_prefix)
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = format_datetime(notification.occurred_at)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "ninefold.invalid"
    msg["Message-ID"] = message_id(notification, domain=domain)
    # RFC 3834: tells vacation responders and ticket systems not to answer a machine.
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Ninefold-Idempotency-Key"] = _one_line(notification.idempotency_key)
    msg["X-Ninefold-Kind"] = notification.kind.value
    msg.set_content(email_text(notification))
    msg.add_alternative(email_html(notification), subtype="html")
    return msg
