"""Payload builders: the shapes Slack, Teams, Mattermost, the generic webhook and email document."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ninefold.integrations.notify.message import (
    Notification,
    NotificationKind,
    NotificationLinks,
    Severity,
)
from ninefold.integrations.notify.payloads import (
    ADAPTIVE_CARD_CONTENT_TYPE,
    RESOLVED_COLOUR,
    SEVERITY_COLOURS,
    PayloadFormat,
    email_message,
    email_subject,
    encode_json,
    generic_payload,
    mattermost_payload,
    slack_payload,
    teams_payload,
    webhook_payload,
)

T0 = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)


def make(**overrides: object) -> Notification:
    """A page for the checkout service with all three links."""
    fields: dict[str, object] = {
        "idempotency_key": "alert-42:page:1",
        "kind": NotificationKind.PAGE,
        "title": "checkout error budget burning 14x",
        "summary": "5xx ratio 2.1% over 1h (objective 99.9%)",
        "severity": Severity.CRITICAL,
        "service": "checkout",
        "occurred_at": T0,
        "alert_id": "42",
        "labels": {"team": "payments", "alertname": "SLOBurn"},
        "annotations": {"runbook": "https://runbooks.example/checkout"},
        "links": NotificationLinks(
            ack="https://nf.example/a/ack-token",
            resolve="https://nf.example/a/resolve-token",
            view="https://nf.example/alerts/42",
        ),
    }
    fields.update(overrides)
    return Notification(**fields)  # type: ignore[arg-type]


# --- the notification itself -------------------------------------------------------------------


def test_notification_normalises_time_enums_and_labels() -> None:
    n = make(
        occurred_at=datetime(2026, 11, 1, 10, 30, tzinfo=timezone(timedelta(hours=1))),
        kind="resolved",
        severity="warning",
        labels={"b": "2", "a": "1"},
    )
    assert n.occurred_at == T0
    assert n.occurred_at.tzinfo is UTC
    assert n.kind is NotificationKind.RESOLVED
    assert n.severity is Severity.WARNING
    assert list(n.labels) == ["a", "b"]
    with pytest.raises(TypeError):
        n.labels["c"] = "3"  # type: ignore[index]
    assert n.headline == "[WARNING] Resolved: checkout error budget burning 14x"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"idempotency_key": " "}, "idempotency key"),
        ({"occurred_at": datetime(2026, 11, 1)}, "naive"),
        ({"kind": "exploded"}, "exploded"),
        ({"severity": "catastrophic"}, "catastrophic"),
    ],
)
def test_notification_refuses_bad_values(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make(**overrides)


def test_pure_modules_import_no_network_or_database_stack() -> None:
    code = (
        "import sys\n"
        "import ninefold.integrations.notify.message, ninefold.integrations.notify.payloads\n"
        "import ninefold.integrations.notify.signing, ninefold.integrations.notify.backoff\n"
        "bad = sorted({m.split('.')[0] for m in sys.modules} & {'httpx', 'sqlalchemy', 'fastapi'})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


# --- generic ---------------------------------------------------------------------------------


def test_generic_payload_carries_every_field() -> None:
    body = generic_payload(make())
    assert body == {
        "version": "1",
        "idempotency_key": "alert-42:page:1",
        "kind": "page",
        "title": "checkout error budget burning 14x",
        "summary": "5xx ratio 2.1% over 1h (objective 99.9%)",
        "severity": "critical",
        "service": "checkout",
        "alert_id": "42",
        "labels": {"alertname": "SLOBurn", "team": "payments"},
        "annotations": {"runbook": "https://runbooks.example/checkout"},
        "links": {
            "ack": "https://nf.example/a/ack-token",
            "resolve": "https://nf.example/a/resolve-token",
            "view": "https://nf.example/alerts/42",
        },
        "occurred_at": "2026-11-01T09:30:00Z",
    }
    assert json.loads(encode_json(body)) == body


def test_encode_json_is_compact_utf8() -> None:
    assert encode_json({"a": "é", "b": [1, 2]}) == '{"a":"é","b":[1,2]}'.encode()


# --- Slack -----------------------------------------------------------------------------------


def test_slack_payload_has_fallback_text_blocks_and_colour() -> None:
    body = slack_payload(make())
    assert body["text"] == "[CRITICAL] Page: checkout error budget burning 14x"
    types = [block["type"] for block in body["blocks"]]
    assert types == ["header", "context", "section", "actions"]
    header = body["blocks"][0]
    assert header["text"]["type"] == "plain_text"
    assert header["text"]["text"] == "Page: checkout error budget burning 14x"
    assert body["blocks"][2]["text"] == {
        "type": "mrkdwn",
        "text": "5xx ratio 2.1% over 1h (objective 99.9%)",
    }
    buttons = body["blocks"][3]["elements"]
    assert [(b["type"], b["text"]["text"], b["url"]) for b in buttons] == [
        ("button", "Acknowledge", "https://nf.example/a/ack-token"),
        ("button", "Resolve", "https://nf.example/a/resolve-token"),
        ("button", "View", "https://nf.example/alerts/42"),
    ]
    assert len({b["action_id"] for b in buttons}) == 3
    (attachment,) = body["attachments"]
    assert attachment["color"] == SEVERITY_COLOURS[Severity.CRITICAL]
    fields = attachment["blocks"][0]["fields"]
    assert fields == [
        {"type": "mrkdwn", "text": "*alertname*\nSLOBurn"},
        {"type": "mrkdwn", "text": "*team*\npayments"},
    ]
    assert "<!date^" in body["blocks"][1]["elements"][0]["text"]


def test_slack_escapes_control_characters_and_respects_limits() -> None:
    n = make(
        title="x" * 400,
        summary="<!channel> & <https://evil|click>",
        labels={f"l{i:02}": "v" for i in range(15)},
    )
    body = slack_payload(n)
    assert len(body["blocks"][0]["text"]["text"]) == 150
    assert body["blocks"][2]["text"]["text"] == "&lt;!channel&gt; &amp; &lt;https://evil|click&gt;"
    assert len(body["attachments"][0]["blocks"][0]["fields"]) == 10


def test_slack_resolved_is_green_and_offers_only_view() -> None:
    body = slack_payload(make(kind=NotificationKind.RESOLVED))
    assert body["attachments"][0]["color"] == RESOLVED_COLOUR
    assert [b["text"]["text"] for b in body["blocks"][-1]["elements"]] == ["View"]


def test_slack_without_links_or_summary_has_no_empty_blocks() -> None:
    body = slack_payload(make(links=NotificationLinks(), summary="", labels={}))
    assert [block["type"] for block in body["blocks"]] == ["header", "context"]
    assert body["attachments"][0]["blocks"][0]["type"] == "context"


# --- Teams -----------------------------------------------------------------------------------


def test_teams_payload_is_a_message_with_one_adaptive_card() -> None:
    body = teams_payload(make())
    assert body["type"] == "message"
    (attachment,) = body["attachments"]
    assert attachment["contentType"] == ADAPTIVE_CARD_CONTENT_TYPE
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["contentUrl"] is None
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert card["version"] == "1.4"
    title, summary, facts = card["body"]
    assert title["type"] == "TextBlock"
    assert title["color"] == "attention"
    assert title["wrap"]
    assert summary["text"] == "5xx ratio 2.1% over 1h (objective 99.9%)"
    assert facts["type"] == "FactSet"
    assert {"title": "Service", "value": "checkout"} in facts["facts"]
    assert {"title": "team", "value": "payments"} in facts["facts"]
    assert [(a["type"], a["title"]) for a in card["actions"]] == [
        ("Action.OpenUrl", "Acknowledge"),
        ("Action.OpenUrl", "Resolve"),
        ("Action.OpenUrl", "View"),
    ]
    assert card["actions"][0]["url"] == "https://nf.example/a/ack-token"


def test_teams_colours_follow_kind_and_severity() -> None:
    def title_colour(n: Notification) -> str:
        return str(teams_payload(n)["attachments"][0]["content"]["body"][0]["color"])

    assert title_colour(make(kind=NotificationKind.RESOLVED)) == "good"
    assert title_colour(make(severity=Severity.WARNING)) == "warning"
    assert title_colour(make(severity=Severity.INFO)) == "accent"
    card = teams_payload(make(links=NotificationLinks()))["attachments"][0]["content"]
    assert "actions" not in card


# --- Mattermost ------------------------------------------------------------------------------


def test_mattermost_payload_text_attachments_and_identity() -> None:
    body = mattermost_payload(make(), username="ninefold", icon_url="https://nf.example/icon.png")
    assert body["username"] == "ninefold"
    assert body["icon_url"] == "https://nf.example/icon.png"
    assert body["text"].startswith("**[CRITICAL] Page: checkout error budget burning 14x**\n")
    assert "[Acknowledge](https://nf.example/a/ack-token)" in body["text"]
    (attachment,) = body["attachments"]
    assert attachment["color"] == SEVERITY_COLOURS[Severity.CRITICAL]
    assert attachment["title"] == "checkout error budget burning 14x"
    assert attachment["title_link"] == "https://nf.example/alerts/42"
    assert attachment["fallback"] == body["text"].split("\n")[0].strip("*")
    assert {"short": True, "title": "Service", "value": "checkout"} in attachment["fields"]


def test_mattermost_identity_is_optional() -> None:
    body = mattermost_payload(make())
    assert "username" not in body
    assert "icon_url" not in body


@pytest.mark.parametrize(
    ("fmt", "key"),
    [
        (PayloadFormat.GENERIC, "idempotency_key"),
        (PayloadFormat.SLACK, "blocks"),
        (PayloadFormat.TEAMS, "attachments"),
        ("mattermost", "text"),
    ],
)
def test_webhook_payload_dispatches_by_format(fmt: PayloadFormat, key: str) -> None:
    assert key in webhook_payload(make(), fmt)


# --- email -----------------------------------------------------------------------------------


def _parts(msg: EmailMessage) -> tuple[str, str]:
    parsed = message_from_bytes(msg.as_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    text = parsed.get_body(("plain",))
    page = parsed.get_body(("html",))
    assert text is not None
    assert page is not None
    return text.get_content(), page.get_content()


def test_email_message_has_subject_text_and_html_alternative() -> None:
    msg = email_message(make(), sender="ninefold <pager@nf.example>", recipients=["a@x.example"])
    assert (
        msg["Subject"] == "[ninefold] [CRITICAL] Page: checkout: checkout error budget burning 14x"
    )
    assert msg["From"] == "ninefold <pager@nf.example>"
    assert msg["To"] == "a@x.example"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Message-ID"].endswith("@nf.example>")
    assert msg.get_content_type() == "multipart/alternative"
    text, page = _parts(msg)
    assert "5xx ratio 2.1% over 1h" in text
    assert "Acknowledge: https://nf.example/a/ack-token" in text
    assert "runbook: https://runbooks.example/checkout" in text
    assert '<a href="https://nf.example/a/resolve-token"' in page
    assert "<h2>Page: checkout error budget burning 14x</h2>" in page


def test_email_message_id_is_stable_for_a_retry() -> None:
    first = email_message(make(), sender="p@nf.example", recipients=["a@x.example"])
    again = email_message(make(), sender="p@nf.example", recipients=["a@x.example"])
    other = email_message(
        make(idempotency_key="alert-42:page:2"), sender="p@nf.example", recipients=["a@x.example"]
    )
    assert first["Message-ID"] == again["Message-ID"] != other["Message-ID"]


def test_email_escapes_html_and_folds_header_injection() -> None:
    n = make(title="<script>x</script>\r\nBcc: victim@evil.example", summary="a & b")
    msg = email_message(n, sender="p@nf.example", recipients="a@x.example")
    assert "\n" not in msg["Subject"]
    assert msg["Bcc"] is None
    _, page = _parts(msg)
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert "a &amp; b" in page


def test_email_needs_a_recipient() -> None:
    with pytest.raises(ValueError, match="recipient"):
        email_message(make(), sender="p@nf.example", recipients=[])


def test_email_subject_prefix_can_be_dropped() -> None:
    assert email_subject(make(kind=NotificationKind.TEST), prefix="").startswith("[CRITICAL] Test:")


# --- any text at all -------------------------------------------------------------------------

texts = st.text(max_size=300)


@settings(max_examples=60, deadline=None)
@given(
    title=texts,
    summary=texts,
    service=st.text(min_size=1, max_size=50),
    labels=st.dictionaries(st.text(min_size=1, max_size=30), texts, max_size=12),
    kind=st.sampled_from(NotificationKind),
    severity=st.sampled_from(Severity),
)
def test_every_format_builds_for_any_text(
    title: str,
    summary: str,
    service: str,
    labels: dict[str, str],
    kind: NotificationKind,
    severity: Severity,
) -> None:
    n = make(
        title=title, summary=summary, service=service, labels=labels, kind=kind, severity=severity
    )
    for fmt in PayloadFormat:
        document = webhook_payload(n, fmt)
        assert json.loads(encode_json(document)) == document
    slack = slack_payload(n)
    assert len(slack["blocks"][0]["text"]["text"]) <= 150
    msg = email_message(n, sender="p@nf.example", recipients=["a@x.example"])
    assert "\n" not in msg["Subject"]
    message_from_bytes(msg.as_bytes(), policy=policy.default)
